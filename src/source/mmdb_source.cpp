#include "source/mmdb_source.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "fetch/shrink_guard.hpp"
#include "fetch/zone_cache.hpp"
#include "source/asn_source.hpp"
#include "source/last_good_copy.hpp"
#include "util/atomic_file.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <unordered_map>

namespace geoblock::source {

namespace {

const MmdbPath k_iso_code = {"country", "iso_code"};
const MmdbPath k_registered = {"registered_country", "iso_code"};
const MmdbPath k_flat = {"country_code"};
const MmdbPath k_country = {"country"}; // IPinfo's older free databases: the code

constexpr int k_none = -1; // a record that names no country

std::int64_t
file_mtime(const std::string& path)
{
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_mtime) : 0;
}

// Metadata text for a message: printable ASCII, at most 64 characters.
std::string
printable(const std::string& s)
{
  std::string out;
  for (const char c : s.substr(0, 64)) {
    out += c >= 0x20 && c < 0x7f ? c : '?';
  }
  return out;
}

std::string
utc_date(std::int64_t t)
{
  char buf[32] = "?";
  const std::time_t tt = t;
  std::tm tm{};
  if (::gmtime_r(&tt, &tm)) {
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  }
  return buf;
}

// The two-letter code of a value, lower case; nothing when it is missing
// or empty. Anything else than two ASCII letters is corrupt data.
std::optional<std::string>
code_of(const MmdbFile& db, const MmdbValue& v, const MmdbPath& field)
{
  if (v.kind == MmdbValue::Kind::Missing || (v.kind == MmdbValue::Kind::Text && v.text.empty())) {
    return std::nullopt;
  }
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (v.kind != MmdbValue::Kind::Text || v.text.size() != 2 || !alpha(v.text[0]) || !alpha(v.text[1])) {
    std::string shown;
    for (const char c : v.text.substr(0, 16)) {
      shown += c >= 0x20 && c < 0x7f ? c : '?';
    }
    throw Error(db.path() + ": " + mmdb_path_text(field) + " '" + shown +
                "' is not a two-letter country code");
  }
  std::string code = v.text;
  for (char& c : code) {
    c = static_cast<char>(c | 0x20);
  }
  return code;
}

// The zones max-shrink compares.
struct ShrinkZones {
  std::vector<std::string> countries; // empty: every country of the last good copy
  net::Families families = net::Families::Both;
};

net::NetList
nets_of(const MmdbCountries& data, const std::string& code)
{
  for (const MmdbCountries::Country& c : data.countries) {
    if (c.code == code) {
      return c.nets;
    }
  }
  return {};
}

// max-shrink of one database's new data against its last good copy
// `previous` ("": none), before the new data replaces it: "" when no zone
// shrank beyond max-shrink (or --force took it, with a warning), else the
// refusals joined with "; ", each also in `refused` by "cc v4".
std::string
guard_shrink(const std::string& previous, const MmdbCountries& data, const std::string& name,
             const ShrinkZones& zones, const MmdbOptions& options,
             std::map<std::string, std::string>& refused)
{
  if (previous.empty()) {
    return {};
  }
  MmdbCountries before;
  try {
    before = read_mmdb_countries(previous, options, name + " (last good copy)");
  } catch (const Error&) {
    return {}; // an unusable copy is no last good one
  }
  std::vector<std::string> codes = zones.countries;
  if (codes.empty()) {
    for (const MmdbCountries::Country& c : before.countries) {
      codes.push_back(c.code);
    }
  }
  const fetch::ShrinkGuard& guard = options.shrink;
  const std::string against = fetch::last_good_copy_of(file_mtime(previous));
  std::string out;
  for (const net::Family family : {net::Family::V4, net::Family::V6}) {
    if (!net::includes(zones.families, family)) {
      continue;
    }
    for (const std::string& code : codes) {
      const fetch::Shrink s = fetch::measure_shrink(nets_of(before, code), nets_of(data, code), family);
      if (!fetch::beyond(s, guard.max_shrink)) {
        continue;
      }
      const std::string what = fetch::describe_shrink(code + " " + net::family_name(family) + " in " + name,
                                                      s, guard.max_shrink, against);
      if (guard.force) {
        log::warning(what + ": accepted (--force); it replaces the last good copy");
        continue;
      }
      log::warning(what + ": refused; the last good copy stays (--force accepts it)");
      std::string& line = refused[code + " " + net::family_key(family)];
      line += (line.empty() ? "" : "; ") + what;
      out += (out.empty() ? "" : "; ") + what;
    }
  }
  return out;
}

} // namespace

