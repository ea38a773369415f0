// Fuzzes the GeoLite2 Country CSV reader (source/maxmind.hpp
// read_maxmind_csv, what read_maxmind does with the zip's members).
//
// The first byte picks the options: bit 0 the geoname fallback (registered
// or none), bits 1-2 the families, bit 3 the min-prefix guard (defaults or
// none). The rest holds the three files, separated by "---" lines:
// GeoLite2-Country-Locations-en.csv, -Blocks-IPv4.csv, -Blocks-IPv6.csv.
// Checked on every input:
//  - it throws nothing but ParseError, and opens only the families asked;
//  - country codes are two lower-case letters, each listed once;
//  - a wanted country's networks are those of its rows, of the right
//    family, and pass the guard; a country not wanted has none;
//  - asking for one country gives it the same networks and rows as asking
//    for every country.
#include "core/error.hpp"
#include "fuzz/fuzz_util.hpp"
#include "net/cidr.hpp"
#include "source/csv.hpp"
#include "source/maxmind.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace geoblock;
using fuzz::check;

struct Input {
  std::string locations;
  std::string blocks_v4;
  std::string blocks_v6;
  net::Families families = net::Families::Both;
  source::MaxmindOptions options;
};

std::optional<std::vector<source::MaxmindCountry>>
read(const Input& in, const std::vector<std::string>& countries)
{
  source::CsvReader locations = source::CsvReader::from_string(in.locations, "locations.csv");
  bool opened[2] = {false, false};
  const auto open = [&](net::Family family) {
    const bool v4 = family == net::Family::V4;
    check(net::includes(in.families, family), "only the families asked for are opened");
    check(!opened[v4 ? 0 : 1], "each blocks file is opened once");
    opened[v4 ? 0 : 1] = true;
    return source::CsvReader::from_string(v4 ? in.blocks_v4 : in.blocks_v6,
                                          v4 ? "blocks-v4.csv" : "blocks-v6.csv");
  };
  try {
    return source::read_maxmind_csv(locations, open, countries, in.families, in.options);
  } catch (const ParseError& e) {
    check(e.line() >= 1 && !e.source().empty(), "errors name a source and line");
    return std::nullopt;
  }
}

template <class A>
void
check_nets(const std::vector<net::Prefix<A>>& nets, int min_prefix)
{
  for (const auto& p : nets) {
    check(min_prefix <= 0 || p.len >= min_prefix, "networks pass the guard");
    check(p.len <= net::kBits<A>, "prefix lengths are in range");
  }
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size)
{
  if (size == 0) {
    return 0;
  }
  Input in;
  in.options.fallback = data[0] & 1 ? source::GeonameFallback::None : source::GeonameFallback::Registered;
  static const net::Families k_families[] = {net::Families::Both, net::Families::V4, net::Families::V6,
                                             net::Families::Both};
  in.families = k_families[(data[0] >> 1) & 3];
  if (data[0] & 8) {
    in.options.zone.min_prefix_v4 = 0;
    in.options.zone.min_prefix_v6 = 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<std::string_view> parts = fuzz::split_parts(text, 3);
  in.locations = parts[0];
  in.blocks_v4 = parts[1];
  in.blocks_v6 = parts[2];

  const auto all = read(in, {});
  if (!all) {
    return 0;
  }
  std::set<std::string> codes;
  const source::MaxmindCountry* some = nullptr;
  for (const source::MaxmindCountry& c : *all) {
    check(fuzz::is_lower_code(c.code), "codes are two lower-case letters");
    check(codes.insert(c.code).second, "each country is listed once");
    check(c.wanted, "with no countries asked for, every one is wanted");
    check(c.nets.v4.size() == c.rows4 && c.nets.v6.size() == c.rows6, "one network per row");
    check(net::includes(in.families, net::Family::V4) || c.rows4 == 0, "no rows of a family not read");
    check(net::includes(in.families, net::Family::V6) || c.rows6 == 0, "no rows of a family not read");
    check_nets(c.nets.v4, in.options.zone.min_prefix_v4);
    check_nets(c.nets.v6, in.options.zone.min_prefix_v6);
    if (!some && !c.nets.empty()) {
      some = &c;
    }
  }
  if (!some) {
    return 0;
  }
  // "zz" is in no locations file: asking for it changes nothing.
  const auto one = read(in, {some->code, "zz"});
  check(one.has_value(), "asking for fewer countries still reads");
  check(one->size() == all->size(), "the same countries are listed");
  for (std::size_t i = 0; i < one->size(); ++i) {
    const source::MaxmindCountry& c = (*one)[i];
    check(c.code == (*all)[i].code && c.rows4 == (*all)[i].rows4 && c.rows6 == (*all)[i].rows6,
          "the same countries and rows");
    check(c.wanted == (c.code == some->code), "only the country asked for is wanted");
    if (c.wanted) {
      check(c.nets.v4 == some->nets.v4 && c.nets.v6 == some->nets.v6, "the same networks when asked alone");
    } else {
      check(c.nets.empty(), "a country not wanted has no networks");
    }
  }
  return 0;
}
