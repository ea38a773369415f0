// Extra blocklists (the `blocklist` key): any list of networks or
// addresses, one per line, such as Spamhaus DROP, an ASN's prefixes or a
// firehol netset, read strictly.
//
// Accepted line forms (surrounding blanks and a CR before the LF allowed):
//   a.b.c.d/len     x:y::z/len     a.b.c.d (= /32)     x::y (= /128)
//   # comment       ; comment      (blank)
//   NETWORK # trailing comment     NETWORK ; trailing comment (Spamhaus: "1.2.3.0/24 ; SBL123")
// Both families may stand in one list. Anything else (an HTML page, a
// second field, a bad address, a prefix shorter than the guard's minimum)
// throws ParseError naming the source, line and problem, and the list adds
// nothing: a list is taken whole or not at all.
#pragma once

#include "net/cidr.hpp"
#include "net/zone.hpp"
#include "net/zone_result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace geoblock::net {

// Parses `text`, appending its networks to `out` only when every line is
// acceptable. `source` names the list in errors ("drop.txt https://..."
// or a path). options.families is ignored (a list holds both families);
// its minimum prefixes are the disaster guard, as for zones.
ZoneStats parse_blocklist(std::string_view text, const std::string& source, const ZoneOptions& options,
                          NetList& out);

// A list's name in reports: the last path segment of its URL or path,
// without query or fragment ("https://www.spamhaus.org/drop/drop.txt" ->
// "drop.txt"); the whole location when that is empty.
std::string blocklist_name(std::string_view location);

// One extra blocklist as loaded for a run: the counterpart of ZoneResult
// for a list that holds both families.
struct BlocklistResult {
  std::string name;     // blocklist_name(location), unique among the configured lists
  std::string location; // the URL or path as configured
  Origin origin = Origin::Failed;
  NetList nets;                   // the networks as read (both families)
  std::size_t lines = 0;          // lines as read
  std::string error;              // why StaleCache / Failed / Refused
  std::int64_t fetched_at = 0;    // unix time of the last successful read or fetch (0: unknown)
  std::int64_t last_modified = 0; // unix time the list changed upstream (0: unknown)
  std::uint64_t bytes = 0;        // body bytes transferred in this run
  std::string sha256;             // of the list used

  bool usable() const { return origin != Origin::Failed; }
};

} // namespace geoblock::net
