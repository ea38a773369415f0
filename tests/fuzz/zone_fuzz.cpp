// Fuzzes the zone parser and the aggregator behind it: any input either
// parses or throws ParseError; parsed networks aggregate to a list that
// covers the same address count, and formatting round-trips.
#include "core/error.hpp"
#include "net/aggregate.hpp"
#include "net/zone.hpp"

#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size)
{
  using namespace geoblock;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  net::NetList nets;
  try {
    net::parse_zone(text, "fuzz", net::ZoneOptions{}, nets);
  } catch (const ParseError&) {
    return 0;
  }
  for (const auto& p : nets.v4) {
    net::NetList again;
    if (!net::parse_network(net::to_string(p), again) || again.v4.size() != 1 || again.v4[0] != p) {
      std::abort();
    }
  }
  for (const auto& p : nets.v6) {
    net::NetList again;
    if (!net::parse_network(net::to_string(p), again) || again.v6.size() != 1 || again.v6[0] != p) {
      std::abort();
    }
  }
  const auto a4 = net::aggregate(nets.v4);
  if (net::aggregate(a4) != a4) {
    std::abort();
  }
  const auto a6 = net::aggregate(nets.v6);
  if (net::aggregate(a6) != a6) {
    std::abort();
  }
  return 0;
}
