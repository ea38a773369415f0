// ASN numbers and the text formats of ASN data (net/asn.hpp): iptoasn's
// TSV and ip-location-db's CSV, ranges split into CIDRs, every line
// validated.
#include "core/error.hpp"
#include "net/asn.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace geoblock;
using testing::ElementsAre;
using testing::HasSubstr;

namespace {

std::vector<std::string>
nets_of(const net::AsnData& d, std::uint32_t n)
{
  std::vector<std::string> out;
  const auto it = d.by_number.find(n);
  if (it == d.by_number.end()) {
    return out;
  }
  for (const auto& p : it->second.nets.v4) {
    out.push_back(net::to_string(p));
  }
  for (const auto& p : it->second.nets.v6) {
    out.push_back(net::to_string(p));
  }
  return out;
}

std::string
error_of(const std::string& text)
{
  net::AsnData d;
  try {
    net::parse_asn_text(text, "asn.txt", net::AsnQuery{{}, true, {}}, d);
  } catch (const ParseError& e) {
    return e.what();
  }
  return "";
}

TEST(Asn, NumbersAreWrittenWithOrWithoutAs)
{
  EXPECT_EQ(net::parse_asn("AS13335"), 13335u);
  EXPECT_EQ(net::parse_asn("as13335"), 13335u);
  EXPECT_EQ(net::parse_asn("13335"), 13335u);
  EXPECT_EQ(net::parse_asn("0"), 0u);
  EXPECT_EQ(net::parse_asn("4294967295"), 4294967295u);
  for (const char* bad : {"", "AS", "4294967296", "013335", "-1", "AS 1", "1.5", "AS13335x"}) {
    EXPECT_FALSE(net::parse_asn(bad)) << bad;
  }
  EXPECT_EQ(net::asn_label(13335, "Cloudflare, Inc."), "AS13335 Cloudflare, Inc.");
  EXPECT_EQ(net::asn_label(64496, ""), "AS64496");
  EXPECT_EQ(net::asn_label(64496, " Tab\tand\x01"
                                  "control "),
            "AS64496 Tab?and?control");
}

TEST(Asn, IptoasnRangesAreSplitIntoCidrsPerAs)
{
  const std::string tsv =
      "198.51.100.0\t198.51.100.255\t64496\tUS\tEXAMPLE-NET - Example, Inc.\n"
      "203.0.113.0\t203.0.113.95\t64497\tNL\tOther\n"
      "192.0.2.0\t192.0.2.255\t0\tNone\tNot routed\n"
      "2001:db8::\t2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\t64496\tUS\tEXAMPLE-NET - Example, Inc.\n";
  net::AsnData d;
  net::parse_asn_text(tsv, "ip2asn.tsv", {64496, 64497}, d);
  EXPECT_THAT(nets_of(d, 64496), ElementsAre("198.51.100.0/24", "2001:db8::/32"));
  EXPECT_THAT(nets_of(d, 64497), ElementsAre("203.0.113.0/26", "203.0.113.64/27"));
  EXPECT_EQ(d.by_number.at(64496).name, "EXAMPLE-NET - Example, Inc.");
  EXPECT_EQ(d.by_number.count(0), 0u); // AS 0 only when asked
  EXPECT_EQ(d.lines, 4u);
  net::AsnData zero;
  net::parse_asn_text(tsv, "ip2asn.tsv", {0}, zero);
  EXPECT_THAT(nets_of(zero, 0), ElementsAre("192.0.2.0/24"));
}

TEST(Asn, IpLocationDbCsvWithQuotedNamesAndAHeader)
{
  const std::string csv =
      "ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization\n"
      "198.51.100.0,198.51.100.127,13335,\"Cloudflare, Inc.\"\r\n"
      "2001:db8::,2001:db8::ffff,13335,\"Cloudflare, Inc.\"\n";
  net::AsnData d;
  net::parse_asn_text(csv, "asn.csv", {13335}, d);
  EXPECT_THAT(nets_of(d, 13335), ElementsAre("198.51.100.0/25", "2001:db8::/112"));
  EXPECT_EQ(d.by_number.at(13335).name, "Cloudflare, Inc.");
}

TEST(Asn, EveryLineIsValidatedAndTheWholeFileRefused)
{
  EXPECT_THAT(error_of("198.51.100.0,198.51.100.255,64496,X\nnot,an,address\n"), HasSubstr("asn.txt:2: "));
  EXPECT_THAT(error_of("198.51.100.9,198.51.100.1,64496,X\n"), HasSubstr("ends before it starts"));
  EXPECT_THAT(error_of("198.51.100.0,2001:db8::,64496,X\n"), HasSubstr("not an IPv4 address"));
  EXPECT_THAT(error_of("198.51.100.0,198.51.100.255,ASX,X\n"), HasSubstr("invalid AS number"));
  EXPECT_THAT(error_of("198.51.100.0,198.51.100.255,64496,X"), HasSubstr("no line end"));
  EXPECT_THAT(error_of("<html><body>502</body></html>\n"), HasSubstr("HTML"));
  EXPECT_THAT(error_of("198.51.100.0\t198.51.100.255\t64496\n"),
              HasSubstr("expected 5 tab-separated fields"));
  EXPECT_THAT(error_of("198.51.100.0,198.51.100.255,64496,\"open\n"), HasSubstr("unbalanced quote"));
}

} // namespace

