// From the zones every source returns to what the kernel should hold, and
// the report of it: the step between fetching and applying. A dry run stops
// after this; nothing here needs root or touches the kernel.
#pragma once

#include "flow/config.hpp"
#include "net/asn.hpp"
#include "net/blocklist.hpp"
#include "net/cidr.hpp"
#include "net/zone_result.hpp"
#include "util/json.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace geoblock::flow {

struct ZoneRow {
  net::Origin origin = net::Origin::Failed;
  bool present = false;       // the family was requested
  std::size_t networks = 0;   // as read
  std::size_t aggregated = 0; // after collapsing this zone alone
  long double addresses = 0;  // covered (overlaps once): what max-shrink compares
  std::int64_t age_days = -1; // of the data (-1: unknown)
  std::string error;
  std::string source; // the configured source that served it ("http", "rir", ...; empty: none did)
};

struct CountryRow {
  std::string country;
  ZoneRow v4;
  ZoneRow v6;
};

// An extra blocklist's row: named after its file, one column per family.
struct BlocklistRow {
  std::string name;     // "drop.txt"
  std::string location; // the URL or path as configured
  ZoneRow v4;
  ZoneRow v6;
};

// An autonomous system's row (asn, allow-asn; flow/asn_plan.hpp): one per
// AS asked for, blocked ones then allowed ones, whatever the policy.
struct AsnRow {
  std::uint32_t number = 0;
  std::string name;     // the organisation as the data names it (may be empty)
  bool allow = false;   // allow-asn (else asn)
  std::string location; // the ASN data: files and URLs
  ZoneRow v4;
  ZoneRow v6;
  // max-shrink compares it with what the last update applied: a blocked
  // AS, and with policy allow-only an allowed one (its networks are what
  // the set lets in); an allowed AS with policy block only exempts, like
  // the allowlist.
  bool guarded = false;

  // "AS13335 Cloudflare, Inc.", "allow AS64497 Example Office".
  std::string label() const;
  const char* action() const { return allow ? "allow" : "block"; }
};

// What one source puts in the block with policy block, and what is done
// to its packets: the unit the firewall counts by (one counter per source,
// family and direction) and acts by.
struct SourceTarget {
  std::string source; // "nz" (a country, lower case), "list:drop.txt", "as:64496"
  apply::SourceAction action;
  net::NetList nets; // minimal and sorted; disjoint from every other source's
};

// The order in which sources claim an address several of them hold (one
// address, one source, one action): the strongest action first (drop,
// reject, limit, count), then the most specific data (blocklists, ASes,
// countries), then the configured order.
int action_rank(const apply::SourceAction& action);

struct Report {
  std::vector<CountryRow> rows;
  std::vector<BlocklistRow> blocklists; // after the countries, in configured order
  std::vector<AsnRow> asns;             // after the blocklists: blocked ASes, then allowed ones
  net::NetList target;                  // what the sets should hold, aggregated
  // Policy block: the target by source, in precedence order; their
  // networks together are exactly `target`. Empty with allow-only.
  std::vector<SourceTarget> sources;
  std::size_t networks_v4 = 0; // all zones, as read
  std::size_t networks_v6 = 0;
  std::vector<std::string> warnings;
  // Zones and lists whose new data max-shrink refused, one line each
  // ("nz IPv4: 9581 to 301 networks (...) against ..."): by the source,
  // which kept the last good copy (Origin::Refused), or by
  // check_shrink_against. update refuses to apply them (exit code 3)
  // unless --force; a dry run names them.
  std::vector<std::string> refused;
  bool force = false;        // --force: an update takes them (the report says so)
  std::size_t failed = 0;    // zones with no data at all
  std::size_t stale = 0;     // zones on a stale cache
  bool all_unchanged = true; // every zone not modified (or absent)
  // Against the live sets, when readable.
  bool live_readable = false;
  std::size_t live_v4 = 0, live_v6 = 0;
  std::size_t added_v4 = 0, removed_v4 = 0, added_v6 = 0, removed_v6 = 0;

  // Every difference of the live firewall from the configuration (sets,
  // rules, chains, baseline), when readable; empty: nothing to apply.
  std::vector<std::string> changes;
  // The firewall backend chosen and why (flow/backend_choice.hpp); empty
  // where there was no choice.
  std::string backend;
  std::string backend_reason;

  bool changes_live() const { return added_v4 + removed_v4 + added_v6 + removed_v6 > 0; }
};

// Collapses the zones per family, takes out the allowlist and (unless
// block-local) the local networks, with a warning naming each country whose
// zone contained local networks. In allow-only mode the target is the
// allowed countries' networks (allowlist and local networks are accepted by
// separate rules instead).
Report make_report(const std::vector<net::ZoneResult>& zones, const Settings& settings, std::int64_t now);
// The same with the extra blocklists: their networks are merged into the
// block (allowlist and local networks still win), and in allow-only mode
// taken out of what the allowed countries let in. Each list is a row.
Report make_report(const std::vector<net::ZoneResult>& zones,
                   const std::vector<net::BlocklistResult>& blocklists, const Settings& settings,
                   std::int64_t now);
// The same with the autonomous systems (flow/asn_plan.hpp): a blocked AS
// is merged like a blocklist (allow-only: taken out of what the allowed
// countries let in); an allowed AS's networks are exempt (allow-only: let
// in like an allowed country's). Each AS is a row.
Report make_report(const std::vector<net::ZoneResult>& zones,
                   const std::vector<net::BlocklistResult>& blocklists,
                   const std::vector<net::AsnResult>& asns, const Settings& settings, std::int64_t now);

// max-shrink against what the last update applied (its state document,
// `last_state`; null: none): every zone, URL blocklist and guarded AS row
// of the plan whose addresses fell by more than `max_shrink` since is added
// to plan.refused. An AS is found by its number and action in "asns", or,
// in a state document written before that key existed, as the blocklist
// located "asn:NUMBER:FILES" (a blocked AS) or the country row "allow
// ASNUMBER ..." (an allowed AS with policy allow-only).
// A zone or list the last update did not apply (new in the configuration,
// or another family) is never a shrink; one its source refused already is
// not counted twice. This holds the line where the source has no last good
// copy of its own (a bundle, a GeoLite2 zip, a source that serves a zone
// for the first time) and whatever the fetching process reports.
void check_shrink_against(const util::Json& last_state, double max_shrink, Report& plan);

// Fills the difference against the live sets.
void compare_with_live(Report& plan, const net::NetList& live_members, bool v4_exists, bool v6_exists);

// The human report (a table per country, totals, the difference).
std::string format_report(const Report& plan, const Settings& settings, bool dry_run);

// The same as one JSON document.
util::Json report_json(const Report& plan, const Settings& settings, bool dry_run, std::int64_t now);

// A Prometheus textfile-collector rendering of the state document.
std::string format_metrics(const util::Json& state);

} // namespace geoblock::flow
