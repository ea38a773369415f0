// max-shrink, per zone: a zone's new data (one country and family, or one
// family of a blocklist) against its own last good copy. Upstream data that
// suddenly covers far fewer addresses is a broken feed until the
// administrator says otherwise (--force); a configuration change (a country
// or list removed, the allowlist grown, `family` or `policy` changed) never
// reaches this comparison, because it changes which zones are asked for and
// what is done with them, not a zone's data.
//
// What counts is the addresses a zone covers (overlaps once), not its
// number of networks: upstream aggregating 256 /24s into one /16, or
// splitting a /16 at an allocation boundary, changes the network count and
// blocks exactly the same addresses.
//
// The comparison happens where the last good copy is kept, before the new
// copy replaces it (fetcher.cpp, rir_source.cpp, blocklist_fetch.cpp: inside
// the fetching process), so a refused copy never becomes the next run's
// "last good" one. A refused zone's result is Origin::Refused with the last
// good copy's networks and the refusal as its error; the commands turn it
// into a SafetyError (exit code 3) before anything is applied.
#pragma once

#include "net/cidr.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace geoblock::fetch {

// Throws ConfigError (the problem) unless 0 <= fraction <= 1.
void check_max_shrink(double fraction);

struct ShrinkGuard {
  double max_shrink = 0.5; // the fraction of a zone's addresses that may go in one step
  bool force = false;      // --force: accept a larger shrink (with a warning) and keep it as the new copy
};

// One family of a zone or list, before (its last good copy) and after (this
// run's data).
struct Shrink {
  std::size_t networks_before = 0, networks_after = 0; // as read
  long double addresses_before = 0, addresses_after = 0;

  // The fraction of the addresses gone (0 when none went, or none were
  // covered before: a zone with nothing before never shrinks).
  double fraction() const;
};

// The addresses `nets` covers in `family` (overlaps counted once).
long double covered_addresses(const net::NetList& nets, net::Family family);
Shrink measure_shrink(const net::NetList& before, const net::NetList& after, net::Family family);

// True when `s` takes away more than `max_shrink` of the addresses.
bool beyond(const Shrink& s, double max_shrink);

// The refusal (or, forced, the warning) as one line:
// "nz IPv4: 9581 to 301 networks (-97% of the addresses, more than
// max-shrink 50%) against its last good copy of 2026-11-18 10:00 UTC".
// `subject` names the zone ("nz IPv4", "blocklist drop.txt IPv4"),
// `against` what it was compared with ("its last good copy of ...").
std::string describe_shrink(const std::string& subject, const Shrink& s, double max_shrink,
                            const std::string& against);
// "its last good copy of 2026-11-18 10:00 UTC" (unknown time: without it).
std::string last_good_copy_of(std::int64_t when);

} // namespace geoblock::fetch
