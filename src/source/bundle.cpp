#include "source/bundle.hpp"

#include "core/error.hpp"
#include "util/digest.hpp"
#include "util/json.hpp"

#include <algorithm>
#include <ctime>
#include <map>
#include <set>
#include <utility>

#ifndef GEOBLOCK_VERSION
#define GEOBLOCK_VERSION "unknown"
#endif

namespace geoblock::source {

namespace {

constexpr const char* k_format = "geoblock-bundle";
// The manifest is small (a few hundred bytes per zone); a huge one is not ours.
constexpr std::uint64_t k_max_manifest = std::uint64_t{16} << 20;

std::string
member_name(const std::string& country, net::Family family)
{
  return std::string("zones/") + net::family_key(family) + "/" + country + ".zone";
}

std::string
zone_label(const std::string& country, net::Family family)
{
  return country + " " + net::family_name(family);
}

bool
is_code(std::string_view s)
{
  return s.size() == 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z';
}

bool
is_hex64(std::string_view s)
{
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string
utc(std::int64_t t)
{
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Validates a zone body of one family with the guard; returns its stats.
net::ZoneStats
check_zone(const std::string& body, const std::string& source, net::Family family,
           const BundleOptions& options, net::NetList& out)
{
  net::ZoneOptions zone = options.zone;
  zone.families = family == net::Family::V4 ? net::Families::V4 : net::Families::V6;
  return net::parse_zone(body, source, zone, out);
}

} // namespace

std::vector<BundleEntry>
parse_bundle_manifest(const std::string& text, const std::string& path)
{
  const std::string name = path + ":" + k_bundle_manifest;
  const util::Json doc = util::Json::parse(text, name);
  if (!doc.is_object() || doc.get("format").as_string() != k_format) {
    throw Error(name + ": not a geoblock bundle manifest (format is not \"" + k_format + "\")");
  }
  const std::int64_t version = doc.get("version").as_int(-1);
  if (version < 1) {
    throw Error(name + ": missing or invalid format version");
  }
  if (version > k_bundle_version) {
    throw Error(name + ": format version " + std::to_string(version) +
                " is newer than this geoblock reads (" + std::to_string(k_bundle_version) +
                "); upgrade geoblock");
  }
  if (!doc.get("zones").is_array()) {
    throw Error(name + ": no \"zones\" list");
  }
  std::vector<BundleEntry> entries;
  std::set<std::pair<std::string, net::Family>> seen;
  std::size_t k = 0;
  for (const util::Json& z : doc.get("zones").items()) {
    const std::string where = name + ": zone " + std::to_string(k++);
    BundleEntry e;
    e.country = z.get("country").as_string();
    const std::string family = z.get("family").as_string();
    if (!z.is_object() || !is_code(e.country) || (family != "v4" && family != "v6")) {
      throw Error(where + ": needs a lower-case \"country\" code and \"family\" v4 or v6");
    }
    e.family = family == "v4" ? net::Family::V4 : net::Family::V6;
    if (!seen.emplace(e.country, e.family).second) {
      throw Error(name + ": " + zone_label(e.country, e.family) + " is listed twice");
    }
    e.absent = z.get("absent").as_bool(false);
    e.fetched_at = z.get("fetched_at").as_int(0);
    e.last_modified = z.get("last_modified").as_int(0);
    if (!e.absent) {
      e.file = z.get("file").as_string();
      e.sha256 = z.get("sha256").as_string();
      const std::int64_t bytes = z.get("bytes").as_int(-1);
      const std::int64_t networks = z.get("networks").as_int(-1);
      if (e.file.empty() || !is_safe_member_name(e.file) || !is_hex64(e.sha256) || bytes < 0 ||
          networks < 0) {
        throw Error(where + " (" + zone_label(e.country, e.family) +
                    "): needs a safe \"file\" name, \"bytes\", \"networks\" and a hex \"sha256\"");
      }
      e.bytes = static_cast<std::uint64_t>(bytes);
      e.networks = static_cast<std::size_t>(networks);
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

void
write_bundle(const std::string& path, const std::vector<BundleZone>& zones, std::int64_t created,
             const BundleOptions& options)
{
  util::Json list = util::Json::array();
  std::set<std::pair<std::string, net::Family>> seen;
  ZipWriter zip(path);
  for (const BundleZone& z : zones) {
    if (!is_code(z.country)) {
      throw Error(path + ": invalid country code '" + z.country + "'");
    }
    if (!seen.emplace(z.country, z.family).second) {
      throw Error(path + ": " + zone_label(z.country, z.family) + " given twice");
    }
    util::Json entry = util::Json::object();
    entry.set("country", z.country);
    entry.set("family", net::family_key(z.family));
    if (z.absent) {
      entry.set("absent", true);
    } else {
      const std::string file = member_name(z.country, z.family);
      net::NetList nets;
      const net::ZoneStats stats = check_zone(z.body, zone_label(z.country, z.family) + " (" + z.source + ")",
                                              z.family, options, nets);
      entry.set("file", file);
      entry.set("bytes", static_cast<std::uint64_t>(z.body.size()));
      entry.set("lines", stats.lines);
      entry.set("networks", stats.networks);
      entry.set("sha256", util::sha256_hex(z.body));
      zip.add(file, z.body, z.last_modified > 0 ? z.last_modified : created);
    }
    entry.set("source", z.source);
    entry.set("fetched_at", z.fetched_at);
    entry.set("last_modified", z.last_modified);
    list.push(std::move(entry));
  }
  util::Json manifest = util::Json::object();
  manifest.set("format", k_format);
  manifest.set("version", k_bundle_version);
  manifest.set("created", created);
  manifest.set("created_utc", utc(created));
  manifest.set("generator", std::string("geoblock ") + GEOBLOCK_VERSION);
  manifest.set("zones", std::move(list));
  zip.add(k_bundle_manifest, manifest.dump(2) + "\n", created);
  zip.commit();
}

ExportSummary
export_bundle(const fetch::ZoneCache& cache, const std::vector<std::string>& countries,
              net::Families families, const std::string& path, std::int64_t created,
              const BundleOptions& options)
{
  std::vector<fetch::ZoneMeta> metas;
  if (countries.empty()) {
    for (fetch::ZoneMeta& m : cache.list()) {
      if (net::includes(families, m.family)) {
        metas.push_back(std::move(m));
      }
    }
    if (metas.empty()) {
      throw Error(cache.dir() + ": no cached zones to export; run 'geoblock update' first");
    }
  } else {
    for (const std::string& country : countries) {
      for (const net::Family family : {net::Family::V4, net::Family::V6}) {
        if (!net::includes(families, family)) {
          continue;
        }
        auto meta = cache.read_meta(country, family);
        if (!meta) {
          throw Error(zone_label(country, family) + ": not in the cache " + cache.dir() +
                      "; run 'geoblock update' first");
        }
        metas.push_back(std::move(*meta));
      }
    }
  }

  ExportSummary summary;
  std::vector<BundleZone> zones;
  for (const fetch::ZoneMeta& m : metas) {
    BundleZone z;
    z.country = m.country;
    z.family = m.family;
    z.absent = m.absent;
    z.source = m.url;
    z.fetched_at = m.fetched_at;
    z.last_modified = m.last_modified;
    if (!m.absent) {
      std::string problem;
      // A body whose hash no longer matches its meta (a crash between the
      // two writes) is still validated data: write_bundle checks it again
      // and hashes what it writes.
      auto body = cache.read_body(m, nullptr, &problem);
      if (!body) {
        throw Error(zone_label(m.country, m.family) + ": cached zone unreadable: " + problem);
      }
      z.body = std::move(*body);
      summary.bytes += z.body.size();
      ++summary.zones;
    } else {
      ++summary.absent;
    }
    zones.push_back(std::move(z));
  }
  write_bundle(path, zones, created, options);
  return summary;
}

std::vector<net::ZoneResult>
read_bundle(const std::string& path, const std::vector<std::string>& countries, net::Families families,
            const BundleOptions& options)
{
  const ZipReader zip(path);
  const ZipEntry* manifest_entry = zip.find(k_bundle_manifest);
  if (!manifest_entry) {
    throw Error(path + ": no " + k_bundle_manifest + " (not a geoblock bundle)");
  }
  ZipLimits manifest_limits = options.limits;
  manifest_limits.max_member_bytes = k_max_manifest;
  const std::vector<BundleEntry> entries =
      parse_bundle_manifest(zip.read(*manifest_entry, manifest_limits), path);

  std::uint64_t total = 0;
  for (const ZipEntry& m : zip.entries()) {
    total += std::min(m.size, options.limits.max_total_bytes + 1);
  }
  if (total > options.limits.max_total_bytes) {
    throw Error(path + ": bundle too large: its members declare more than " +
                std::to_string(options.limits.max_total_bytes) + " bytes in total");
  }

  // Members and manifest must agree exactly: nothing missing, nothing extra.
  std::map<std::string, const BundleEntry*, std::less<>> by_file;
  for (const BundleEntry& e : entries) {
    if (!e.absent && !by_file.emplace(e.file, &e).second) {
      throw Error(path + ": manifest lists member '" + e.file + "' twice");
    }
  }
  for (const ZipEntry& m : zip.entries()) {
    if (!m.directory() && m.name != k_bundle_manifest && !by_file.count(m.name)) {
      throw Error(path + ":" + m.name + ": member not listed in the manifest");
    }
  }

  // Which zones to return, in order.
  std::vector<std::pair<std::string, net::Family>> wanted;
  auto want = [&](const std::string& country) {
    for (const net::Family family : {net::Family::V4, net::Family::V6}) {
      if (net::includes(families, family) &&
          std::find(wanted.begin(), wanted.end(), std::make_pair(country, family)) == wanted.end()) {
        wanted.emplace_back(country, family);
      }
    }
  };
  if (countries.empty()) {
    // Exactly the zones the bundle lists, by country, IPv4 first.
    for (const BundleEntry& e : entries) {
      if (net::includes(families, e.family)) {
        wanted.emplace_back(e.country, e.family);
      }
    }
    std::sort(wanted.begin(), wanted.end());
  } else {
    for (const std::string& c : countries) {
      want(c);
    }
  }

  // Every listed member is checked, wanted or not: a bundle is one unit,
  // and a partly altered one is not to be trusted at all.
  std::map<const BundleEntry*, std::string> bodies;
  for (const BundleEntry& e : entries) {
    if (e.absent) {
      continue;
    }
    const ZipEntry* m = zip.find(e.file);
    const std::string where = path + ":" + e.file;
    if (!m) {
      throw Error(where + ": member missing (" + zone_label(e.country, e.family) + " is in the manifest)");
    }
    if (m->size != e.bytes) {
      throw Error(where + ": altered member: " + std::to_string(m->size) + " bytes, the manifest says " +
                  std::to_string(e.bytes));
    }
    std::string body = zip.read(*m, options.limits);
    if (util::sha256_hex(body) != e.sha256) {
      throw Error(where + ": altered member: SHA-256 does not match the manifest");
    }
    const bool is_wanted =
        std::find(wanted.begin(), wanted.end(), std::make_pair(e.country, e.family)) != wanted.end();
    if (is_wanted) {
      bodies.emplace(&e, std::move(body));
    }
  }

  std::vector<net::ZoneResult> results;
  for (const auto& zone : wanted) {
    // Named, not structured bindings: clang before 16 (the fuzz build)
    // cannot capture those in the lambda below.
    const std::string& country = zone.first;
    const net::Family family = zone.second;
    net::ZoneResult r;
    r.country = country;
    r.family = family;
    const auto it = std::find_if(entries.begin(), entries.end(), [&](const BundleEntry& e) {
      return e.country == country && e.family == family;
    });
    if (it == entries.end()) {
      r.origin = net::Origin::Failed;
      r.location = path;
      r.error = zone_label(country, family) + " is not in the bundle " + path;
    } else if (it->absent) {
      r.origin = net::Origin::Absent;
      r.location = path;
      r.error = zone_label(country, family) + " is absent upstream (bundle " + path + ")";
      r.fetched_at = it->fetched_at;
      r.last_modified = it->last_modified;
    } else {
      const std::string& body = bodies.at(&*it);
      r.location = path + ":" + it->file;
      const net::ZoneStats stats = check_zone(body, r.location, family, options, r.nets);
      if (stats.networks != it->networks) {
        throw Error(r.location + ": " + std::to_string(stats.networks) + " networks, the manifest says " +
                    std::to_string(it->networks));
      }
      r.origin = net::Origin::Local;
      r.lines = stats.lines;
      r.bytes = body.size();
      r.sha256 = it->sha256;
      r.fetched_at = it->fetched_at;
      r.last_modified = it->last_modified;
    }
    results.push_back(std::move(r));
  }
  return results;
}

} // namespace geoblock::source
