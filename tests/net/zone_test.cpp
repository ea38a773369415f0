// The strict address and zone parsers: what they accept, how they count,
// and the one-line error each kind of bad input gets.
#include "core/error.hpp"
#include "net_test_util.hpp"
#include "zone_reference.hpp"

#include <random>

namespace geoblock::net_test {
namespace {

using net::Families;
using net::NetList;
using net::ZoneOptions;
using net::ZoneStats;

NetList
parse(const std::string& text, const ZoneOptions& options = {}, ZoneStats* stats = nullptr)
{
  NetList out;
  const ZoneStats s = net::parse_zone(text, "zone", options, out);
  if (stats) {
    *stats = s;
  }
  return out;
}

// The message of the ParseError `text` raises ("" when it parses).
std::string
error_of(const std::string& text, const ZoneOptions& options = {})
{
  NetList out;
  try {
    net::parse_zone(text, "zone", options, out);
  } catch (const ParseError& e) {
    return e.what();
  }
  return "";
}

TEST(ParseV4, AcceptsDottedQuads)
{
  EXPECT_EQ(net::parse_v4("0.0.0.0"), 0u);
  EXPECT_EQ(net::parse_v4("255.255.255.255"), 0xffffffffu);
  EXPECT_EQ(net::parse_v4("1.2.3.4"), 0x01020304u);
  EXPECT_EQ(net::parse_v4("10.0.200.9"), 0x0a00c809u);
}

TEST(ParseV4, RefusesEverythingElse)
{
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.0.0.0", "1.2.3.256", "1.2.3.1000", "01.2.3.4",
                          "1.2.3.00", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.-4", "0x1.2.3.4", "1.2.3.4 ",
                          " 1.2.3.4", "1.2.3.4/8", "1.2.3.a", "1:2:3:4"}) {
    EXPECT_FALSE(net::parse_v4(bad)) << bad;
  }
}

TEST(ParseV6, AcceptsTextForms)
{
  EXPECT_EQ(net::parse_v6("::"), u128{0});
  EXPECT_EQ(net::parse_v6("::1"), u128{1});
  EXPECT_EQ(net::parse_v6("1::"), u128{1} << 112);
  EXPECT_EQ(net::parse_v6("2001:db8::1"), (u128{0x20010db8} << 96) | 1);
  EXPECT_EQ(net::parse_v6("2001:DB8:0:0:0:0:0:1"), net::parse_v6("2001:db8::1"));
  EXPECT_EQ(net::parse_v6("0001:0db8::"), net::parse_v6("1:db8::"));
  EXPECT_EQ(net::parse_v6("::ffff:1.2.3.4"), (u128{0xffff} << 32) | 0x01020304);
  EXPECT_EQ(net::parse_v6("1:2:3:4:5:6:1.2.3.4"), net::parse_v6("1:2:3:4:5:6:102:304"));
  EXPECT_EQ(net::parse_v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), ~u128{0});
  EXPECT_EQ(net::parse_v6("1:2:3:4:5:6:7::"), net::parse_v6("1:2:3:4:5:6:7:0"));
}

TEST(ParseV6, RefusesEverythingElse)
{
  for (const char* bad : {"",
                          ":",
                          ":::",
                          "1::2::3",
                          "::1::",
                          ":1",
                          "1:",
                          "1:2:3:4:5:6:7",
                          "1:2:3:4:5:6:7:8:9",
                          "1:2:3:4:5:6:7::8",
                          "12345::",
                          "g::",
                          "fe80::1%eth0",
                          "::1.2.3",
                          "::1.2.3.4.5",
                          "1:2:3:4:5:6:7:1.2.3.4",
                          "::01.2.3.4",
                          "1.2.3.4::",
                          "2001:db8::/32",
                          " ::1",
                          "::1 "}) {
    EXPECT_FALSE(net::parse_v6(bad)) << bad;
  }
}

