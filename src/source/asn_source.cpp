#include "source/asn_source.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "source/gunzip.hpp"
#include "source/last_good_copy.hpp"
#include "source/mmdb.hpp"
#include "util/atomic_file.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"
#include "util/unique_fd.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <unordered_map>

namespace geoblock::source {

namespace {

constexpr std::string_view k_mmdb_marker = "\xAB\xCD\xEFMaxMind.com";

bool
is_mmdb(std::string_view bytes)
{
  // The metadata marker lies within the last 128 KiB of the file.
  const std::size_t tail = std::min<std::size_t>(bytes.size(), 128 * 1024);
  return bytes.substr(bytes.size() - tail).find(k_mmdb_marker) != std::string_view::npos;
}

void
read_asn_mmdb(const std::string& path, const std::string& name, const net::AsnQuery& query, net::AsnData& out)
{
  const MmdbFile db(path, name);
  std::unordered_map<std::uint32_t, std::optional<MmdbAs>> records;
  const std::vector<std::uint32_t>& wanted = query.numbers;
  db.walk([&](const MmdbNetwork& n) {
    auto it = records.find(n.record);
    if (it == records.end()) {
      it = records.emplace(n.record, mmdb_as_of(db, n.record)).first;
    }
    ++out.lines;
    const std::optional<MmdbAs>& r = it->second;
    if (!r || (!query.every && std::find(wanted.begin(), wanted.end(), r->number) == wanted.end())) {
      return;
    }
    net::AsnData::As& as = out.by_number[r->number];
    if (as.name.empty()) {
      as.name = r->name;
    }
    ++as.lines;
    if (n.family == net::Family::V4) {
      as.nets.v4.push_back(n.v4);
    } else {
      as.nets.v6.push_back(n.v6);
    }
  });
  // The whole tree is valid: one descent per address looked up.
  out.hits.resize(query.lookups.size());
  for (std::size_t i = 0; i < query.lookups.size(); ++i) {
    const net::Address& a = query.lookups[i];
    const std::optional<MmdbNetwork> found = db.find(a.family, a.v4, a.v6);
    if (!found) {
      continue;
    }
    if (const std::optional<MmdbAs> owner = mmdb_as_of(db, found->record)) {
      net::AsnHit hit;
      hit.number = owner->number;
      hit.name = owner->name;
      hit.family = found->family;
      hit.v4 = found->v4;
      hit.v6 = found->v6;
      out.hits[i] = std::move(hit);
    }
  }
}

void
check_guards(const net::AsnData& data, const std::string& name, const net::ZoneOptions& zone)
{
  for (const auto& [number, as] : data.by_number) {
    for (const auto& p : as.nets.v4) {
      if (const std::string g = net::prefix_problem(zone, net::Family::V4, p.len); !g.empty()) {
        throw Error(name + ": AS" + std::to_string(number) + " " + net::to_string(p) + ": " + g);
      }
    }
    for (const auto& p : as.nets.v6) {
      if (const std::string g = net::prefix_problem(zone, net::Family::V6, p.len); !g.empty()) {
        throw Error(name + ": AS" + std::to_string(number) + " " + net::to_string(p) + ": " + g);
      }
    }
  }
}

std::string
read_whole(const std::string& path, const std::string& name, std::size_t max_bytes)
{
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    throw Error(name + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  try {
    return util::read_file(path);
  } catch (const Error& e) {
    throw Error(name + ": " + e.what());
  }
}

// The organisation as asn_label makes it: trimmed, printable, bounded.
std::string
org_name(std::uint32_t number, const std::string& text)
{
  const std::string label = net::asn_label(number, text);
  const std::size_t skip = 2 + std::to_string(number).size();
  return label.size() > skip ? label.substr(skip + 1) : "";
}

} // namespace

std::optional<MmdbAs>
mmdb_as_of(const MmdbFile& db, std::uint32_t record)
{
  static const MmdbPath number_path = {"autonomous_system_number"};
  static const MmdbPath org_path = {"autonomous_system_organization"};
  static const MmdbPath asn_path = {"asn"};
  static const MmdbPath as_name_path = {"as_name"};
  static const MmdbPath name_path = {"name"};
  MmdbAs r;
  const MmdbValue n = db.value(record, number_path);
  if (n.kind == MmdbValue::Kind::Number) {
    if (n.number > 0xffffffffull) {
      throw Error(db.path() + ": autonomous_system_number " + std::to_string(n.number) + " is out of range");
    }
    r.number = static_cast<std::uint32_t>(n.number);
    const MmdbValue org = db.value(record, org_path);
    r.name = org.kind == MmdbValue::Kind::Text ? org_name(r.number, org.text) : "";
    return r;
  }
  if (n.kind != MmdbValue::Kind::Missing) {
    throw Error(db.path() + ": autonomous_system_number is not a number");
  }
  const MmdbValue asn = db.value(record, asn_path);
  if (asn.kind == MmdbValue::Kind::Missing) {
    return std::nullopt;
  }
  const auto number = asn.kind == MmdbValue::Kind::Text ? net::parse_asn(asn.text) : std::nullopt;
  if (asn.kind == MmdbValue::Kind::Number && asn.number <= 0xffffffffull) {
    r.number = static_cast<std::uint32_t>(asn.number);
  } else if (number) {
    r.number = *number;
  } else if (asn.kind == MmdbValue::Kind::Text && asn.text.empty()) {
    return std::nullopt;
  } else {
    throw Error(db.path() + ": asn '" + net::asn_label(0, asn.text).substr(4) + "' is not an AS number");
  }
  for (const MmdbPath* p : {&as_name_path, &name_path}) {
    const MmdbValue v = db.value(record, *p);
    if (v.kind == MmdbValue::Kind::Text && !v.text.empty()) {
      r.name = org_name(r.number, v.text);
      break;
    }
  }
  return r;
}

void
read_asn_file(const std::string& path, const std::string& name, const std::vector<std::uint32_t>& wanted,
              net::AsnData& out, std::size_t max_bytes)
{
  read_asn_file(path, name, net::AsnQuery{wanted, wanted.empty(), {}}, out, max_bytes);
}

void
read_asn_file(const std::string& path, const std::string& name, const net::AsnQuery& query, net::AsnData& out,
              std::size_t max_bytes)
{
  std::string bytes = read_whole(path, name, max_bytes);
  const bool compressed = is_gzip(bytes);
  if (compressed) {
    bytes = gunzip(bytes, name, max_bytes);
  }
  if (is_mmdb(bytes)) {
    if (compressed) {
      // A private file holding the bytes, readable by path: libmaxminddb
      // opens files only.
      const util::UniqueFd mem =
          util::memory_file(bytes, "geoblock-asn", name + ": cannot hold the decompressed database");
      read_asn_mmdb(util::fd_path(mem.get()), name, query, out);
    } else {
      read_asn_mmdb(path, name, query, out);
    }
    return;
  }
  if (bytes.find('\0') != std::string::npos) {
    throw Error(name + ": neither a MaxMind database nor ASN text (iptoasn TSV, start,end,asn,org CSV)");
  }
  net::parse_asn_text(bytes, name, query, out);
}

std::string
asn_cached_copy(const std::string& cache_dir, const std::string& file)
{
  const auto slash = file.rfind('/');
  const std::string base = slash == std::string::npos ? file : file.substr(slash + 1);
  return cache_dir + "/asn/" + base + "-" + util::sha256_hex(file).substr(0, 12);
}

std::vector<net::AsnResult>
load_asns(const AsnOptions& options, const std::vector<net::Address>& lookups,
          std::vector<net::AddressFact>* facts)
{
  const std::int64_t now = options.clock ? options.clock() : static_cast<std::int64_t>(std::time(nullptr));
  std::vector<std::uint32_t> wanted = options.block;
  wanted.insert(wanted.end(), options.allow.begin(), options.allow.end());
  const net::AsnQuery query{wanted, false, facts ? lookups : std::vector<net::Address>{}};
  const net::AsnQuery no_lookups{wanted, false, {}};
  net::AsnData data;
  data.hits.resize(query.lookups.size());
  // What one file read adds: its ASes' networks, and the answers to the
  // lookups no earlier file gave.
  const auto merge = [&](net::AsnData& one) {
    data.lines += one.lines;
    for (auto& [number, as] : one.by_number) {
      net::AsnData::As& to = data.by_number[number];
      if (to.name.empty()) {
        to.name = as.name;
      }
      to.lines += as.lines;
      to.nets.v4.insert(to.nets.v4.end(), as.nets.v4.begin(), as.nets.v4.end());
      to.nets.v6.insert(to.nets.v6.end(), as.nets.v6.begin(), as.nets.v6.end());
    }
    for (std::size_t i = 0; i < one.hits.size() && i < data.hits.size(); ++i) {
      if (!data.hits[i] && one.hits[i]) {
        data.hits[i] = std::move(one.hits[i]);
      }
    }
  };
  std::string location;
  std::string stale_error;
  std::string failed_error;
  std::int64_t fetched_at = 0;
  // asn-url: the downloads first (validated whole before they replace
  // their last good copies), then read like the files.
  if (!options.urls.empty()) {
    RemoteFileOptions ro = options.download;
    ro.cache_dir = options.cache_dir;
    ro.sub = "asn";
    ro.offline = options.offline;
    ro.max_bytes = options.max_bytes;
    const auto remote = refresh_remote_files(
        options.urls, ro, [&](const std::string& path, const std::string& url, const std::string&) {
          net::AsnData probe;
          read_asn_file(path, url, no_lookups, probe, options.max_bytes);
          check_guards(probe, url, options.zone);
        });
    for (const RemoteFile& r : remote) {
      location += (location.empty() ? "" : ", ") + r.url_template;
      if (r.state == RemoteFile::State::Cached) {
        stale_error += (stale_error.empty() ? "" : "; ") + r.error + " (its last good copy is used)";
        log::warning(r.error + "; using its last good copy");
      }
      net::AsnData one;
      try {
        if (r.path.empty()) {
          throw Error(r.error);
        }
        read_asn_file(r.path, r.url + " (cached copy)", query, one, options.max_bytes);
        check_guards(one, r.url + " (cached copy)", options.zone);
      } catch (const Error& e) {
        failed_error += (failed_error.empty() ? "" : "; ") + std::string(e.what());
        log::warning(e.what());
        continue;
      }
      fetched_at = std::max(fetched_at, r.fetched_at);
      merge(one);
    }
  }
  for (const std::string& file : options.files) {
    location += (location.empty() ? "" : ", ") + file;
    const std::string path = options.reach ? options.reach(file) : file;
    net::AsnData one;
    struct stat st {};
    std::int64_t mtime = ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_mtime) : 0;
    bool ok = false;
    try {
      read_asn_file(path, file, query, one, options.max_bytes);
      check_guards(one, file, options.zone);
      ok = true;
      if (!options.cache_dir.empty()) {
        // Keep this copy as the last good one (when it changed), with its
        // metadata for status (source/last_good_copy.hpp).
        const std::string copy = asn_cached_copy(options.cache_dir, file);
        const std::string bytes = util::read_file(path);
        if (!copy_holds(copy, bytes)) {
          keep_copy(copy, "asn", file, bytes, mtime, now);
        }
      }
    } catch (const Error& e) {
      const std::string copy = options.cache_dir.empty() ? "" : asn_cached_copy(options.cache_dir, file);
      struct stat cst {};
      std::string why = e.what();
      if (!copy.empty() && ::lstat(copy.c_str(), &cst) == 0 && S_ISREG(cst.st_mode)) {
        one = {};
        try {
          read_asn_file(copy, file + " (cached copy)", query, one, options.max_bytes);
          check_guards(one, file + " (cached copy)", options.zone);
          ok = true;
          mtime = static_cast<std::int64_t>(cst.st_mtime);
          stale_error += (stale_error.empty() ? "" : "; ") + why + " (its last good copy is used)";
          log::warning(why + "; using its last good copy");
        } catch (const Error& e2) {
          why += "; its cached copy too: " + std::string(e2.what());
        }
      }
      if (!ok) {
        failed_error += (failed_error.empty() ? "" : "; ") + why;
        log::warning(why);
        continue;
      }
    }
    fetched_at = std::max(fetched_at, mtime);
    merge(one);
  }
  if (facts) {
    for (std::size_t i = 0; i < data.hits.size(); ++i) {
      if (const std::optional<net::AsnHit>& hit = data.hits[i]) {
        net::AddressFact f;
        f.address = i;
        f.kind = net::AddressFact::Kind::As;
        f.as_number = hit->number;
        f.as_name = hit->name;
        f.source = "asn";
        net::set_network(f, hit->family, hit->v4, hit->v6);
        facts->push_back(std::move(f));
      }
    }
  }

