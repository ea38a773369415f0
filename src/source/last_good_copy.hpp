// The last good copies of the data files the sources read whole (mmdb-file:
// DIR/mmdb/NAME-HASH.mmdb, asn-file: DIR/asn/NAME-HASH; the downloads of
// mmdb-url and asn-url beside them, source/remote_file.hpp), and what
// status says of them.
//
// Each copy has its metadata beside it, COPY.meta (fetch::ZoneMeta's
// format), written by the fetching process with the copy: where the data
// came from (url: the configured file or the URL), the copy's size and
// SHA-256, when it was written (changed_at, fetched_at) and when its data
// was made (last_modified: a database's build epoch, a file's modification
// time, the server's Last-Modified). status reads that metadata (the
// strict .meta parser, as for the zones) and the copy only to hash it: the
// root process never parses a copy, which the fetching process wrote.
#pragma once

#include "net/data_source.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace geoblock::source {

// The largest copy status hashes (a whole-world City database is ~130 MB).
inline constexpr std::size_t k_max_copy_bytes = std::size_t{1} << 30;

// True when `copy` holds exactly `bytes` and its metadata says so (its
// SHA-256 and size): nothing to write.
bool copy_holds(const std::string& copy, const std::string& bytes);

// Writes `bytes` as the last good copy `copy` (its folder made when
// missing, mode 0755) and then its metadata: `kind` ("mmdb", "asn") is
// the metadata's required name, `origin` the configured file, `data_time`
// when the data was made (0: unknown), `now` the time of writing. Throws
// Error naming the file when it cannot write.
void keep_copy(const std::string& copy, const std::string& kind, const std::string& origin,
               const std::string& bytes, std::int64_t data_time, std::int64_t now);

// What status says of the copy `copy` (nothing when there is none): its
// file name, the age of its data (last_modified, else when it was
// written), the days since it was written, whether it is intact (its
// metadata reads and the copy matches its SHA-256), and whether its data
// is older than `stale_days` (0: never).
std::optional<net::CachedZone> copy_status(const std::string& copy, std::int64_t now, int stale_days);

} // namespace geoblock::source