std::optional<MmdbLayout>
mmdb_layout(const std::string& database_type)
{
  std::string t;
  for (const char c : database_type) {
    t += static_cast<char>(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
  }
  // The words of the type: "geolite2-asn" -> {"geolite2", "asn"}.
  std::vector<std::string> words(1);
  for (const char c : t) {
    if (c == '-' || c == ' ' || c == '_' || c == '.') {
      if (!words.back().empty()) {
        words.emplace_back();
      }
    } else {
      words.back() += c;
    }
  }
  const auto has_word = [&](const char* w) {
    return std::find(words.begin(), words.end(), w) != words.end();
  };
  const auto starts = [&](const char* prefix) { return t.rfind(prefix, 0) == 0; };
  if (starts("ipinfo")) {
    // IPinfo Lite: country_code (country is the name); the older free
    // country and country_asn databases: country is the code.
    return MmdbLayout{"IPinfo's layout", {k_flat, k_country}, false};
  }
  if (starts("geolite2-") || starts("geoip2-")) {
    if (has_word("asn") || t == "geoip2-isp") {
      return MmdbLayout{"MaxMind's AS database", {}, true};
    }
    return MmdbLayout{"MaxMind's layout", {k_iso_code}, false};
  }
  if (starts("dbip-")) {
    if (has_word("asn") || has_word("isp")) {
      return MmdbLayout{"DB-IP's AS database", {}, true};
    }
    return MmdbLayout{"DB-IP's layout (MaxMind's)", {k_iso_code}, false};
  }
  // ip-location-db's: "country ipv4", "country ipv6", "country ipvAll";
  // its AS databases "asn ipv4", ...
  if (words.size() == 2 && (words[1] == "ipv4" || words[1] == "ipv6" || words[1] == "ipvall")) {
    if (words[0] == "country") {
      return MmdbLayout{"ip-location-db's layout", {k_flat}, false};
    }
    if (words[0] == "asn") {
      return MmdbLayout{"ip-location-db's AS database", {}, true};
    }
  }
  return std::nullopt;
}

MmdbCountries
read_mmdb_countries(const std::string& path, const MmdbOptions& options, const std::string& name)
{
  auto opened = std::make_shared<const MmdbFile>(path, name);
  const MmdbFile& db = *opened;
  MmdbCountries out;
  out.database = opened;
  out.metadata = db.metadata();
  const std::string type =
      "database_type " +
      (out.metadata.database_type.empty() ? std::string("(none)") : printable(out.metadata.database_type));

  // The fields the metadata names, and every field a record may decide
  // for (those first, then the common ones).
  const std::optional<MmdbLayout> layout =
      options.field ? std::nullopt : mmdb_layout(out.metadata.database_type);
  const std::vector<MmdbPath> candidates =
      layout ? layout->fields : std::vector<MmdbPath>{k_iso_code, k_flat};
  std::vector<MmdbPath> known = candidates;
  for (const MmdbPath& p : {k_iso_code, k_flat}) {
    if (std::find(known.begin(), known.end(), p) == known.end()) {
      known.push_back(p);
    }
  }
  const auto names = [](const std::vector<MmdbPath>& fields) {
    std::string text;
    for (const MmdbPath& p : fields) {
      text += (text.empty() ? "" : " or ") + mmdb_path_text(p);
    }
    return text;
  };

  std::unordered_map<std::string, int> slot_of_code;
  std::unordered_map<std::uint32_t, int> slot_of_record; // many networks share a record
  std::optional<MmdbPath> field = options.field;
  if (field) {
    out.why = "mmdb-field";
  }
  const auto present = [&](std::uint32_t record, const MmdbPath& p) {
    return db.value(record, p).kind != MmdbValue::Kind::Missing ||
           (p == k_iso_code && options.registered_fallback &&
            db.value(record, k_registered).kind != MmdbValue::Kind::Missing);
  };
  const auto slot_of = [&](std::uint32_t record) {
    if (const auto it = slot_of_record.find(record); it != slot_of_record.end()) {
      return it->second;
    }
    if (!field) {
      // Detection: the first record that has one of the known fields
      // decides for the whole database, the metadata's fields first.
      for (const MmdbPath& p : known) {
        if (!present(record, p)) {
          continue;
        }
        field = p;
        const bool named = std::find(candidates.begin(), candidates.end(), p) != candidates.end();
        if (!layout) {
          out.why = "found in the records; " + type + " is not one geoblock knows";
        } else if (named) {
          out.why = type + ": " + layout->name;
        } else {
          out.why =
              type + " is " + layout->name +
              (candidates.empty() ? std::string(", with no country field") : " (" + names(candidates) + ")") +
              ", but its records have " + mmdb_path_text(p);
        }
        break;
      }
    }
    std::optional<std::string> code;
    if (field) {
      code = code_of(db, db.value(record, *field), *field);
      if (!code && options.registered_fallback && *field == k_iso_code) {
        code = code_of(db, db.value(record, k_registered), k_registered);
      }
    }
    int slot = k_none;
    if (code) {
      const auto [it, added] = slot_of_code.try_emplace(*code, static_cast<int>(out.countries.size()));
      if (added) {
        out.countries.push_back({*code, {}});
      }
      slot = it->second;
    }
    // Only a decided field's answer is final: records seen before the
    // field is known are looked at again.
    if (field) {
      slot_of_record.emplace(record, slot);
    }
    return slot;
  };

  db.walk([&](const MmdbNetwork& n) {
    const int slot = slot_of(n.record);
    if (slot == k_none) {
      ++out.without_country;
      return;
    }
    const int len = n.family == net::Family::V4 ? n.v4.len : n.v6.len;
    if (std::string guard = net::prefix_problem(options.zone, n.family, len); !guard.empty()) {
      throw Error(db.path() + ": " +
                  (n.family == net::Family::V4 ? net::to_string(n.v4) : net::to_string(n.v6)) + ": " + guard);
    }
    net::NetList& nets = out.countries[static_cast<std::size_t>(slot)].nets;
    if (n.family == net::Family::V4) {
      nets.v4.push_back(n.v4);
    } else {
      nets.v6.push_back(n.v6);
    }
  });
  if (!field && layout && layout->as_only) {
    throw Error(db.path() + ": " + type + " is " + layout->name +
                ": no record names a country (configure it as asn-file, not mmdb-file)");
  }
  out.path = field;
  out.field = field ? mmdb_path_text(*field) : std::string("none found");
  if (!field) {
    out.why = "no record has " + names(known) + (layout ? "; " + type + ": " + layout->name : "");
  }
  if (options.registered_fallback && field == k_iso_code) {
    out.field += " (else registered_country.iso_code)";
  }
  return out;
}

std::vector<std::string>
MmdbSource::cache_folders() const
{
  if (m_options.cache_dir.empty()) {
    return {};
  }
  return {"mmdb"};
}

std::string
MmdbSource::cached_copy(const std::string& cache_dir, const std::string& file)
{
  const auto slash = file.rfind('/');
  const std::string base = slash == std::string::npos ? file : file.substr(slash + 1);
  return cache_dir + "/mmdb/" + base + "-" + util::sha256_hex(file).substr(0, 12) + ".mmdb";
}

std::optional<net::CacheReport>
MmdbSource::cache(std::int64_t now) const
{
  if (m_options.cache_dir.empty()) {
    return std::nullopt;
  }
  net::CacheReport report{m_options.cache_dir + "/mmdb", m_options.stale_after_days, {}};
  std::vector<std::string> copies;
  for (const std::string& f : m_options.files) {
    copies.push_back(cached_copy(m_options.cache_dir, f));
  }
  for (const std::string& url : m_options.urls) {
    RemoteFileOptions ro;
    ro.cache_dir = m_options.cache_dir;
    ro.sub = "mmdb";
    copies.push_back(remote_copy_path(ro, url));
  }
  for (const std::string& copy : copies) {
    if (std::optional<net::CachedZone> z = copy_status(copy, now, m_options.stale_after_days)) {
      report.zones.push_back(std::move(*z));
    }
  }
  return report;
}

std::string
MmdbSource::describe() const
{
  std::string out = "mmdb";
  for (const std::string& f : m_options.files) {
    out += " " + f;
  }
  return out;
}

std::vector<net::ZoneResult>
MmdbSource::load(const std::vector<std::string>& countries, net::Families families, Mode mode)
{
  const std::int64_t now =
      m_options.clock ? m_options.clock() : static_cast<std::int64_t>(std::time(nullptr));
  // The union of every database, per country.
  std::unordered_map<std::string, net::NetList> nets;
  std::string location;
  std::string stale_error;  // a database served from its last good copy
  std::string failed_error; // a database with no usable data at all
  // max-shrink compares the configured zones (or those asked for) between
  // each database and its last good copy; the refused ones, by "cc v4".
  const ShrinkZones zones = m_options.countries.empty()
                                ? ShrinkZones{countries, families}
                                : ShrinkZones{m_options.countries, m_options.families};
  std::map<std::string, std::string> refused;
  m_used.clear();
  std::int64_t built = 0;
  std::int64_t fetched_at = 0;
  // mmdb-url: the downloads first (each validated whole before it
  // replaces its last good copy), then read like the files.
  std::vector<RemoteFile> remote;
  if (!m_options.urls.empty()) {
    RemoteFileOptions ro = m_options.download;
    ro.cache_dir = m_options.cache_dir;
    ro.sub = "mmdb";
    ro.offline = mode == Mode::CacheOnly;
    if (!ro.clock) {
      ro.clock = m_options.clock;
    }
    remote = refresh_remote_files(
        m_options.urls, ro,
        [&](const std::string& path, const std::string& url, const std::string& previous) {
          const MmdbCountries data = read_mmdb_countries(path, m_options, url);
          if (const std::string why = guard_shrink(previous, data, url, zones, m_options, refused);
              !why.empty()) {
            throw RefusedDownload(why);
          }
        });
  }
  bool downloaded = false;
  for (const RemoteFile& r : remote) {
    location += (location.empty() ? "" : ", ") + r.url_template;
    downloaded = downloaded || r.state == RemoteFile::State::Downloaded;
    if (r.state == RemoteFile::State::Cached) {
      stale_error += (stale_error.empty() ? "" : "; ") + r.error + " (its last good copy is used)";
      log::warning(r.error + "; using its last good copy");
    } else if (r.state == RemoteFile::State::Refused) {
      stale_error += (stale_error.empty() ? "" : "; ") + r.url +
                     ": its new copy was refused by max-shrink (" + r.error + "); its last good copy is used";
    }
    std::optional<MmdbCountries> data;
    if (!r.path.empty()) {
      try {
        data = read_mmdb_countries(r.path, m_options, r.url + " (cached copy)");
      } catch (const Error& e) {
        failed_error += (failed_error.empty() ? "" : "; ") + std::string(e.what());
      }
    } else {
      failed_error += (failed_error.empty() ? "" : "; ") + r.error;
    }
    if (!data) {
      log::warning(failed_error);
      continue;
    }
    const auto epoch = static_cast<std::int64_t>(data->metadata.build_epoch);
    log::info("mmdb " + r.url + ": " + printable(data->metadata.database_type) + " built " + utc_date(epoch) +
              ", IPv" + std::to_string(data->metadata.ip_version) + ", country from " + data->field + " (" +
              data->why + ")");
    built = built == 0 ? epoch : std::min(built, epoch);
    m_used.push_back(Used{data->database, data->path});
    fetched_at = std::max(fetched_at, r.fetched_at);
    for (MmdbCountries::Country& c : data->countries) {
      net::NetList& to = nets[c.code];
      to.v4.insert(to.v4.end(), c.nets.v4.begin(), c.nets.v4.end());
      to.v6.insert(to.v6.end(), c.nets.v6.begin(), c.nets.v6.end());
    }
  }
  for (const std::string& file : m_options.files) {
    const std::string path = m_options.reach ? m_options.reach(file) : file;
    location += (location.empty() ? "" : ", ") + file;
    std::optional<MmdbCountries> data;
    std::int64_t mtime = file_mtime(path);
    try {
      data = read_mmdb_countries(path, m_options, file);
      if (!m_options.cache_dir.empty()) {
        // Keep this copy as the last good one (when it changed), unless
        // max-shrink refuses it against that copy.
        const std::string copy = cached_copy(m_options.cache_dir, file);
        const std::string bytes = util::read_file(path);
        if (!copy_holds(copy, bytes)) {
          struct stat st {};
          const bool kept = ::lstat(copy.c_str(), &st) == 0 && S_ISREG(st.st_mode);
          if (const std::string why = guard_shrink(kept ? copy : "", *data, file, zones, m_options, refused);
              !why.empty()) {
            data = read_mmdb_countries(copy, m_options, file + " (last good copy)");
            mtime = static_cast<std::int64_t>(st.st_mtime);
            stale_error += (stale_error.empty() ? "" : "; ") + file +
                           ": its new data was refused by max-shrink (" + why + "); the last good copy of " +
                           utc_date(mtime) + " is used";
          } else {
            keep_copy(copy, "mmdb", file, bytes, static_cast<std::int64_t>(data->metadata.build_epoch), now);
          }
        }
      }
    } catch (const Error& e) {
      const std::string copy = m_options.cache_dir.empty() ? "" : cached_copy(m_options.cache_dir, file);
      struct stat st {};
      if (!copy.empty() && ::lstat(copy.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        try {
          data = read_mmdb_countries(copy, m_options);
          mtime = static_cast<std::int64_t>(st.st_mtime);
          stale_error += (stale_error.empty() ? "" : "; ") + std::string(e.what()) +
                         " (the last good copy of " + utc_date(mtime) + " is used)";
          log::warning(std::string(e.what()) + "; using the last good copy of " + utc_date(mtime));
        } catch (const Error& e2) {
          failed_error += (failed_error.empty() ? "" : "; ") + std::string(e.what()) +
                          "; its cached copy too: " + e2.what();
        }
      } else {
        failed_error += (failed_error.empty() ? "" : "; ") + std::string(e.what());
      }
      if (!data) {
        log::warning(failed_error);
        continue;
      }
    }
    const auto epoch = static_cast<std::int64_t>(data->metadata.build_epoch);
    log::info("mmdb " + file + ": " + printable(data->metadata.database_type) + " built " + utc_date(epoch) +
              ", IPv" + std::to_string(data->metadata.ip_version) + ", country from " + data->field + " (" +
              data->why + ")");
    built = built == 0 ? epoch : std::min(built, epoch);
    m_used.push_back(Used{data->database, data->path});
    fetched_at = std::max(fetched_at, mtime);
    for (MmdbCountries::Country& c : data->countries) {
      net::NetList& to = nets[c.code];
      to.v4.insert(to.v4.end(), c.nets.v4.begin(), c.nets.v4.end());
      to.v6.insert(to.v6.end(), c.nets.v6.begin(), c.nets.v6.end());
    }
  }
  bool stale = false;
  if (m_options.stale_after_days > 0 && built > 0 &&
      now - built > std::int64_t{m_options.stale_after_days} * 86400) {
    stale = true;
    log::warning("mmdb " + location + ": built " + utc_date(built) + ", older than " +
                 std::to_string(m_options.stale_after_days) +
                 " days; is geoipupdate (or the download) running?");
  }

  std::vector<std::string> order;
  for (const std::string& code : countries) {
    if (std::find(order.begin(), order.end(), code) == order.end()) {
      order.push_back(code);
    }
  }
  if (countries.empty()) {
    for (const auto& [code, n] : nets) {
      if (!n.empty()) {
        order.push_back(code);
      }
    }
    std::sort(order.begin(), order.end());
  }
  std::vector<net::ZoneResult> results;
  for (const std::string& code : order) {
    const auto it = nets.find(code);
    for (const net::Family family : {net::Family::V4, net::Family::V6}) {
      if (!net::includes(families, family)) {
        continue;
      }
      net::ZoneResult r;
      r.country = code;
      r.family = family;
      r.location = location;
      r.fetched_at = fetched_at;
      r.last_modified = built;
      r.stale = stale;
      if (!failed_error.empty()) {
        r.origin = net::Origin::Failed;
        r.error = failed_error;
        results.push_back(std::move(r));
        continue;
      }
      if (it != nets.end()) {
        if (family == net::Family::V4) {
          r.nets.v4 = it->second.v4;
        } else {
          r.nets.v6 = it->second.v6;
        }
        r.lines = r.nets.size();
      }
      if (const auto no = refused.find(code + " " + net::family_key(family)); no != refused.end()) {
        r.origin = net::Origin::Refused; // the last good copy's networks
        r.error = no->second;
      } else if (r.nets.empty()) {
        r.origin = net::Origin::Absent;
        r.error = std::string("no ") + net::family_name(family) + " networks for " + code + " in " + location;
      } else if (!stale_error.empty()) {
        r.origin = net::Origin::StaleCache;
        r.error = stale_error;
      } else if (downloaded) {
        r.origin = net::Origin::Downloaded;
      } else if (!remote.empty() && m_options.files.empty()) {
        r.origin = net::Origin::NotModified;
      } else {
        r.origin = net::Origin::Local;
      }
      results.push_back(std::move(r));
    }
  }
  return results;
}

void
MmdbSource::look_up(const std::vector<net::Address>& addresses, std::vector<net::AddressFact>& out) const
{
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const net::Address& a = addresses[i];
    bool country = false, as = false;
    for (const Used& used : m_used) {
      if (country && as) {
        break;
      }
      const MmdbFile& db = *used.database;
      std::optional<MmdbNetwork> found;
      try {
        found = db.find(a.family, a.v4, a.v6);
        if (!found) {
          continue;
        }
        net::AddressFact fact;
        fact.address = i;
        fact.source = "mmdb";
        net::set_network(fact, found->family, found->v4, found->v6);
        if (!country && used.field) {
          std::optional<std::string> code = code_of(db, db.value(found->record, *used.field), *used.field);
          if (!code && m_options.registered_fallback && *used.field == k_iso_code) {
            code = code_of(db, db.value(found->record, k_registered), k_registered);
          }
          if (code) {
            net::AddressFact c = fact;
            c.kind = net::AddressFact::Kind::Country;
            c.country = *code;
            out.push_back(std::move(c));
            country = true;
          }
        }
        if (!as) {
          if (const std::optional<MmdbAs> owner = mmdb_as_of(db, found->record)) {
            fact.kind = net::AddressFact::Kind::As;
            fact.as_number = owner->number;
            fact.as_name = owner->name;
            out.push_back(std::move(fact));
            as = true;
          }
        }
      } catch (const Error& e) {
        log::warning(std::string("looking up ") + net::to_string(a) + ": " + e.what());
      }
    }
  }
}

} // namespace geoblock::source
