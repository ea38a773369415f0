// Where zones come from, behind one interface: the HTTP mirror with its
// cache (fetch::HttpSource), the registries' statistics (fetch::RirSource),
// an offline bundle (source::BundleSource), a MaxMind GeoLite2 zip
// (source::MaxmindSource), .mmdb databases (source::MmdbSource), several
// of them in turn (source::FailoverSource). A ZoneSource is a DataSource
// (data_source.hpp) that returns zones only.
#pragma once

#include "net/cidr.hpp"
#include "net/data_source.hpp"
#include "net/zone_result.hpp"

#include <string>
#include <vector>

namespace geoblock::net {

class ZoneSource : public DataSource {
public:
  using Mode = LoadMode;

  // One result per country and family (v4 zones first, then v6, countries
  // in the given order, which must be validated codes). A zone's failure is
  // its result's origin and error, never an exception; throws Error only
  // for what affects every zone (an unreadable bundle, a cache that cannot
  // be written).
  virtual std::vector<ZoneResult> load(const std::vector<std::string>& countries, Families families,
                                       Mode mode) = 0;
  // load() of the request's countries and families, as zones of `out`;
  // then, when the request has lookups, look_up() into out.facts.
  void load_into(const LoadRequest& request, SourceData& out) override;
  // What the data the last load() read says of `addresses` (a country, an
  // AS), appended to `out` (each fact's address an index into
  // `addresses`). Nothing by default: a zone holds one country's networks,
  // not an answer for any address; source mmdb's databases hold every
  // country's.
  virtual void look_up(const std::vector<Address>& /*addresses*/, std::vector<AddressFact>& /*out*/) const {}
  // One zone per country and family, in load()'s order.
  SourceData expected(const LoadRequest& request) const override;
  // cache(): what the source keeps between runs, for status; a failover
  // list reports every source's cache together.
};

} // namespace geoblock::net