namespace {

net::Address
address(const char* text)
{
  return *net::parse_address(text);
}

} // namespace

TEST(Lookup, AddressesOfBothFamiliesAreParsedStrictly)
{
  EXPECT_EQ(net::parse_address("198.51.100.7")->family, net::Family::V4);
  EXPECT_EQ(net::to_string(address("198.51.100.7")), "198.51.100.7");
  EXPECT_EQ(net::parse_address("2001:DB8::1")->family, net::Family::V6);
  EXPECT_EQ(net::to_string(address("2001:DB8::1")), "2001:db8::1");
  for (const char* bad : {"", "198.51.100.07", "198.51.100.0/24", "2001:db8::1%eth0", "example.org"}) {
    EXPECT_FALSE(net::parse_address(bad)) << bad;
  }
}

// check's lookups in ASN text: the AS of the first range holding each
// address, and the range's CIDR that holds it, whether or not that AS's
// networks are asked for; every line is validated all the same.
TEST(Lookup, TheAsHoldingEachAddressIsFoundInTheTextWithTheCidrAroundIt)
{
  const std::string tsv = "198.51.100.0\t198.51.100.191\t64496\tUS\tExample Hosting\n"
                          "203.0.113.0\t203.0.113.255\t0\tNone\tNot routed\n"
                          "2001:db8::\t2001:db8::ffff\t64497\tNL\t Example  Office \n";
  net::AsnData d;
  net::parse_asn_text(tsv, "ip2asn.tsv",
                      net::AsnQuery{{},
                                    false,
                                    {address("198.51.100.130"), address("192.0.2.1"), address("2001:db8::1"),
                                     address("203.0.113.9")}},
                      d);
  EXPECT_TRUE(d.by_number.empty()) << "no AS's networks asked for";
  ASSERT_EQ(d.hits.size(), 4u);
  ASSERT_TRUE(d.hits[0]);
  EXPECT_EQ(d.hits[0]->number, 64496u);
  EXPECT_EQ(d.hits[0]->name, "Example Hosting");
  EXPECT_EQ(net::to_string(d.hits[0]->v4), "198.51.100.128/26"); // of 198.51.100.0/25 + .128/26
  EXPECT_FALSE(d.hits[1]);
  ASSERT_TRUE(d.hits[2]);
  EXPECT_EQ(d.hits[2]->family, net::Family::V6);
  EXPECT_EQ(net::to_string(d.hits[2]->v6), "2001:db8::/112");
  EXPECT_EQ(d.hits[2]->name, "Example  Office");
  ASSERT_TRUE(d.hits[3]);
  EXPECT_EQ(d.hits[3]->number, 0u);
  EXPECT_EQ(d.hits[3]->name, "");

  // A bad line refuses the file, lookups or not.
  net::AsnData bad;
  EXPECT_THROW(net::parse_asn_text(tsv + "x\ty\t1\tUS\tZ\n", "ip2asn.tsv",
                                   net::AsnQuery{{}, false, {address("198.51.100.1")}}, bad),
               ParseError);
}
