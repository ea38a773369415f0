// Fuzzes the zone parser and the aggregator behind it.
//
// The first byte picks the parser options (families, guard); the rest is a
// zone. Checked on every input:
//  - parse_zone (fast path included) agrees with the plain line-by-line
//    rules (tests/net/zone_reference.hpp): same verdict, same error line,
//    same networks; it throws nothing but ParseError; ZoneReader given
//    the text in two pieces agrees too;
//  - every parsed network formats and parses back to itself;
//  - aggregate is idempotent and keeps the address count;
//  - subtract(A, B) is disjoint from B and together with B covers A and B;
//  - reduce_prefix_lengths keeps the addresses and respects its bound.
#include "core/error.hpp"
#include "net/aggregate.hpp"
#include "net/reduce.hpp"
#include "net/zone.hpp"
#include "net/zone_reference.hpp"

#include <cstdlib>
#include <string>

namespace {

using namespace geoblock;

[[noreturn]] void
fail()
{
  std::abort();
}

template <class A>
void
check_family(const std::vector<net::Prefix<A>>& nets)
{
  for (const auto& p : nets) {
    net::NetList again;
    if (!net::parse_network(net::to_string(p), again) || again.of<A>().size() != 1 || again.of<A>()[0] != p) {
      fail();
    }
  }
  const auto agg = net::aggregate(nets);
  if (net::aggregate(agg) != agg) {
    fail();
  }
  if (net::address_count(agg) != net::address_count(net::aggregate(agg))) {
    fail();
  }
  // Every other network is "allowed".
  std::vector<net::Prefix<A>> blocked;
  std::vector<net::Prefix<A>> allowed;
  for (std::size_t i = 0; i < nets.size(); ++i) {
    (i % 2 ? allowed : blocked).push_back(nets[i]);
  }
  const auto rest = net::subtract(blocked, allowed);
  if (net::aggregate(rest) != rest) {
    fail();
  }
  auto rest_and_allowed = rest;
  rest_and_allowed.insert(rest_and_allowed.end(), allowed.begin(), allowed.end());
  auto blocked_and_allowed = blocked;
  blocked_and_allowed.insert(blocked_and_allowed.end(), allowed.begin(), allowed.end());
  if (net::aggregate(rest_and_allowed) != net::aggregate(blocked_and_allowed)) {
    fail(); // rest ∪ B == A ∪ B
  }
  if (!net::subtract(rest, allowed).empty() && net::subtract(rest, allowed) != rest) {
    fail(); // rest ∩ B == ∅
  }
  const std::size_t bound = agg.size() + agg.size() / 2 + 1;
  const auto reduced = net::reduce_prefix_lengths(agg, bound);
  if (reduced.size() > bound || net::aggregate(reduced) != agg ||
      net::distinct_prefix_lengths(reduced) > net::distinct_prefix_lengths(agg)) {
    fail();
  }
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size)
{
  if (size == 0) {
    return 0;
  }
  static const net::ZoneOptions k_options[] = {{},
                                               {net::Families::V4, 0, 0},
                                               {net::Families::V6, 0, 0},
                                               {net::Families::Both, 4, 10},
                                               {net::Families::Both, 24, 64}};
  const net::ZoneOptions& options = k_options[data[0] % (sizeof k_options / sizeof k_options[0])];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);

  const net_test::ZoneReference want = net_test::reference_zone(text, options);
  net::NetList nets;
  std::size_t error_line = 0;
  try {
    net::parse_zone(text, "fuzz", options, nets);
  } catch (const ParseError& e) {
    error_line = e.line();
  }
  if (error_line != (want.ok ? 0 : want.error_line)) {
    fail();
  }
  if (!want.ok) {
    return 0;
  }
  if (nets.v4 != want.nets.v4 || nets.v6 != want.nets.v6) {
    fail();
  }
  // The same text in two pieces, split where the second byte says.
  net::NetList pieces;
  net::ZoneReader reader("fuzz", options, pieces);
  const std::size_t cut = size > 1 ? data[1] % text.size() : 0;
  reader.feed(std::string_view(text).substr(0, cut));
  reader.feed(std::string_view(text).substr(cut));
  const net::ZoneStats stats = reader.finish();
  if (pieces.v4 != nets.v4 || pieces.v6 != nets.v6 || stats.networks != nets.size()) {
    fail();
  }
  check_family(nets.v4);
  check_family(nets.v6);
  return 0;
}
