// Where zones come from, behind one interface: the HTTP mirror with its
// cache (fetch::HttpSource), an offline bundle (source::BundleSource), a
// MaxMind GeoLite2 zip (source::MaxmindSource); the sources issue adds
// more. The commands hold a ZoneSource and never know which kind.
#pragma once

#include "net/cidr.hpp"
#include "net/zone_result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::net {

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

class ZoneSource {
public:
  enum class Mode {
    Refresh,   // what the source does on an update (download what changed)
    CacheOnly, // no network: restore at boot, check, --offline
  };

  virtual ~ZoneSource() = default;
  // "https://www.ipdeny.com", "bundle /srv/zones.zip": for messages.
  virtual std::string describe() const = 0;
  // One result per country and family (v4 zones first, then v6, countries
  // in the given order, which must be validated codes). A zone's failure is
  // its result's origin and error, never an exception; throws Error only
  // for what affects every zone (an unreadable bundle, a cache that cannot
  // be written).
  virtual std::vector<ZoneResult> load(const std::vector<std::string>& countries, Families families,
                                       Mode mode) = 0;
  // What the source keeps between runs, for status; nothing for sources
  // that read a local file each time. `now` is unix time. A failover list
  // reports every source's cache together.
  virtual std::optional<CacheReport> cache(std::int64_t /*now*/) const { return std::nullopt; }
};

} // namespace geoblock::net
