// `source = mmdb`: countries from MaxMind-format databases (.mmdb:
// GeoLite2-Country as geoipupdate keeps it, DB-IP's country lite, IPinfo,
// ip-location-db), read whole through source/mmdb.hpp and split per
// country like every other source.
//
// Which field names a network's country, per database (decided by the
// metadata's database_type and confirmed on the data, logged with the
// reason, so a dry run says which and why):
//   - `mmdb-field PATH` when configured (dot-separated: "country.iso_code");
//   - else what the database_type names (mmdb_layout()): `country.iso_code`
//     for MaxMind's (GeoLite2-Country, GeoIP2-City, ...) and DB-IP's
//     (DBIP-Country-Lite, ...); the flat `country_code` for ip-location-db's
//     ("country ipv4", "country ipv6", "country ipvAll"); for IPinfo's
//     ("ipinfo ..."), `country_code` (IPinfo Lite), else `country` (the
//     older free databases, where it is the code);
//   - the first record that has any of these fields (or, for an unknown
//     type, `country.iso_code` or `country_code`) confirms it; when it has
//     another of them instead, the data wins and the reason says so;
//   - with `mmdb-registered-fallback = true` a record without
//     `country.iso_code` counts by `registered_country.iso_code` (MaxMind
//     leaves the located country empty for some networks known only by
//     registration).
// A record without the field is no country's (skipped). A value that is
// not two ASCII letters refuses the database, and so does a database whose
// type says it is an AS database (GeoLite2-ASN, DBIP-ASN-Lite, ...) and
// whose records name no country: it belongs in asn-file.
//
// Every counted network (wanted country or not) passes the min-prefix
// guard, as zone lines do. Several files (`mmdb-file` repeatable, e.g. an
// IPv4 and an IPv6 database) are read into one union.
//
// Last good copy: with a cache directory, a database read whole is copied
// to DIR/mmdb/NAME-HASH.mmdb (when it changed). A database that cannot be
// read (corrupt, truncated, missing) is one warning naming the file; its
// cached copy then serves (every zone a stale cache, exit code 4), or,
// without one, every zone fails naming the file. A database (a file or a
// download) whose new data shrank beyond max-shrink against its last good
// copy, in any configured zone, is refused whole like the zone fetcher's
// zones: the copy stays and serves, the zones that shrank are Refused (the
// commands refuse to apply them, exit code 3, until --force).
#pragma once

#include "fetch/shrink_guard.hpp"
#include "net/zone.hpp"
#include "net/zone_result.hpp"
#include "net/zone_source.hpp"
#include "source/mmdb.hpp"
#include "source/remote_file.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::source {

inline constexpr const char* k_default_mmdb_file = "/var/lib/GeoIP/GeoLite2-Country.mmdb";

struct MmdbOptions {
  std::vector<std::string> files{k_default_mmdb_file};
  bool registered_fallback = false;
  std::optional<MmdbPath> field; // mmdb-field; nothing: detected
  // Only min_prefix_v4/v6 are used.
  net::ZoneOptions zone{net::Families::Both, net::k_default_min_prefix_v4, net::k_default_min_prefix_v6};
  std::string cache_dir;               // the last good copies (DIR/mmdb); empty: none kept
  int stale_after_days = 0;            // warn when the database is older (0: never)
  std::function<std::int64_t()> clock; // unix time; empty: the wall clock
  // The path to open for a configured file (the separated child reads a
  // descriptor root opened: /proc/self/fd/N); empty: the file itself.
  // Messages and the cache always use the configured path.
  std::function<std::string(const std::string&)> reach;
  // mmdb-url: databases downloaded into cache_dir/mmdb (source/remote_file.hpp),
  // read with `files`; `download` carries the HTTP options (its cache_dir,
  // sub and offline are set here).
  std::vector<std::string> urls;
  RemoteFileOptions download;
  // max-shrink (fetch/shrink_guard.hpp): a database's new data that covers
  // more than shrink.max_shrink fewer addresses than its last good copy in
  // one of these zones (the configured countries and families; empty: the
  // countries of the load) does not replace that copy, which serves every
  // zone of the database: the zones that shrank are Refused, the others a
  // stale cache. shrink.force takes the new data (with a warning).
  fetch::ShrinkGuard shrink;
  std::vector<std::string> countries;
  net::Families families = net::Families::Both;
};

// What one database gave: every country's networks (lower-case codes).
struct MmdbCountries {
  MmdbMetadata metadata;
  std::string field; // the field used: "country.iso_code", "country_code", ...
  std::string why;   // why that one: "database_type GeoLite2-Country: MaxMind's layout", ...
  struct Country {
    std::string code;
    net::NetList nets;
  };
  std::vector<Country> countries;           // in order of first appearance
  std::size_t without_country = 0;          // networks with a record but no country
  std::optional<MmdbPath> path;             // the field used (nothing: none found)
  std::shared_ptr<const MmdbFile> database; // the database read, still open (lookups)
};

// What a database_type says of the country field: the layout's name
// ("MaxMind's layout") and the fields it puts the code in, in the order
// they are looked for; nothing for a type geoblock does not know. `as_only`
// is set for the types of AS databases (no country expected).
struct MmdbLayout {
  std::string name;
  std::vector<MmdbPath> fields;
  bool as_only = false;
};
std::optional<MmdbLayout> mmdb_layout(const std::string& database_type);

// Reads one database whole (tests, the fuzzer, the bench). Throws Error
// naming the file on anything unusable.
// `name`: the path messages use (default: `path`).
MmdbCountries read_mmdb_countries(const std::string& path, const MmdbOptions& options,
                                  const std::string& name = {});

class MmdbSource final : public net::ZoneSource {
public:
  explicit MmdbSource(MmdbOptions options) : m_options(std::move(options)) {}
  std::string describe() const override;
  // One result per country and family, as read_maxmind's: Local (Absent
  // when no database lists it; Downloaded or NotModified when URLs are
  // configured and no file), location the file(s) and URL(s),
  // last_modified the oldest build epoch, fetched_at the newest file time.
  // Both modes read the files; CacheOnly reads the URLs' cached copies.
  std::vector<net::ZoneResult> load(const std::vector<std::string>& countries, net::Families families,
                                    Mode mode) override;
  // What the databases the last load() used (the files, or the last good
  // copies that served) say of each address: its country (by the field
  // each was read by), and its AS where the records have AS fields
  // (IPinfo's country_asn: asn_source.hpp's layouts); the first database
  // holding it answers. Source "mmdb".
  void look_up(const std::vector<net::Address>& addresses, std::vector<net::AddressFact>& out) const override;
  // The last good copies kept in cache_dir/mmdb (each file's and URL's),
  // for status: the file name, its age (the database's build date when it
  // opens, else the copy's time) and whether it opens as a database.
  std::optional<net::CacheReport> cache(std::int64_t now) const override;
  // DIR/mmdb (the last good copies, the downloads) when there is a cache
  // directory; the databases, which the root process opens.
  std::vector<std::string> cache_folders() const override;
  std::vector<std::string> files() const override { return m_options.files; }

  // The cached copy of `file` under `cache_dir` (DIR/mmdb/NAME-HASH.mmdb).
  static std::string cached_copy(const std::string& cache_dir, const std::string& file);

private:
  MmdbOptions m_options;
  struct Used {
    std::shared_ptr<const MmdbFile> database;
    std::optional<MmdbPath> field;
  };
  std::vector<Used> m_used; // by the last load(), in order
};

} // namespace geoblock::source
