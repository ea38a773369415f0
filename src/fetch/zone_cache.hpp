// The on-disk cache of zones: the last good copy of every country and family,
// with what is needed for conditional GETs and for `status`.
//
// Layout under the cache directory (created on first write, mode 0755):
//   DIR/v4/cc.zone        last good IPv4 zone of country cc (lower case),
//                         byte for byte as served; validated before it was stored
//   DIR/v4/cc.meta        its metadata, "key=value" lines (see ZoneMeta)
//   DIR/v6/cc.zone        the same for IPv6
//   DIR/v6/cc.meta
//   DIR/v4/MD5SUM         the upstream checksum list of the directory, as served
//   DIR/v4/MD5SUM.meta    (and DIR/v6/...), metadata like a zone's
//   DIR/v4/FETCHED        "cc unix-time" lines: the last successful fetch of
//                         zones whose data did not change (304 or same bytes),
//                         one file per family and run instead of a rewrite of
//                         every .meta; read_meta() folds it into fetched_at
// A zone that is legitimately absent upstream (404 or empty, never had data)
// has an empty cc.zone and "absent=1" in its meta.
//
// Every file is replaced atomically (util::AtomicFile: temp file in the same
// directory, fsync, rename), the body before its meta. A crash between the
// two leaves a complete, validated body whose hash no longer matches its
// meta: readers treat the meta's ETag/Last-Modified as unusable (the next
// fetch is unconditional) but the body is still good data.
//
// Readers other than the fetcher (status, export) use list() and
// read_body(); only the fetcher writes.
#pragma once

#include "net/cidr.hpp"
#include "util/atomic_file.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::fetch {

struct ZoneMeta {
  std::string country; // lower-case ISO 3166-1 alpha-2 ("MD5SUM" for a checksum list)
  net::Family family = net::Family::V4;
  std::string url;                // where the body came from
  std::string etag;               // ETag header as sent (quotes included); empty if none
  std::string last_modified_http; // Last-Modified header text, echoed in If-Modified-Since
  std::int64_t last_modified = 0; // unix time the data changed upstream (0: unknown)
  std::int64_t fetched_at = 0;    // unix time of the last successful fetch (200 or 304)
  std::int64_t changed_at = 0;    // unix time the cached body last changed
  std::uint64_t size = 0;         // body bytes
  std::string sha256;             // hex, of the body
  std::string md5;                // hex, of the body (compared with upstream MD5SUM)
  std::string served_sha256;      // hex, of the body as served, where it is kept otherwise (a .gz download)
  std::size_t networks = 0;       // networks in the body
  std::size_t lines = 0;          // lines in the body
  bool absent = false;            // legitimately empty/missing upstream
};

// Age in whole days of `t` at `now`; -1 when t is unknown (0) or in the
// future. The one formula of a data age (reports, staleness, status).
std::int64_t age_days(std::int64_t t, std::int64_t now);

// True when the zone's data is older than `stale_after_days`: upstream did
// not change it for that long (last_modified) or we could not fetch it for
// that long (fetched_at). stale_after_days <= 0 disables the check.
bool is_stale(const ZoneMeta& meta, std::int64_t now, int stale_after_days);

class ZoneCache {
public:
  // Does not touch the disk; the directory is created by the first store().
  explicit ZoneCache(std::string dir);
  ~ZoneCache(); // sync(), a failure only a warning: call sync() to see it
  ZoneCache(const ZoneCache&) = delete;
  ZoneCache& operator=(const ZoneCache&) = delete;

  // Makes the renames of earlier store()/store_meta() calls durable.
  // Throws Error naming the directory when it cannot (util::sync_dir).
  void sync() const;

  const std::string& dir() const { return m_dir; }

  // Paths of a zone's body and metadata (they may not exist).
  std::string zone_path(const std::string& country, net::Family family) const;
  std::string meta_path(const std::string& country, net::Family family) const;
  // The cached upstream MD5SUM list of a family's directory.
  std::string md5sum_path(net::Family family) const;

  // The zone's metadata, or nothing when there is none or it is unreadable.
  std::optional<ZoneMeta> read_meta(const std::string& country, net::Family family) const;

  // The cached body of `meta`'s zone. Nothing (and `problem` says why) when
  // the body is missing; `hash_ok` tells whether it matches meta.sha256.
  std::optional<std::string> read_body(const ZoneMeta& meta, bool* hash_ok = nullptr,
                                       std::string* problem = nullptr) const;

  // Stores a validated body and its metadata atomically (body first).
  // meta.size, sha256 and md5 are computed here from `body`. Throws Error
  // naming the file on I/O failure. Data is fsynced before each rename; the
  // directories are fsynced by sync() or the destructor, once per run
  // rather than once per file. With a `batch`, the files are only added to
  // it and change when the caller commits the batch (one sync for all).
  void store(ZoneMeta meta, std::string_view body, util::AtomicBatch* batch = nullptr) const;

  // Rewrites only the metadata (e.g. new ETag after a 304).
  void store_meta(const ZoneMeta& meta) const;

  // Records `when` as the last successful fetch of these zones of `family`
  // (countries, or "MD5SUM") in one atomic write of DIR/<family>/FETCHED.
  void record_fetched(net::Family family, const std::vector<std::string>& countries, std::int64_t when) const;

  // Every cached zone (checksum lists excluded), sorted by family (v4
  // first) then country. Reads only the .meta files.
  std::vector<ZoneMeta> list() const;

private:
  std::int64_t fetched_time(const std::string& country, net::Family family) const;
  void make_family_dir(net::Family family) const;

  std::string m_dir;
  // FETCHED of each family, loaded on first use (not thread-safe).
  mutable std::vector<std::pair<std::string, std::int64_t>> m_fetched[2];
  mutable bool m_fetched_loaded[2] = {false, false};
  mutable bool m_dirty[2] = {false, false}; // renames not yet made durable
  mutable bool m_dir_made[2] = {false, false};
};

// The "key=value" text of a .meta file, and back. parse_meta returns nothing
// on a malformed file.
std::string format_meta(const ZoneMeta& meta);
std::optional<ZoneMeta> parse_meta(std::string_view text);

} // namespace geoblock::fetch
