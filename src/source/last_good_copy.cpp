#include "source/last_good_copy.hpp"

#include "core/error.hpp"
#include "fetch/zone_cache.hpp"
#include "util/atomic_file.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"

#include <sys/stat.h>

namespace geoblock::source {

namespace {

std::optional<fetch::ZoneMeta>
meta_of(const std::string& copy)
{
  try {
    return fetch::parse_meta(util::read_untrusted_file(copy + ".meta", 1 << 16));
  } catch (const Error&) {
    return std::nullopt;
  }
}

} // namespace

bool
copy_holds(const std::string& copy, const std::string& bytes)
{
  const std::optional<fetch::ZoneMeta> meta = meta_of(copy);
  if (!meta || meta->size != bytes.size() || meta->sha256 != util::sha256_hex(bytes)) {
    return false;
  }
  try {
    return util::read_untrusted_file(copy, bytes.size()) == bytes;
  } catch (const Error&) {
    return false;
  }
}

void
keep_copy(const std::string& copy, const std::string& kind, const std::string& origin,
          const std::string& bytes, std::int64_t data_time, std::int64_t now)
{
  util::make_dirs(copy.substr(0, copy.rfind('/')), 0755);
  fetch::ZoneMeta m;
  m.country = kind; // the format's required keys: what kind of file
  m.family = net::Family::V4;
  m.url = origin;
  m.size = bytes.size();
  m.sha256 = util::sha256_hex(bytes);
  m.last_modified = data_time;
  m.fetched_at = now;
  m.changed_at = now;
  // The body before its metadata: a crash between the two leaves a copy
  // whose hash does not match, which status calls damaged and the next
  // read rewrites.
  util::write_file_atomic(copy, bytes, 0644);
  util::write_file_atomic(copy + ".meta", fetch::format_meta(m), 0644);
}

std::optional<net::CachedZone>
copy_status(const std::string& copy, std::int64_t now, int stale_days)
{
  struct stat st {};
  if (::lstat(copy.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt; // never kept (yet)
  }
  net::CachedZone z;
  z.file = copy.substr(copy.rfind('/') + 1);
  const std::optional<fetch::ZoneMeta> meta = meta_of(copy);
  const std::int64_t written =
      meta && meta->fetched_at > 0 ? meta->fetched_at : static_cast<std::int64_t>(st.st_mtime);
  z.fetched_days_ago = fetch::age_days(written, now);
  z.age_days = fetch::age_days(meta && meta->last_modified > 0 ? meta->last_modified : written, now);
  if (meta) {
    try {
      z.body_ok = util::sha256_hex(util::read_untrusted_file(copy, k_max_copy_bytes)) == meta->sha256;
    } catch (const Error&) {
      z.body_ok = false;
    }
  }
  z.stale = stale_days > 0 && z.age_days > stale_days;
  return z;
}

} // namespace geoblock::source
