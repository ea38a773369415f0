// The autonomous systems of a run (asn, allow-asn) folded into what the
// plan already knows, so that the plan, the reports and the backends need
// nothing new:
//   - each blocked AS is a list of its own, named "AS13335 Cloudflare,
//     Inc.", located "asn:13335:FILES" (a row of the dry run, merged into
//     the block like a blocklist, its shrink against the last update
//     guarded by max-shrink like a URL list's,
//     with the allowlist and local networks still winning; in allow-only
//     mode taken out of the allowed countries);
//   - each allowed AS's networks are exempt: with policy block they join
//     the allowlist (taken out of the block); with policy allow-only they
//     join what the set allows, as a row of their own like a country's
//     (one set lookup, not one rule per network); a log line per AS.
#pragma once

#include "flow/config.hpp"
#include "net/asn.hpp"
#include "net/blocklist.hpp"
#include "net/zone_result.hpp"

#include <string>
#include <vector>

namespace geoblock::flow {

// What loading the ASes adds to a plan: warnings for allowed ASes
// without data (their networks are then not exempt), counted as failed
// or stale like zones.
struct AsnFold {
  std::vector<std::string> warnings;
  std::size_t failed = 0;
  std::size_t stale = 0;
};
AsnFold fold_asns(const std::vector<net::AsnResult>& asns, Settings& settings,
                  std::vector<net::ZoneResult>& zones, std::vector<net::BlocklistResult>& lists);

// The ASes holding `addr` among `asns`, for check: "AS13335 Cloudflare,
// Inc. (198.51.100.0/24, asn)", "AS64496 Example (203.0.113.0/24,
// allow-asn)", comma-separated; empty when none.
std::string asns_holding(const std::vector<net::AsnResult>& asns, std::uint32_t addr);
std::string asns_holding(const std::vector<net::AsnResult>& asns, net::u128 addr);

} // namespace geoblock::flow
