// Autonomous systems (`asn`, `allow-asn`): numbers, the networks of each
// AS, and the text formats that map address ranges to ASes.
//
// Text formats (format detected per file, both families in one file):
//   iptoasn's ip2asn-v4.tsv / ip2asn-v6.tsv / ip2asn-combined.tsv:
//     range_start TAB range_end TAB AS_number TAB country_code TAB AS_description
//   ip-location-db's asn CSV (asn-ipv4.csv, asn-ipv6.csv):
//     range_start,range_end,AS_number,AS_organization   (RFC 4180 quoting)
// Ranges are inclusive first and last addresses of one family, split into
// CIDRs. AS 0 marks space that is not routed: its ranges belong to AS 0,
// which only a configuration naming 0 asks for. Every line is validated
// (addresses, order, family, AS number), whether its AS is asked for or
// not; anything else refuses the whole file with ParseError naming the
// file and line, like a zone. A first line that is a header (its first
// field is no address and has a letter) is skipped.
#pragma once

#include "net/cidr.hpp"
#include "net/lookup.hpp"
#include "net/zone_result.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::net {

// "AS13335", "as13335" or "13335" (no sign, no leading zeros but "0", at
// most 4294967295); nothing for anything else.
std::optional<std::uint32_t> parse_asn(std::string_view text);
// "AS13335 Cloudflare, Inc." (the name trimmed and made printable ASCII,
// at most 100 characters), or "AS13335" without a name.
std::string asn_label(std::uint32_t number, std::string_view name);

// What one AS was asked for, and its networks.
struct AsnResult {
  std::uint32_t number = 0;
  std::string name;   // the organisation as the data names it (may be empty)
  bool allow = false; // allow-asn (else asn: block)
  Origin origin = Origin::Failed;
  NetList nets;          // as read (ranges split into CIDRs), not aggregated
  std::size_t lines = 0; // ranges or records that counted for it
  std::string location;  // the data file(s)
  std::string error;     // why StaleCache / Failed / Absent
  std::int64_t fetched_at = 0;
  std::int64_t last_modified = 0;
  bool usable() const { return origin != Origin::Failed; }
  std::string label() const { return asn_label(number, name); }
};

// What a read of ASN data is for: the networks of some ASes (or of every
// AS), and the AS holding each of some addresses (check).
struct AsnQuery {
  std::vector<std::uint32_t> numbers; // the ASes whose networks are kept
  bool every = false;                 // keep every AS's networks (numbers ignored)
  std::vector<Address> lookups;       // the addresses whose AS is looked up
};

// The AS a read found holding an address, and the network of the data
// holding it (a range's CIDR, or a database's network).
struct AsnHit {
  std::uint32_t number = 0;
  std::string name; // made printable and trimmed (asn_label), may be empty
  Family family = Family::V4;
  Prefix4 v4;
  Prefix6 v6;
};

// The networks of the wanted ASes found in one source, by AS number.
struct AsnData {
  struct As {
    std::string name;
    NetList nets;
    std::size_t lines = 0;
  };
  std::map<std::uint32_t, As> by_number;
  std::size_t lines = 0; // every line or record read
  // Per address of AsnQuery::lookups, the first range or record holding
  // it (empty when the read had no lookups).
  std::vector<std::optional<AsnHit>> hits;
};

enum class AsnTextFormat { Iptoasn, Csv };
// Tab in the first line: iptoasn; else CSV. Nothing for empty text.
std::optional<AsnTextFormat> detect_asn_text(std::string_view text);

// Reads `text` (the format detected), adding the networks of the ASes
// `query` asks for to `out`, and the AS holding each of its lookups to
// out.hits. Throws ParseError naming `source` and the line.
void parse_asn_text(std::string_view text, const std::string& source, const AsnQuery& query, AsnData& out);
// The same for the ASes in `wanted` (all when empty), without lookups.
void parse_asn_text(std::string_view text, const std::string& source,
                    const std::vector<std::uint32_t>& wanted, AsnData& out);

} // namespace geoblock::net