TEST(Format, Rfc5952)
{
  const auto fmt = [](const char* text) { return net::address_to_string(*net::parse_v6(text)); };
  EXPECT_EQ(fmt("0:0:0:0:0:0:0:0"), "::");
  EXPECT_EQ(fmt("0:0:0:0:0:0:0:1"), "::1");
  EXPECT_EQ(fmt("1:0:0:0:0:0:0:0"), "1::");
  EXPECT_EQ(fmt("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  // A single zero group is not shortened.
  EXPECT_EQ(fmt("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  // The longest run wins; on a tie the first.
  EXPECT_EQ(fmt("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
  EXPECT_EQ(fmt("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  EXPECT_EQ(fmt("::ffff:1.2.3.4"), "::ffff:102:304");
  EXPECT_EQ(fmt("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_EQ(net::address_to_string(std::uint32_t{0}), "0.0.0.0");
  EXPECT_EQ(net::address_to_string(std::uint32_t{0xffffffff}), "255.255.255.255");
  EXPECT_EQ(net::address_to_string(std::uint32_t{0x0a00c809}), "10.0.200.9");
  EXPECT_EQ(net::to_string(Prefix6{u128{0x20010db8} << 96, 32}), "2001:db8::/32");
  EXPECT_EQ(net::to_string(Prefix4{0, 0}), "0.0.0.0/0");
}

TEST(Format, RoundTripsRandomAddresses)
{
  const unsigned seed = 20261125;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    const auto a4 = static_cast<std::uint32_t>(rng());
    ASSERT_EQ(net::parse_v4(net::address_to_string(a4)), a4);
    // Mostly zero groups, so that "::" runs of every length and place occur.
    u128 a6 = 0;
    for (int g = 0; g < 8; ++g) {
      a6 = (a6 << 16) | (rng() % 3 == 0 ? rng() & 0xffff : 0);
    }
    const std::string text = net::address_to_string(a6);
    ASSERT_EQ(net::parse_v6(text), a6) << text;
    ASSERT_EQ(text.find(":::"), std::string::npos) << text;
  }
}

TEST(Format, U128ToString)
{
  EXPECT_EQ(net::u128_to_string(0), "0");
  EXPECT_EQ(net::u128_to_string(u128{1} << 64), "18446744073709551616");
  EXPECT_EQ(net::u128_to_string(~u128{0}), "340282366920938463463374607431768211455");
}

TEST(ParseZone, AcceptsCommentsBlanksCrlfAndBareAddresses)
{
  ZoneStats stats;
  const NetList out = parse("# ipdeny style\n"
                            "\n"
                            "1.2.3.0/24\r\n"
                            "  5.6.0.0/16  \n"
                            "\t9.9.9.9\t# a trailing comment\n"
                            "2001:db8::/32\r\n"
                            "2001:db8:1::1\n"
                            "   # indented comment\n"
                            "10.0.0.0/8",
                            {}, &stats);
  EXPECT_EQ(str(out.v4), "1.2.3.0/24 5.6.0.0/16 9.9.9.9/32 10.0.0.0/8");
  EXPECT_EQ(str(out.v6), "2001:db8::/32 2001:db8:1::1/128");
  EXPECT_EQ(stats.lines, 9u);
  EXPECT_EQ(stats.networks, 6u);
  EXPECT_EQ(stats.v4, 4u);
  EXPECT_EQ(stats.v6, 2u);
  EXPECT_EQ(stats.host_bits, 0u);
}

TEST(ParseZone, EmptyInputHasNoNetworks)
{
  ZoneStats stats;
  EXPECT_TRUE(parse("", {}, &stats).empty());
  EXPECT_EQ(stats.lines, 0u);
  EXPECT_TRUE(parse("\n\n# nothing\n", {}, &stats).empty());
  EXPECT_EQ(stats.lines, 3u);
}

TEST(ParseZone, ClearsAndCountsHostBits)
{
  ZoneStats stats;
  const NetList out =
      parse("1.2.3.4/24\n1.2.3.0/24\n255.255.255.255/1\n2001:db8::1/32\n2001:db8::/32\n", {}, &stats);
  EXPECT_EQ(str(out.v4), "1.2.3.0/24 1.2.3.0/24 128.0.0.0/1");
  EXPECT_EQ(str(out.v6), "2001:db8::/32 2001:db8::/32");
  EXPECT_EQ(stats.host_bits, 3u);
  EXPECT_EQ(stats.networks, 5u);
}

TEST(ParseZone, ErrorsNameSourceLineProblemAndText)
{
  EXPECT_EQ(error_of("1.2.3.0/24\n# c\n\n1.2.3.256/24\n"), "zone:4: invalid IPv4 address: '1.2.3.256/24'");
  EXPECT_EQ(error_of("1.2.3.0/24\r\n1.2.3.0/24\r\n01.2.3.0/24\r\n"),
            "zone:3: invalid IPv4 address: '01.2.3.0/24'");
  EXPECT_EQ(error_of("1.2.3.0/33"), "zone:1: invalid IPv4 prefix length: '1.2.3.0/33'");
  EXPECT_EQ(error_of("1.2.3.0/"), "zone:1: invalid IPv4 prefix length: '1.2.3.0/'");
  EXPECT_EQ(error_of("1.2.3.0/08"), "zone:1: invalid IPv4 prefix length: '1.2.3.0/08'");
  EXPECT_EQ(error_of("1.2.3.0/-8"), "zone:1: invalid IPv4 prefix length: '1.2.3.0/-8'");
  EXPECT_EQ(error_of("1.2.3.0/24/24"), "zone:1: invalid IPv4 prefix length: '1.2.3.0/24/24'");
  EXPECT_EQ(error_of("2001:db8::/129"), "zone:1: invalid IPv6 prefix length: '2001:db8::/129'");
  EXPECT_EQ(error_of("1::2::/64"), "zone:1: invalid IPv6 address: '1::2::/64'");
  EXPECT_EQ(error_of("fe80::1%eth0/128"), "zone:1: invalid IPv6 address: 'fe80::1%eth0/128'");
  EXPECT_EQ(error_of("1.2.3.0/24 5.6.7.0/24"),
            "zone:1: more than one field on the line: '1.2.3.0/24 5.6.7.0/24'");
  EXPECT_EQ(error_of("1.2.3.0/24\t5.6.7.0/24 # x"),
            "zone:1: more than one field on the line: '1.2.3.0/24\\x095.6.7.0/24 # x'");
  EXPECT_EQ(error_of("hello"), "zone:1: not a network: 'hello'");
  EXPECT_EQ(error_of("1.2.3.0,24"), "zone:1: not a network: '1.2.3.0,24'");
}

TEST(ParseZone, RefusesHtmlAndBinary)
{
  EXPECT_EQ(error_of("<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n"),
            "zone:1: HTML, not a zone file: '<!DOCTYPE html>'");
  EXPECT_EQ(error_of("1.2.3.0/24\n<html>\n"), "zone:2: HTML, not a zone file: '<html>'");
  EXPECT_EQ(error_of(std::string("1.2.3.0/24\n1.2.3.0\0/24\n", 22)),
            "zone:2: binary data (NUL byte): '1.2.3.0\\x00/24'");
  EXPECT_EQ(error_of(std::string("\0\0\0\0", 4)), "zone:1: binary data (NUL byte): '\\x00\\x00\\x00\\x00'");
}

TEST(ParseZone, RefusesTheWrongFamily)
{
  EXPECT_EQ(error_of("1.2.3.0/24\n2001:db8::/32\n", {Families::V4}),
            "zone:2: IPv6 network in an IPv4-only source: '2001:db8::/32'");
  EXPECT_EQ(error_of("2001:db8::/32\n1.2.3.0/24\n", {Families::V6}),
            "zone:2: IPv4 network in an IPv6-only source: '1.2.3.0/24'");
  EXPECT_EQ(error_of("2001:db8::/32 # ok\n", {Families::V6}), "");
  EXPECT_EQ(error_of("1.2.3.4\n", {Families::V4}), "");
}

TEST(ParseZone, GuardRefusesSlashZeroAndShortPrefixes)
{
  const ZoneOptions guard{Families::Both, net::k_default_min_prefix_v4, net::k_default_min_prefix_v6};
  EXPECT_EQ(error_of("1.0.0.0/8\n0.0.0.0/0\n", guard),
            "zone:2: refusing /0: shorter than the minimum /4 (min-prefix-v4): '0.0.0.0/0'");
  EXPECT_EQ(error_of("32.0.0.0/3", guard),
            "zone:1: refusing /3: shorter than the minimum /4 (min-prefix-v4): '32.0.0.0/3'");
  EXPECT_EQ(error_of("::/0", guard),
            "zone:1: refusing /0: shorter than the minimum /10 (min-prefix-v6): '::/0'");
  EXPECT_EQ(error_of("2000::/9", guard),
            "zone:1: refusing /9: shorter than the minimum /10 (min-prefix-v6): '2000::/9'");
  // Real data reaches /7 (IPv4) and /16 (IPv6): the defaults let it through.
  EXPECT_EQ(error_of("16.0.0.0/4\n2.0.0.0/7\n2001::/16\n2000::/10\n", guard), "");
  // Without the guard every valid network is accepted, /0 included.
  EXPECT_EQ(str(parse("0.0.0.0/0\n").v4), "0.0.0.0/0");
  EXPECT_EQ(str(parse("::/0\n").v6), "::/0");
  // A minimum of 1 still refuses /0.
  EXPECT_NE(error_of("0.0.0.0/0", {Families::Both, 1, 1}), "");
  EXPECT_EQ(error_of("0.0.0.0/1", {Families::Both, 1, 1}), "");
}

TEST(ParseZone, ErrorLeavesNoRefusedNetworkBehind)
{
  NetList out;
  EXPECT_THROW(net::parse_zone("1.0.0.0/8\n0.0.0.0/0\n", "zone", {Families::Both, 4, 10}, out), ParseError);
  EXPECT_EQ(str(out.v4), "1.0.0.0/8");
}

// What ZoneReader makes of `text` fed in pieces of at most `piece` bytes:
// the networks as text, or the error message.
std::string
read_in_pieces(const std::string& text, std::size_t piece, const ZoneOptions& options, ZoneStats* stats)
{
  NetList out;
  try {
    net::ZoneReader reader("zone", options, out, text.size());
    for (std::size_t at = 0; at < text.size(); at += piece) {
      reader.feed(std::string_view(text).substr(at, piece));
    }
    *stats = reader.finish();
  } catch (const ParseError& e) {
    return e.what();
  }
  return str(out.v4) + " | " + str(out.v6);
}

TEST(ZoneReader, PiecesGiveTheSameResultAsTheWhole)
{
  const std::string good = "# zone\r\n1.2.3.0/24\r\n\n  5.6.7.8 # host\n2001:db8::/32\n10.0.0.0/8";
  const std::string bad = "1.2.3.0/24\n2001:db8::/32\n\n1.2.3.256/24\n5.0.0.0/8\n";
  for (const std::string& text : {good, bad, std::string(""), std::string("\n\n"), std::string("9.9.9.9")}) {
    ZoneStats whole_stats;
    const std::string whole = [&] {
      NetList out;
      try {
        whole_stats = net::parse_zone(text, "zone", {}, out);
      } catch (const ParseError& e) {
        return std::string(e.what());
      }
      return str(out.v4) + " | " + str(out.v6);
    }();
    for (std::size_t piece :
         {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, std::size_t{4096}}) {
      ZoneStats stats;
      EXPECT_EQ(read_in_pieces(text, piece, {}, &stats), whole) << "pieces of " << piece;
      if (whole.rfind("zone:", 0) == 0) {
        continue; // an error: no statistics to compare
      }
      EXPECT_EQ(stats.lines, whole_stats.lines);
      EXPECT_EQ(stats.networks, whole_stats.networks);
      EXPECT_EQ(stats.v4, whole_stats.v4);
      EXPECT_EQ(stats.v6, whole_stats.v6);
    }
  }
  ZoneStats stats;
  EXPECT_EQ(read_in_pieces(bad, 5, {}, &stats), "zone:4: invalid IPv4 address: '1.2.3.256/24'");
  EXPECT_EQ(read_in_pieces("1.2.3.0/24\n0.0.0.0/0\n", 3, {Families::Both, 4, 10}, &stats),
            "zone:2: refusing /0: shorter than the minimum /4 (min-prefix-v4): '0.0.0.0/0'");
}

TEST(ParseNetwork, SingleNetworks)
{
  NetList out;
  std::string problem;
  EXPECT_TRUE(net::parse_network(" 10.1.2.3/8 ", out, &problem));
  EXPECT_TRUE(net::parse_network("2001:db8::", out, &problem));
  EXPECT_EQ(str(out.v4), "10.0.0.0/8");
  EXPECT_EQ(str(out.v6), "2001:db8::/128");
  EXPECT_FALSE(net::parse_network("10.0.0.0/40", out, &problem));
  EXPECT_EQ(problem, "invalid IPv4 prefix length");
  EXPECT_FALSE(net::parse_network("example.com", out, &problem));
  EXPECT_EQ(problem, "not a network");
  EXPECT_EQ(out.size(), 2u);
}

TEST(ParseZone, AgreesWithTheLineByLineReferenceOnMutatedInput)
{
  const unsigned seed = 4242;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const std::vector<std::string> lines = {
      "1.2.3.0/24",         "10.0.0.0/8",        "0.0.0.0/0", "255.255.255.255",
      "192.168.100.1/32",   "2001:db8::/32",     "::/0",      "::1",
      "2a14:1c5:8800::/38", "::ffff:1.2.3.4/96", "fe80::/10", "1:2:3:4:5:6:7:8/128"};
  const std::string alphabet = "0123456789abcdefABCDEF.:/ \t\r\n#x<%-";
  const std::vector<ZoneOptions> options = {
      {}, {Families::V4, 0, 0}, {Families::V6, 0, 0}, {Families::Both, 4, 10}, {Families::Both, 24, 48}};
  for (int iter = 0; iter < 10000; ++iter) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      text += lines[rng() % lines.size()];
      text += rng() % 5 == 0 ? "\r\n" : "\n";
    }
    for (int m = static_cast<int>(rng() % 3); m > 0; --m) {
      const std::size_t at = rng() % (text.size() + 1);
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
      case 0:
        text.insert(at, 1, c);
        break;
      case 1:
        if (at < text.size()) {
          text[at] = c;
        }
        break;
      default:
        if (at < text.size()) {
          text.erase(at, 1);
        }
      }
    }
    for (const ZoneOptions& opt : options) {
      const ZoneReference want = reference_zone(text, opt);
      NetList got;
      std::size_t error_line = 0;
      try {
        net::parse_zone(text, "zone", opt, got);
      } catch (const ParseError& e) {
        error_line = e.line();
      }
      ASSERT_EQ(error_line, want.ok ? 0 : want.error_line) << "input: " << ::testing::PrintToString(text);
      if (want.ok) {
        ASSERT_EQ(str(got.v4), str(want.nets.v4)) << ::testing::PrintToString(text);
        ASSERT_EQ(str(got.v6), str(want.nets.v6)) << ::testing::PrintToString(text);
      }
    }
  }
}

} // namespace
} // namespace geoblock::net_test
