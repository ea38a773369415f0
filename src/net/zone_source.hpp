// Where zones come from, behind one interface: the HTTP mirror with its
// cache (fetch::HttpSource), an offline bundle (source::BundleSource), a
// MaxMind GeoLite2 zip (source::MaxmindSource); the sources issue adds
// more. The commands hold a ZoneSource and never know which kind.
#pragma once

#include "net/cidr.hpp"
#include "net/zone_result.hpp"

#include <string>
#include <vector>

namespace geoblock::net {

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
};

} // namespace geoblock::net
