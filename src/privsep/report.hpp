// The wire format of privilege separation (docs/security.md "The
// hand-over"): the report the confined child writes on its pipe, and the
// strict reader the root process parses it with. The reader is fuzzed
// (tests/fuzz/report_fuzz.cpp): its input is whatever a compromised
// fetcher could write.
//
// Per zone, in any order, a "zone" line: country, family, origin, bytes,
// stale, fetched_at, last_modified, location, error, source, and the length
// of the body that follows the line: the zone's networks as zone text (none
// for failed or absent zones). After the zones, per blocklist asked for, in
// that order, a "list" line: name, location (both exactly as the writer
// prints the expected ones), origin (never "absent"), bytes, fetched_at,
// last_modified, sha256 (empty or 64 hex digits), error, and the length of
// the body that follows: the list's networks, one per line (usable lists
// only). After the lists, per AS asked for, in that order, an "asn" line:
// number, allow (0 or 1), both as expected, name, origin, fetched_at,
// last_modified, location, error, and the length of the body that follows:
// the AS's networks, one per line (usable ASes with data only). After the
// ASes, when addresses were looked up (check), per fact the sources found
// a "fact" line: the address's index among those asked about, "as" or
// "country", the AS number ("0" for a country), the AS's name (empty for
// a country), the country (two lower-case letters; empty for an AS), the
// data's network holding the address, and the source ("asn" or "mmdb");
// at most one per address, kind and source. Then "end N", N counting the
// records. Or a single "error" line. Fields are
// tab-separated; text fields are printable ASCII (the writer replaces
// anything else by '?') of at most 1024 bytes. The bodies are for the
// strict parsers (net::parse_zone, net::parse_blocklist); the reader only
// cuts them out, and revalidate() parses them again with the guards.
#pragma once

#include "net/asn.hpp"
#include "net/blocklist.hpp"
#include "net/data_source.hpp"
#include "net/lookup.hpp"
#include "net/zone.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace geoblock::privsep {

// The largest report read: the whole world's zones are about 20 MB of
// normalised text.
inline constexpr std::size_t k_max_report = std::size_t{512} << 20;

struct ReportedZone {
  std::string country;
  net::Family family = net::Family::V4;
  net::Origin origin = net::Origin::Failed;
  std::uint64_t bytes = 0;
  bool stale = false;
  std::int64_t fetched_at = 0, last_modified = 0;
  std::string location;
  std::string error;
  std::string
      source;       // the configured source that served it ("http", "rir", "bundle", "maxmind", "mmdb" or "")
  std::string body; // the networks as zone text, one per line (usable zones only)
  bool usable() const { return origin != net::Origin::Failed; }
};
struct ReportedList {
  std::string name;     // as expected (this process's own, not the writer's)
  std::string location; // as expected
  net::Origin origin = net::Origin::Failed;
  std::uint64_t bytes = 0;
  std::int64_t fetched_at = 0, last_modified = 0;
  std::string sha256;
  std::string error;
  std::string body; // the networks as text, one per line (usable lists only)
  bool usable() const { return origin != net::Origin::Failed; }
};
struct ReportedAsn {
  std::uint32_t number = 0;
  bool allow = false;
  std::string name;
  net::Origin origin = net::Origin::Failed;
  std::int64_t fetched_at = 0, last_modified = 0;
  std::string location;
  std::string error;
  std::string body;
};
struct ReportedFact {
  std::size_t address = 0; // an index into the addresses asked about
  net::AddressFact::Kind kind = net::AddressFact::Kind::As;
  std::uint32_t as_number = 0;
  std::string as_name;
  std::string country;
  std::string network; // as text, for revalidate_facts
  std::string source;  // "asn" or "mmdb"
};
struct ChildReport {
  std::vector<ReportedZone> zones; // in the expected order
  std::vector<ReportedList> lists;
  std::vector<ReportedAsn> asns;
  std::vector<ReportedFact> facts;
};

// A blocklist the report must hold: its name and location as configured.
struct ExpectedList {
  std::string name;
  std::string location;
};
// An AS the report must hold: its number and whether it is allowed.
struct ExpectedAsn {
  std::uint32_t number = 0;
  bool allow = false;
};

// The report of what a load returned.
std::string format_child_report(const std::vector<net::ZoneResult>& zones,
                                const std::vector<net::BlocklistResult>& lists = {},
                                const std::vector<net::AsnResult>& asns = {});
std::string format_child_report(const net::SourceData& data);
// The "fact" records alone (format_child_report(data) writes them after
// the ASes).
std::string format_facts(const std::vector<net::AddressFact>& facts);
// The report of a child that failed as a whole.
std::string format_child_error(const std::string& message);

// The report checked against what it must hold, the results
// DataSource::expected names: each zone once (in any order; returned in
// the expected one), the lists and ASes in order, named as expected; facts
// only about the addresses of `lookups` (the request's), each index, kind
// and source at most once.
// Throws Error naming the problem for anything else ("not trusted; nothing
// applied"); an "error" line becomes an Error with its message.
ChildReport parse_child_report(const std::string& text, const net::SourceData& expected,
                               const std::vector<net::Address>& lookups = {});
// The same, the zones given as countries x families (v4 first), the lists
// and ASes by name.
ChildReport parse_child_report(const std::string& text, const std::vector<std::string>& countries,
                               net::Families families, const std::vector<ExpectedList>& lists,
                               const std::vector<ExpectedAsn>& asns = {},
                               const std::vector<net::Address>& lookups = {});
// The zones of a report of zones alone.
std::vector<ReportedZone> parse_child_report(const std::string& text,
                                             const std::vector<std::string>& countries,
                                             net::Families families);

// A parsed report as results, every body parsed again by the strict
// parser with `guards` (its minimum prefixes; a zone's family is its own):
// a zone, list or AS whose body fails is Failed, "refused on
// re-validation: " and the parser's error, with a warning. The labels
// (origin, bytes, error text) only describe the data.
net::SourceData revalidate(const ChildReport& report, const net::ZoneOptions& guards,
                           const std::vector<net::Address>& lookups = {});
// The facts, checked again: the network must parse strictly, be of its
// address's family and hold it; a fact that fails is dropped with a
// warning ("refused on re-validation"). A name is made printable and
// trimmed (net::asn_label).
std::vector<net::AddressFact> revalidate_facts(const std::vector<ReportedFact>& facts,
                                               const std::vector<net::Address>& lookups);
std::vector<net::ZoneResult> revalidate_zones(const std::vector<ReportedZone>& zones,
                                              const net::ZoneOptions& guards);
std::vector<net::BlocklistResult> revalidate_lists(const std::vector<ReportedList>& lists,
                                                   const net::ZoneOptions& guards);
std::vector<net::AsnResult> revalidate_asns(const std::vector<ReportedAsn>& asns,
                                            const net::ZoneOptions& guards);

} // namespace geoblock::privsep
