// ASN data (`asn-file`): which networks each autonomous system holds, for
// `asn` (block) and `allow-asn` (allow). Formats, detected per file:
//   - a MaxMind-format database (.mmdb) with autonomous_system_number and
//     autonomous_system_organization (GeoLite2-ASN, ip-location-db's asn
//     databases), or with asn as "AS13335" and as_name or name (IPinfo);
//   - iptoasn's ip2asn-v4.tsv / ip2asn-v6.tsv and ip-location-db's
//     start,end,asn,org CSV (net/asn.hpp), also gzip-compressed (.gz).
// Every file is untrusted input (read in the fetching process): a file
// that is unreadable, damaged, truncated, of no known format, or whose
// wanted networks fail the min-prefix guard, is one warning naming it. Its
// last good copy (kept in DIR/asn/NAME-HASH when a read succeeded) then
// serves, every AS a stale cache (exit code 4); without one every AS
// fails, naming the file.
#pragma once

#include "net/asn.hpp"
#include "net/data_source.hpp"
#include "net/zone.hpp"
#include "source/mmdb.hpp"
#include "source/remote_file.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::source {

struct AsnOptions {
  std::vector<std::string> files;   // asn-file, in order
  std::vector<std::uint32_t> block; // asn
  std::vector<std::uint32_t> allow; // allow-asn
  // Only min_prefix_v4/v6 are used.
  net::ZoneOptions zone{net::Families::Both, net::k_default_min_prefix_v4, net::k_default_min_prefix_v6};
  std::string cache_dir;                        // last good copies in DIR/asn; empty: none kept
  std::size_t max_bytes = std::size_t{1} << 30; // per file, after decompression
  // The path to open for a configured file (see MmdbOptions::reach).
  std::function<std::string(const std::string&)> reach;
  // asn-url: files downloaded into cache_dir/asn (source/remote_file.hpp),
  // read with `files`; `download` carries the HTTP options (its cache_dir,
  // sub and offline are set here, offline from `offline`).
  std::vector<std::string> urls;
  RemoteFileOptions download;
  bool offline = false;                // CacheOnly: the URLs' cached copies alone
  std::function<std::int64_t()> clock; // unix time; empty: the wall clock
  int stale_after_days = 0;            // status: a copy whose data is older is stale (0: never)
};

// One result per AS asked for: those of `block` in order, then those of
// `allow` (allow set). Local when the data has networks for it, Absent
// when none, StaleCache / Failed as above. location: the files. With
// `facts`, the AS holding each of `lookups` is appended to it (source
// "asn"): the first file (downloads, then files) whose data, as read in
// this load (a last good copy where that serves), holds the address.
std::vector<net::AsnResult> load_asns(const AsnOptions& options,
                                      const std::vector<net::Address>& lookups = {},
                                      std::vector<net::AddressFact>* facts = nullptr);

// The ASes as a DataSource that returns ASes only (net/data_source.hpp):
// load_asns, offline in CacheOnly mode; its cache is DIR/asn (the last
// good copies, the downloads, each with its .meta) when it has a cache
// directory; its files are the asn-files, which the root process opens for
// the confined child.
class AsnSource final : public net::DataSource {
public:
  explicit AsnSource(AsnOptions options) : m_options(std::move(options)) {}
  std::string describe() const override;
  void load_into(const net::LoadRequest& request, net::SourceData& out) override;
  net::SourceData expected(const net::LoadRequest& request) const override;
  // The last good copies kept in cache_dir/asn (each asn-file's and
  // asn-url's), for status: the file name, its data's age, since when it
  // is kept, whether it matches its metadata's SHA-256
  // (source/last_good_copy.hpp; nothing of it is parsed).
  std::optional<net::CacheReport> cache(std::int64_t now) const override;
  std::vector<std::string> cache_folders() const override;
  std::vector<std::string> files() const override { return m_options.files; }

private:
  AsnOptions m_options;
};

// Reads one file (format detected) into `out`: the networks of the ASes
// `query` asks for and the AS holding each of its lookups (out.hits).
// `name` is what messages call it. Throws Error.
void read_asn_file(const std::string& path, const std::string& name, const net::AsnQuery& query,
                   net::AsnData& out, std::size_t max_bytes = std::size_t{1} << 30);
// The same keeping only the `wanted` ASes (all when empty).
void read_asn_file(const std::string& path, const std::string& name, const std::vector<std::uint32_t>& wanted,
                   net::AsnData& out, std::size_t max_bytes = std::size_t{1} << 30);

// An AS record of a database: autonomous_system_number and
// autonomous_system_organization (GeoLite2-ASN, ip-location-db), or asn
// as "AS13335" and as_name or name (IPinfo); the name made printable and
// trimmed. Nothing for a record with neither; throws Error naming the
// database for an AS number that is none.
struct MmdbAs {
  std::uint32_t number = 0;
  std::string name;
};
std::optional<MmdbAs> mmdb_as_of(const MmdbFile& db, std::uint32_t record);

// The cached copy of `file` under `cache_dir`.
std::string asn_cached_copy(const std::string& cache_dir, const std::string& file);

} // namespace geoblock::source
