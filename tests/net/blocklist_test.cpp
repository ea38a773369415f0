// Extra blocklists (net/blocklist): the Spamhaus DROP form and other plain
// lists are read strictly; a bad line refuses the whole list, naming it.
#include "core/error.hpp"
#include "net/blocklist.hpp"
#include "net_test_util.hpp"

namespace geoblock::net_test {
namespace {

using net::NetList;
using net::ZoneOptions;

const ZoneOptions k_guard{net::Families::Both, net::k_default_min_prefix_v4, net::k_default_min_prefix_v6};

std::string
error_of(const std::string& text, NetList& out)
{
  try {
    net::parse_blocklist(text, "drop.txt", k_guard, out);
  } catch (const ParseError& e) {
    return e.what();
  }
  return "";
}

TEST(Blocklist, ReadsSpamhausDropFormCommentsAndBothFamilies)
{
  const std::string text = "; Spamhaus DROP List 2026/12/01 - (c) 2026 The Spamhaus Project\n"
                           "; Last-Modified: Tue, 01 Dec 2026 12:00:00 GMT\n"
                           "198.51.100.0/24 ; SBL123\n"
                           "203.0.113.7;SBL9 no blank before the semicolon\n"
                           "\n"
                           "# a firehol-style comment\r\n"
                           "  192.0.2.128/25   # trailing hash comment\r\n"
                           "2001:db8:1::/48 ; SBL77\n"
                           "2001:db8::1\n";
  NetList out;
  const net::ZoneStats stats = net::parse_blocklist(text, "drop.txt", k_guard, out);
  EXPECT_EQ(stats.lines, 9u);
  EXPECT_EQ(stats.networks, 5u);
  EXPECT_EQ(stats.v4, 3u);
  EXPECT_EQ(stats.v6, 2u);
  EXPECT_EQ(out.v4, (nets<std::uint32_t>("198.51.100.0/24 203.0.113.7/32 192.0.2.128/25")));
  EXPECT_EQ(out.v6, (nets<u128>("2001:db8:1::/48 2001:db8::1/128")));
}

TEST(Blocklist, AnEmptyOrCommentOnlyListHasNoNetworks)
{
  NetList out;
  EXPECT_EQ(net::parse_blocklist("", "x", k_guard, out).networks, 0u);
  EXPECT_EQ(net::parse_blocklist("; nothing\n# here\n\n", "x", k_guard, out).networks, 0u);
  EXPECT_TRUE(out.v4.empty() && out.v6.empty());
}

TEST(Blocklist, ABadLineRefusesTheWholeListNamingFileAndLine)
{
  NetList out;
  out.v4 = nets<std::uint32_t>("192.0.2.0/24"); // what the caller had before
  const struct {
    const char* text;
    const char* error;
  } cases[] = {
      {"198.51.100.0/24\n198.51.100.300/32 ; SBL1\n",
       "drop.txt:2: invalid IPv4 address: '198.51.100.300/32 ; SBL1'"},
      {"198.51.100.0/24 SBL1\n", "drop.txt:1: more than one field on the line: '198.51.100.0/24 SBL1'"},
      {"<html><body>Forbidden</body></html>\n", "drop.txt:1: HTML, not a list of networks"},
      {"1.2.3.0/24\n0.0.0.0/0 ; everything\n", "drop.txt:2: refusing /0"},
      {"2001:db8::/129\n", "drop.txt:1: invalid IPv6 prefix length"},
      {"example.com\n", "drop.txt:1: not a network: 'example.com'"},
  };
  for (const auto& c : cases) {
    const std::string got = error_of(c.text, out);
    EXPECT_NE(got.find(c.error), std::string::npos) << c.text << " -> " << got;
  }
  EXPECT_NE(error_of(std::string("1.2.3.4\nab\0cd\n", 14), out).find("drop.txt:2: binary data (NUL byte)"),
            std::string::npos);
  // Refused lists added nothing, not even their good lines.
  EXPECT_EQ(out.v4, (nets<std::uint32_t>("192.0.2.0/24")));
  EXPECT_TRUE(out.v6.empty());
}

TEST(Blocklist, NamesAreTheFileNamesOfUrlsAndPaths)
{
  EXPECT_EQ(net::blocklist_name("https://www.spamhaus.org/drop/drop.txt"), "drop.txt");
  EXPECT_EQ(net::blocklist_name("https://example.net/lists/asn64496.txt?key=1#x"), "asn64496.txt");
  EXPECT_EQ(net::blocklist_name("https://example.net/lists/"), "lists");
  EXPECT_EQ(net::blocklist_name("https://example.net"), "example.net");
  EXPECT_EQ(net::blocklist_name("/etc/geoblock/extra.list"), "extra.list");
  EXPECT_EQ(net::blocklist_name("extra.list"), "extra.list");
}

} // namespace
} // namespace geoblock::net_test