  std::vector<net::AsnResult> out;
  const auto add = [&](std::uint32_t number, bool allow) {
    net::AsnResult r;
    r.number = number;
    r.allow = allow;
    r.location = location;
    r.fetched_at = fetched_at;
    r.last_modified = fetched_at;
    if (options.files.empty() && options.urls.empty()) {
      r.origin = net::Origin::Failed;
      r.error = "no ASN data configured (asn-file, asn-url)";
    } else if (!failed_error.empty()) {
      r.origin = net::Origin::Failed;
      r.error = failed_error;
    } else if (const auto it = data.by_number.find(number);
               it == data.by_number.end() || it->second.nets.empty()) {
      r.origin = net::Origin::Absent;
      r.error = "no networks for AS" + std::to_string(number) + " in " + location;
    } else {
      r.name = it->second.name;
      r.nets = it->second.nets;
      r.lines = it->second.lines;
      r.origin = stale_error.empty() ? net::Origin::Local : net::Origin::StaleCache;
      r.error = stale_error;
    }
    out.push_back(std::move(r));
  };
  for (const std::uint32_t n : options.block) {
    add(n, false);
  }
  for (const std::uint32_t n : options.allow) {
    add(n, true);
  }
  return out;
}

std::string
AsnSource::describe() const
{
  std::string out = "asn data";
  for (const std::string& f : m_options.files) {
    out += " " + f;
  }
  for (const std::string& u : m_options.urls) {
    out += " " + u;
  }
  return out;
}

void
AsnSource::load_into(const net::LoadRequest& request, net::SourceData& out)
{
  if (m_options.block.empty() && m_options.allow.empty() && request.lookups.empty()) {
    return; // ASN data only for check's lookups, and none asked
  }
  AsnOptions o = m_options;
  o.offline = o.offline || request.mode == net::LoadMode::CacheOnly;
  for (net::AsnResult& a : load_asns(o, request.lookups, &out.facts)) {
    out.asns.push_back(std::move(a));
  }
}

net::SourceData
AsnSource::expected(const net::LoadRequest&) const
{
  net::SourceData out;
  for (const bool allow : {false, true}) {
    for (const std::uint32_t n : allow ? m_options.allow : m_options.block) {
      net::AsnResult a;
      a.number = n;
      a.allow = allow;
      out.asns.push_back(std::move(a));
    }
  }
  return out;
}

std::optional<net::CacheReport>
AsnSource::cache(std::int64_t now) const
{
  if (m_options.cache_dir.empty()) {
    return std::nullopt;
  }
  net::CacheReport report{m_options.cache_dir + "/asn", m_options.stale_after_days, {}};
  std::vector<std::string> copies;
  for (const std::string& f : m_options.files) {
    copies.push_back(asn_cached_copy(m_options.cache_dir, f));
  }
  for (const std::string& url : m_options.urls) {
    RemoteFileOptions ro;
    ro.cache_dir = m_options.cache_dir;
    ro.sub = "asn";
    copies.push_back(remote_copy_path(ro, url));
  }
  for (const std::string& copy : copies) {
    if (std::optional<net::CachedZone> z = copy_status(copy, now, m_options.stale_after_days)) {
      report.zones.push_back(std::move(*z));
    }
  }
  return report;
}

std::vector<std::string>
AsnSource::cache_folders() const
{
  if (m_options.cache_dir.empty()) {
    return {};
  }
  return {"asn"};
}

} // namespace geoblock::source
