#include "fetch/zone_cache.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "util/atomic_file.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"

#include <algorithm>
#include <charconv>
#include <dirent.h>
#include <memory>

namespace geoblock::fetch {

namespace {

constexpr std::string_view k_meta_suffix = ".meta";
constexpr std::string_view k_md5sum = "MD5SUM";
// Every cache file is read as untrusted (the unprivileged fetcher writes
// them): no file of it is larger than a zone may be, with room to spare.
constexpr std::size_t k_max_cache_file = std::size_t{64} << 20;

std::string
family_dir(const std::string& dir, net::Family family)
{
  return dir + "/" + net::family_key(family);
}

template <class T>
bool
parse_number(std::string_view text, T& out)
{
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Header values come from the network: keep them on one line.
std::string
one_line(const std::string& s)
{
  std::string out;
  for (char c : s) {
    if (c != '\n' && c != '\r') {
      out += c;
    }
  }
  return out;
}

} // namespace

std::int64_t
age_days(std::int64_t t, std::int64_t now)
{
  if (t <= 0 || t > now) {
    return -1;
  }
  return (now - t) / 86400;
}

bool
is_stale(const ZoneMeta& meta, std::int64_t now, int stale_after_days)
{
  if (stale_after_days <= 0) {
    return false;
  }
  const std::int64_t limit = stale_after_days;
  return (meta.last_modified > 0 && age_days(meta.last_modified, now) >= limit) ||
         (meta.fetched_at > 0 && age_days(meta.fetched_at, now) >= limit);
}

std::string
format_meta(const ZoneMeta& m)
{
  std::string s;
  auto put = [&s](const char* key, const std::string& value) {
    s += key;
    s += '=';
    s += one_line(value);
    s += '\n';
  };
  put("country", m.country);
  put("family", net::family_key(m.family));
  put("url", m.url);
  put("etag", m.etag);
  put("last_modified_http", m.last_modified_http);
  put("last_modified", std::to_string(m.last_modified));
  put("fetched_at", std::to_string(m.fetched_at));
  put("changed_at", std::to_string(m.changed_at));
  put("size", std::to_string(m.size));
  put("sha256", m.sha256);
  put("md5", m.md5);
  if (!m.served_sha256.empty()) {
    put("served_sha256", m.served_sha256);
  }
  put("networks", std::to_string(m.networks));
  put("lines", std::to_string(m.lines));
  put("absent", m.absent ? "1" : "0");
  return s;
}

std::optional<ZoneMeta>
parse_meta(std::string_view text)
{
  ZoneMeta m;
  bool have_country = false;
  bool have_family = false;
  text::Lines lines(text);
  for (std::string_view line; lines.next(line);) {
    if (line.empty()) {
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    bool ok = true;
    if (key == "country") {
      m.country = value;
      have_country = !value.empty();
    } else if (key == "family") {
      have_family = value == "v4" || value == "v6";
      m.family = value == "v6" ? net::Family::V6 : net::Family::V4;
    } else if (key == "url") {
      m.url = value;
    } else if (key == "etag") {
      m.etag = value;
    } else if (key == "last_modified_http") {
      m.last_modified_http = value;
    } else if (key == "last_modified") {
      ok = parse_number(value, m.last_modified);
    } else if (key == "fetched_at") {
      ok = parse_number(value, m.fetched_at);
    } else if (key == "changed_at") {
      ok = parse_number(value, m.changed_at);
    } else if (key == "size") {
      ok = parse_number(value, m.size);
    } else if (key == "sha256") {
      m.sha256 = value;
    } else if (key == "md5") {
      m.md5 = value;
    } else if (key == "served_sha256") {
      m.served_sha256 = value;
    } else if (key == "networks") {
      ok = parse_number(value, m.networks);
    } else if (key == "lines") {
      ok = parse_number(value, m.lines);
    } else if (key == "absent") {
      m.absent = value == "1";
    }
    // Unknown keys are ignored: a newer version may add some.
    if (!ok) {
      return std::nullopt;
    }
  }
  if (!have_country || !have_family) {
    return std::nullopt;
  }
  return m;
}

ZoneCache::ZoneCache(std::string dir) : m_dir(std::move(dir))
{
  while (m_dir.size() > 1 && m_dir.back() == '/') {
    m_dir.pop_back();
  }
}

void
ZoneCache::make_family_dir(net::Family family) const
{
  bool& made = m_dir_made[net::family_index(family)];
  if (!made) {
    util::make_dirs(family_dir(m_dir, family));
    made = true;
  }
}

ZoneCache::~ZoneCache()
{
  // A run that ends well has called sync() and met its errors there; here
  // (an exception on its way, a reader) one must not terminate the process.
  try {
    sync();
  } catch (const Error& e) {
    log::warning(e.what());
  }
}

void
ZoneCache::sync() const
{
  for (const net::Family family : {net::Family::V4, net::Family::V6}) {
    bool& dirty = m_dirty[net::family_index(family)];
    if (dirty) {
      util::sync_dir(family_dir(m_dir, family));
      dirty = false;
    }
  }
}

std::string
ZoneCache::zone_path(const std::string& country, net::Family family) const
{
  if (country == k_md5sum) {
    return md5sum_path(family);
  }
  return family_dir(m_dir, family) + "/" + country + ".zone";
}

std::string
ZoneCache::meta_path(const std::string& country, net::Family family) const
{
  if (country == k_md5sum) {
    return md5sum_path(family) + std::string(k_meta_suffix);
  }
  return family_dir(m_dir, family) + "/" + country + std::string(k_meta_suffix);
}

std::string
ZoneCache::md5sum_path(net::Family family) const
{
  return family_dir(m_dir, family) + "/" + std::string(k_md5sum);
}

std::optional<ZoneMeta>
ZoneCache::read_meta(const std::string& country, net::Family family) const
{
  std::string text;
  try {
    text = util::read_untrusted_file(meta_path(country, family), k_max_cache_file);
  } catch (const Error&) {
    return std::nullopt;
  }
  auto meta = parse_meta(text);
  // A meta copied to the wrong place describes another zone: ignore it.
  if (!meta || meta->country != country || meta->family != family) {
    return std::nullopt;
  }
  meta->fetched_at = std::max(meta->fetched_at, fetched_time(country, family));
  return meta;
}

std::int64_t
ZoneCache::fetched_time(const std::string& country, net::Family family) const
{
  const std::size_t f = net::family_index(family);
  if (!m_fetched_loaded[f]) {
    m_fetched_loaded[f] = true;
    m_fetched[f].clear();
    std::string text;
    try {
      text = util::read_untrusted_file(family_dir(m_dir, family) + "/FETCHED", k_max_cache_file);
    } catch (const Error&) {
      return 0;
    }
    text::Lines lines(text);
    for (std::string_view line; lines.next(line);) {
      const auto sp = line.find(' ');
      std::int64_t t = 0;
      if (sp != std::string_view::npos && parse_number(line.substr(sp + 1), t)) {
        m_fetched[f].emplace_back(line.substr(0, sp), t);
      }
    }
  }
  for (const auto& [cc, t] : m_fetched[f]) {
    if (cc == country) {
      return t;
    }
  }
  return 0;
}

void
ZoneCache::record_fetched(net::Family family, const std::vector<std::string>& countries,
                          std::int64_t when) const
{
  if (countries.empty()) {
    return;
  }
  const std::size_t f = net::family_index(family);
  fetched_time("", family); // load
  auto& entries = m_fetched[f];
  for (const std::string& cc : countries) {
    const auto it =
        std::find_if(entries.begin(), entries.end(), [&cc](const auto& e) { return e.first == cc; });
    if (it == entries.end()) {
      entries.emplace_back(cc, when);
    } else {
      it->second = when;
    }
  }
  std::sort(entries.begin(), entries.end());
  std::string text;
  for (const auto& [cc, t] : entries) {
    text += cc + " " + std::to_string(t) + "\n";
  }
  make_family_dir(family);
  m_dirty[f] = true;
  util::write_file_atomic(family_dir(m_dir, family) + "/FETCHED", text, 0644,
                          util::AtomicFile::DirSync::Deferred);
}

std::optional<std::string>
ZoneCache::read_body(const ZoneMeta& meta, bool* hash_ok, std::string* problem) const
{
  std::string body;
  try {
    body = util::read_untrusted_file(zone_path(meta.country, meta.family), k_max_cache_file);
  } catch (const Error& e) {
    if (problem) {
      *problem = e.what();
    }
    if (hash_ok) {
      *hash_ok = false;
    }
    return std::nullopt;
  }
  if (hash_ok) {
    *hash_ok = body.size() == meta.size && util::sha256_hex(body) == meta.sha256;
  }
  return body;
}

void
ZoneCache::store(ZoneMeta meta, std::string_view body, util::AtomicBatch* batch) const
{
  make_family_dir(meta.family);
  meta.size = body.size();
  meta.sha256 = util::sha256_hex(body);
  meta.md5 = util::md5_hex(body);
  if (batch) {
    batch->add(zone_path(meta.country, meta.family), body);
    batch->add(meta_path(meta.country, meta.family), format_meta(meta));
    return;
  }
  m_dirty[net::family_index(meta.family)] = true;
  util::write_file_atomic(zone_path(meta.country, meta.family), body, 0644,
                          util::AtomicFile::DirSync::Deferred);
  store_meta(meta);
}

void
ZoneCache::store_meta(const ZoneMeta& meta) const
{
  make_family_dir(meta.family);
  m_dirty[net::family_index(meta.family)] = true;
  util::write_file_atomic(meta_path(meta.country, meta.family), format_meta(meta), 0644,
                          util::AtomicFile::DirSync::Deferred);
}

std::vector<ZoneMeta>
ZoneCache::list() const
{
  std::vector<ZoneMeta> zones;
  for (const net::Family family : {net::Family::V4, net::Family::V6}) {
    const std::string dir = family_dir(m_dir, family);
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) {
      continue;
    }
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d.get())) {
      const std::string_view name = e->d_name;
      if (name.size() == 2 + k_meta_suffix.size() && name.substr(2) == k_meta_suffix && name[0] != '.') {
        names.emplace_back(name.substr(0, 2));
      }
    }
    std::sort(names.begin(), names.end());
    for (const std::string& cc : names) {
      if (auto meta = read_meta(cc, family)) {
        zones.push_back(std::move(*meta));
      }
    }
  }
  return zones;
}

} // namespace geoblock::fetch
