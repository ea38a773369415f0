// The Regional Internet Registries' delegation statistics
// ("delegated-<registry>-extended-latest", the data ipdeny derives its
// zones from), read strictly into per-country networks.
//
// Format (one record per line, '|'-separated):
//   2|ripencc|1700000000|123456|19930901|20231120|+0100      header
//   ripencc|*|ipv4|*|12345|summary                           summary
//   ripencc|NL|ipv4|193.0.0.0|2048|19930901|allocated|opaque  record
//   # comment
// For ipv4 the value is a number of addresses (not always a power of two:
// the range is split into CIDRs); for ipv6 it is the prefix length. Only
// allocated and assigned records count; available and reserved ones are
// skipped. Codes that are not ISO 3166-1 countries (ZZ, EU, AP) are counted
// and skipped. Anything malformed throws ParseError naming the file and
// line: a file is taken whole or not at all.
#pragma once

#include "net/cidr.hpp"

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace geoblock::net {

struct RirData {
  std::map<std::string, NetList> countries;       // lower-case code -> networks as listed (not aggregated)
  std::size_t records = 0;                        // allocated/assigned ipv4/ipv6 records taken
  std::size_t skipped_status = 0;                 // available, reserved
  std::map<std::string, std::size_t> non_country; // "EU" -> records skipped for that code
};

// Parses one file's text, adding to `into` (several registries' files go
// into one RirData). Throws ParseError "SOURCE:LINE: problem" and then adds
// nothing.
void parse_rir(std::string_view text, const std::string& source, RirData& into);

} // namespace geoblock::net
