// What a run loads, behind one interface: the zones of the configured
// countries, the extra blocklists (`blocklist`) and the autonomous systems
// (`asn`, `allow-asn`). Every kind of source is a DataSource: the zone
// sources through ZoneSource (zone_source.hpp), fetch::BlocklistSource,
// source::AsnSource; so are the compositions the commands hold: several
// sources loaded in turn (SourceList), or in a confined child process
// (privsep::SeparatedSource). The commands hold one DataSource and never
// know which (ninja's DiskInterface).
//
// Each source also declares what it needs when it runs in the confined
// child (docs/security.md): the folders of the cache directory it writes,
// the files the root process opens for it, and whether the root process
// may read its cache itself.
#pragma once

#include "net/asn.hpp"
#include "net/blocklist.hpp"
#include "net/cidr.hpp"
#include "net/lookup.hpp"
#include "net/zone_result.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::net {

enum class LoadMode {
  Refresh,   // what the source does on an update (download what changed)
  CacheOnly, // no network: restore at boot, check, --offline
};

struct LoadRequest {
  std::vector<std::string> countries; // validated codes, in the configured order
  Families families = Families::Both;
  LoadMode mode = LoadMode::Refresh;
  // The addresses check asks about (net/lookup.hpp): a source whose data
  // knows the AS or country of an address says so in SourceData::facts,
  // from the same data it loads (its last good copy where that serves).
  std::vector<Address> lookups = {};
};

// Everything a load returns; each source fills its own kind.
struct SourceData {
  std::vector<ZoneResult> zones;      // one per country and family asked for (zone_source.hpp)
  std::vector<BlocklistResult> lists; // one per configured list, in the configured order
  std::vector<AsnResult> asns;        // one per AS asked for: blocked ones, then allowed ones
  // What the data says of the addresses asked about: per address, at most
  // one fact of each kind from each source ("asn", "mmdb"), in any order.
  std::vector<AddressFact> facts;
};

// One zone (or file) a source keeps between runs (the HTTP cache, rir's
// delegation files), for status.
struct CachedZone {
  std::string country;
  Family family = Family::V4;
  std::size_t networks = 0;
  std::int64_t age_days = -1;         // of the data (-1: unknown)
  std::int64_t fetched_days_ago = -1; // since the last successful fetch (-1: unknown)
  bool stale = false;                 // older than the configured age
  bool body_ok = false;               // present and matching its recorded hash
  std::string file; // a cached file that is not one zone (rir's delegation files): its name; country empty
};

struct CacheReport {
  std::string where; // the cache directory
  int stale_days = 0;
  std::vector<CachedZone> zones;
};

class DataSource {
public:
  virtual ~DataSource() = default;
  // "https://www.ipdeny.com", "bundle /srv/zones.zip": for messages.
  virtual std::string describe() const = 0;
  // Appends to `out` what the source returns for `request`, exactly the
  // results expected(request) names, in that order. One zone's, list's or
  // AS's failure is its result's origin and error, never an exception;
  // throws Error only for what affects all it returns (an unreadable
  // bundle, a cache that cannot be written).
  virtual void load_into(const LoadRequest& request, SourceData& out) = 0;
  // The results load_into appends for `request`, with only what names each
  // filled in (a zone's country and family, a list's name and location, an
  // AS's number and allow flag): what a report of the load must hold and
  // nothing else (privsep checks the confined child's report against it).
  virtual SourceData expected(const LoadRequest& request) const = 0;
  // What the source keeps between runs, for status; nothing for sources
  // that read a local file each time. `now` is unix time.
  virtual std::optional<CacheReport> cache(std::int64_t /*now*/) const { return std::nullopt; }

  // The folders of the cache directory the source writes ("v4", "rir"):
  // the root process hands them to the fetch-user when the source runs in
  // the confined child, and no other (a host keeps its cache as it was for
  // sources it does not use).
  virtual std::vector<std::string> cache_folders() const { return {}; }
  // The local files the source reads (a bundle, mmdb-file, a FILE
  // blocklist): the root process opens them and hands them over, so the
  // fetch-user needs no access of its own.
  virtual std::vector<std::string> files() const { return {}; }
  // A CacheOnly load that reads nothing but the source's own cache, every
  // file as written by a less trusted process (util::read_untrusted_file)
  // and through the strict zone or list parser: one the root process may
  // run itself, with no child (restore at boot needs no fork). Appends to
  // `out` and returns true; false, `out` untouched, for a source whose
  // cache holds data only the confined child may parse.
  virtual bool load_cache_here(const LoadRequest& /*request*/, SourceData& /*out*/) const { return false; }
};

// What `source` returns for `request`, in one value.
inline SourceData
load(DataSource& source, const LoadRequest& request)
{
  SourceData out;
  source.load_into(request, out);
  return out;
}

// Several sources as one, loaded in turn in the given order (in process:
// the tests' fakes). Its cache is every source's (the first one's
// directory, then the others' after ", ").
class SourceList final : public DataSource {
public:
  explicit SourceList(std::vector<std::unique_ptr<DataSource>> sources) : m_sources(std::move(sources)) {}
  std::string describe() const override;
  void load_into(const LoadRequest& request, SourceData& out) override;
  SourceData expected(const LoadRequest& request) const override;
  std::optional<CacheReport> cache(std::int64_t now) const override;
  std::vector<std::string> cache_folders() const override;
  std::vector<std::string> files() const override;
  bool load_cache_here(const LoadRequest& request, SourceData& out) const override;

private:
  std::vector<std::unique_ptr<DataSource>> m_sources;
};

// `from` appended to `to`, kind by kind.
void append(SourceData& to, SourceData&& from);
// Each report of `reports` (nothing for none) merged into one: the zones
// together, "where" joined with ", ".
std::optional<CacheReport> merge(std::vector<std::optional<CacheReport>> reports);

} // namespace geoblock::net
