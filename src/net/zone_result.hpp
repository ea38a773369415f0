// What every zone source (HTTP fetcher with its cache, offline bundle,
// MaxMind CSV zip) hands the rest of the program: one result per country
// and family, with its networks as read (not aggregated) and where they
// came from.
#pragma once

#include "net/cidr.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace geoblock::net {

enum class Origin {
  Downloaded,  // fresh data, validated and cached in this run
  NotModified, // the cached copy is current (304, or a 200 with the same hash)
  StaleCache,  // this run failed for this zone; the last good cached copy is used
  Failed,      // failed and no cached copy exists: no data for this zone
  Absent,      // legitimately empty or missing upstream (e.g. no IPv6 space)
  Local,       // read from a local source (bundle, MaxMind zip)
  Refused,     // this run's new data covers more than max-shrink fewer addresses than the last good
               // copy (fetch/shrink_guard.hpp): the last good copy is kept, in the cache and here, and
               // `error` is the refusal; the commands refuse to apply (exit code 3) unless --force
};

const char* origin_name(Origin o); // "downloaded", "not modified", "stale cache", ...
// True when this run fetched or confirmed the zone's data (everything but
// a stale cache, a failure or a refused copy).
constexpr bool
is_fresh(Origin o)
{
  return o != Origin::StaleCache && o != Origin::Failed && o != Origin::Refused;
}

struct ZoneResult {
  std::string country; // lower-case ISO 3166-1 alpha-2 code
  Family family = net::Family::V4;
  Origin origin = Origin::Failed;
  NetList nets;                   // the networks as read (one family filled)
  std::size_t lines = 0;          // lines of the zone as read
  std::string location;           // URL, cache path or bundle member
  std::string error;              // why StaleCache / Failed / Absent / Refused
  std::int64_t fetched_at = 0;    // unix time of the last successful fetch (0: unknown)
  std::int64_t last_modified = 0; // unix time the data changed upstream (0: unknown)
  std::uint64_t bytes = 0;        // body bytes transferred in this run
  std::string sha256;             // of the zone body used
  bool stale = false;             // data older than the configured age (feed may have stopped)
  std::string source;             // the configured source that served it ("http", "rir", ...; empty: unnamed)

  bool usable() const { return origin != Origin::Failed; }
  std::size_t networks() const { return nets.size(); }
};

} // namespace geoblock::net
