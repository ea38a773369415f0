// Fuzzes the RIR delegation statistics reader (net/rir.hpp parse_rir).
//
// Checked:
//  - only ParseError is thrown, and then nothing is added to the result;
//  - every country key is a lower-case ISO 3166-1 code;
//  - every network is a valid prefix (no host bits), IPv4 ones from splitting
//    address counts;
//  - reading the same text twice into one result doubles every count (the
//    parser has no hidden state between files).
#include "core/country.hpp"
#include "core/error.hpp"
#include "fuzz/fuzz_util.hpp"
#include "net/rir.hpp"

#include <string>

namespace {

using namespace geoblock;
using fuzz::check;

template <class A>
bool
aligned(const std::vector<net::Prefix<A>>& nets)
{
  for (const auto& p : nets) {
    if ((p.addr & static_cast<A>(~net::mask<A>(p.len))) != 0) {
      return false;
    }
  }
  return true;
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  net::RirData once;
  try {
    net::parse_rir(text, "fuzz", once);
  } catch (const ParseError&) {
    check(once.countries.empty() && once.records == 0 && once.skipped_status == 0 && once.non_country.empty(),
          "a refused file added nothing");
    return 0;
  }
  std::size_t v4 = 0;
  std::size_t v6 = 0;
  for (const auto& [cc, nets] : once.countries) {
    check(cc.size() == 2 && cc[0] >= 'a' && cc[0] <= 'z' && cc[1] >= 'a' && cc[1] <= 'z', "lower-case key");
    check(is_country_code(cc), "an ISO 3166-1 code");
    check(aligned(nets.v4) && aligned(nets.v6), "prefixes without host bits");
    v4 += nets.v4.size();
    v6 += nets.v6.size();
  }
  net::RirData twice;
  net::parse_rir(text, "fuzz", twice);
  net::parse_rir(text, "fuzz", twice);
  check(twice.records == 2 * once.records && twice.skipped_status == 2 * once.skipped_status,
        "a second file adds as much again");
  std::size_t v4_twice = 0;
  std::size_t v6_twice = 0;
  for (const auto& [cc, nets] : twice.countries) {
    v4_twice += nets.v4.size();
    v6_twice += nets.v6.size();
  }
  check(v4_twice == 2 * v4 && v6_twice == 2 * v6, "networks double");
  return 0;
}
