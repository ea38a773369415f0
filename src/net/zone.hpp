// The zone-file parser: one network per line, as ipdeny.com publishes them.
//
// Accepted line forms (surrounding blanks and a CR before the LF allowed):
//   a.b.c.d/len     x:y::z/len     a.b.c.d (= /32)     x::y (= /128)
//   # comment       (blank)        NETWORK  # trailing comment
// Anything else throws ParseError naming the source, line number, problem
// and offending text.
//
// Host bits below the prefix (1.2.3.4/24) are cleared, giving 1.2.3.0/24:
// that is what CIDR notation denotes and what the kernel's hash:net stores
// for the same input. Each such line is counted in ZoneStats::host_bits so
// callers can report it.
#pragma once

#include "net/cidr.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace geoblock::net {

struct ZoneOptions {
  // Families a line may have; a network of another family is an error
  // ("IPv6 network in an IPv4-only source").
  Families families = Families::Both;
  // The disaster guard: a prefix shorter than this is refused. 0 disables
  // the guard for that family (then even /0 is accepted); any value > 0
  // also refuses /0.
  int min_prefix_v4 = 0;
  int min_prefix_v6 = 0;
};

// Defaults of the guard for country zones: real data reaches /7 (IPv4) and
// /16 (IPv6); these still catch a /0 or an absurd /1../3.
inline constexpr int k_default_min_prefix_v4 = 4;
inline constexpr int k_default_min_prefix_v6 = 10;

// The two checks every source applies to each network, one wording for all:
// "" when a network of family `got` may stand in a source of family
// `expected`, else "IPv6 network in an IPv4-only source";
std::string family_problem(Family expected, Family got);
// "" when a /len passes the guard of `options`, else "refusing /2: shorter
// than the minimum /4 (min-prefix-v4)".
std::string prefix_problem(const ZoneOptions& options, Family family, int len);

struct ZoneStats {
  std::size_t lines = 0;     // lines read, comments and blanks included
  std::size_t networks = 0;  // networks accepted
  std::size_t host_bits = 0; // networks whose host bits were cleared
  std::size_t v4 = 0;
  std::size_t v6 = 0;

  ZoneStats& operator+=(const ZoneStats& o);
};

// Parses `text`, appending its networks to `out`. `source` names the input
// in error messages (a file name, "<stdin>", "cn IPv4 https://...").
ZoneStats parse_zone(std::string_view text, const std::string& source, const ZoneOptions& options,
                     NetList& out);

// Parses a zone that arrives in pieces (a file read block by block), so
// that the whole text never has to be in memory: the same rules, line
// numbers and errors as parse_zone on the concatenated pieces. Pieces may
// split lines anywhere. `expected_bytes` (e.g. the file size; 0 if unknown)
// lets the network lists grow once instead of by doubling. Throws
// ParseError from feed() or finish(); after that the reader is spent.
class ZoneReader {
public:
  ZoneReader(std::string source, const ZoneOptions& options, NetList& out, std::size_t expected_bytes = 0);
  void feed(std::string_view chunk);
  // Parses a last line without a final newline; returns the statistics.
  ZoneStats finish();

private:
  std::string m_source;
  ZoneOptions m_options;
  NetList& m_out;
  ZoneStats m_stats;
  std::string m_carry; // the unfinished last line of the pieces so far
};

// Parses a single network ("10.0.0.0/8", "2001:db8::/32", a bare address).
// Returns false and fills `problem` when it is not one.
bool parse_network(std::string_view text, NetList& out, std::string* problem = nullptr);

} // namespace geoblock::net
