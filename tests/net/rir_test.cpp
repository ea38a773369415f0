// The RIR delegation statistics parser: records to per-country networks,
// address counts split into CIDRs, what is skipped and counted, and the
// one-line error each kind of malformed line gets (the file then adds
// nothing).
#include "core/error.hpp"
#include "net/aggregate.hpp"
#include "net/rir.hpp"

#include <gtest/gtest.h>

#include <random>

namespace geoblock::test {
namespace {

const std::string k_file = R"(2|ripencc|1700000000|9|19930901|20261120|+0100
ripencc|*|asn|*|1|summary
ripencc|*|ipv4|*|6|summary
ripencc|*|ipv6|*|2|summary
# a comment
ripencc|NL|asn|1101|1|19930901|allocated|abc
ripencc|NL|ipv4|198.51.100.0|384|19930901|allocated|abc
ripencc|DE|ipv4|203.0.113.0|256|20010101|assigned|def
ripencc|EU|ipv4|192.0.2.0|128|20010101|allocated|ghi
ripencc|ZZ|ipv4|192.0.2.128|64|20010101|assigned|ghi
ripencc||ipv4|192.0.2.192|64||available|
ripencc|NL|ipv4|192.0.2.0|1|20010101|reserved|
ripencc|NL|ipv6|2001:db8::|32|20010101|allocated|abc|e-stats
ripencc|DE|ipv6|2001:db8:1::|48|20010101|assigned|def
)";

std::string
error_of(const std::string& text)
{
  net::RirData out;
  try {
    net::parse_rir(text, "delegated-ripencc-extended-latest", out);
  } catch (const ParseError& e) {
    EXPECT_TRUE(out.countries.empty()) << "a refused file added networks";
    return e.what();
  }
  return "";
}

TEST(Rir, RecordsBecomePerCountryNetworks)
{
  net::RirData d;
  net::parse_rir(k_file, "f", d);
  ASSERT_EQ(d.countries.size(), 2u);
  // 384 addresses from 198.51.100.0: a /24 and the /25 after it.
  EXPECT_EQ(d.countries["nl"].v4, (std::vector<net::Prefix4>{{0xC6336400u, 24}, {0xC6336500u, 25}}));
  EXPECT_EQ(d.countries["nl"].v6.size(), 1u);
  EXPECT_EQ(net::to_string(d.countries["nl"].v6[0]), "2001:db8::/32");
  EXPECT_EQ(d.countries["de"].v4, (std::vector<net::Prefix4>{{0xCB007100u, 24}}));
  EXPECT_EQ(net::to_string(d.countries["de"].v6[0]), "2001:db8:1::/48");
  EXPECT_EQ(d.records, 4u); // EU and ZZ are counted apart
  EXPECT_EQ(d.skipped_status, 2u);
  EXPECT_EQ(d.non_country, (std::map<std::string, std::size_t>{{"EU", 1}, {"ZZ", 1}}));
  // A second registry's file adds to the same result.
  net::parse_rir("2|arin|1|1|19830101|20261120|-0500\narin|DE|ipv4|192.0.2.0|16|20010101|assigned|x\n", "g",
                 d);
  EXPECT_EQ(d.countries["de"].v4.size(), 2u);
  EXPECT_EQ(d.records, 5u);
}

TEST(Rir, CountsThatAreNoPowerOfTwoSplitExactly)
{
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const std::uint32_t first = static_cast<std::uint32_t>(rng());
    const std::uint64_t room = 0x100000000ull - first;
    const std::uint64_t count = 1 + rng() % std::min<std::uint64_t>(room, 1u << 24);
    net::RirData d;
    net::parse_rir("2|apnic|1|1|1|1|+1000\napnic|JP|ipv4|" +
                       net::to_string(net::Prefix4{first, 32})
                           .substr(0, net::to_string(net::Prefix4{first, 32}).find('/')) +
                       "|" + std::to_string(count) + "|20200101|allocated|x\n",
                   "f", d);
    const auto& nets = d.countries["jp"].v4;
    // Disjoint CIDRs covering exactly [first, first + count).
    const auto ranges = net::merge_ranges(nets);
    ASSERT_EQ(ranges.size(), 1u) << first << " " << count;
    EXPECT_EQ(ranges[0].first, first);
    EXPECT_EQ(static_cast<std::uint64_t>(ranges[0].last) - first + 1, count);
    std::uint64_t sum = 0;
    for (const auto& p : nets) {
      sum += 1ull << (32 - p.len);
    }
    EXPECT_EQ(sum, count) << "overlapping CIDRs";
  }
}

TEST(Rir, EveryMalformedLineIsNamedAndRefusesTheWholeFile)
{
  const std::string head =
      "2|ripencc|1|1|19930901|20261120|+0100\nripencc|NL|ipv4|198.51.100.0|256|20010101|allocated|x\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ripencc|NL|ipv4|198.51.100.0|256|20010101|allocated", ""}, // 7 fields are enough
      {"ripencc|NL|ipv4|198.51.100.0|256", "expected at least 7 '|'-separated fields, found 5"},
      {"ripencc|NL|ipv5|198.51.100.0|256|20010101|allocated|x", "unknown type 'ipv5'"},
      {"ripencc|NL|ipv4|198.51.100.0|256|20010101|stolen|x", "unknown status 'stolen'"},
      {"ripencc|nl|ipv4|198.51.100.0|256|20010101|allocated|x", "bad country code 'nl'"},
      {"ripencc||ipv4|198.51.100.0|256|20010101|allocated|x", "bad country code ''"},
      {"ripencc|NL|ipv4|198.51.100|256|20010101|allocated|x", "bad IPv4 start address '198.51.100'"},
      {"ripencc|NL|ipv4|198.51.100.0|0|20010101|allocated|x", "bad IPv4 address count '0'"},
      {"ripencc|NL|ipv4|255.255.255.0|257|20010101|allocated|x", "bad IPv4 address count '257'"},
      {"ripencc|NL|ipv4|198.51.100.0|-1|20010101|allocated|x", "bad IPv4 address count '-1'"},
      {"ripencc|NL|ipv6|2001:db8::|129|20010101|allocated|x", "bad IPv6 prefix length '129'"},
      {"ripencc|NL|ipv6|2001:db8::1|64|20010101|allocated|x", "2001:db8::1 is not aligned to /64"},
      {"ripencc|NL|ipv4|198.51.100.0|256|2001-01-01|allocated|x", "bad date '2001-01-01'"},
      {"RIPE|NL|ipv4|198.51.100.0|256|20010101|allocated|x", "bad registry name 'RIPE'"},
  };
  for (const auto& [line, problem] : cases) {
    const std::string e = error_of(head + line + "\n");
    if (problem.empty()) {
      EXPECT_EQ(e, "") << line;
      continue;
    }
    EXPECT_NE(e.find("delegated-ripencc-extended-latest:3: " + problem), std::string::npos) << line << "\n"
                                                                                            << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  EXPECT_NE(error_of("<html><body>Not Found</body></html>\n").find(":1: not a delegation statistics file"),
            std::string::npos);
  EXPECT_NE(error_of("").find("no records"), std::string::npos);
}

} // namespace
} // namespace geoblock::test
