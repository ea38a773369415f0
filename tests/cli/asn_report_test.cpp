// The fetching process's 'asn' records (privsep/report.hpp): written
// and read back, forged ones refused, and the networks parsed again here
// with the guards (revalidate_asns).
#include "core/error.hpp"
#include "net/zone.hpp"
#include "privsep/report.hpp"
#include "util/file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace geoblock;
using testing::HasSubstr;

namespace {

std::vector<net::AsnResult>
two_asns()
{
  net::AsnResult a;
  a.number = 13335;
  a.name = "Cloudflare, Inc.";
  a.origin = net::Origin::Local;
  a.location = "/var/lib/GeoIP/GeoLite2-ASN.mmdb";
  a.nets.v4 = {net::Prefix4{*net::parse_v4("198.51.100.0"), 25}};
  a.nets.v6 = {net::Prefix6{*net::parse_v6("2001:db8::"), 32}};
  net::AsnResult b;
  b.number = 64496;
  b.allow = true;
  b.origin = net::Origin::Absent;
  b.error = "no networks for AS64496";
  return {a, b};
}

const std::vector<privsep::ExpectedAsn> k_expected = {{13335, false}, {64496, true}};

std::string
error_of(const std::string& text)
{
  try {
    privsep::parse_child_report(text, {}, net::Families::Both, {}, k_expected);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(AsnReport, RecordsRoundTripAndAreParsedAgainWithTheGuards)
{
  const std::string text = privsep::format_child_report({}, {}, two_asns());
  const privsep::ChildReport r = privsep::parse_child_report(text, {}, net::Families::Both, {}, k_expected);
  ASSERT_EQ(r.asns.size(), 2u);
  EXPECT_EQ(r.asns[0].name, "Cloudflare, Inc.");
  EXPECT_EQ(r.asns[0].body, "198.51.100.0/25\n2001:db8::/32\n");
  EXPECT_TRUE(r.asns[1].allow);
  const auto back = privsep::revalidate_asns(r.asns, net::ZoneOptions{});
  EXPECT_EQ(back[0].label(), "AS13335 Cloudflare, Inc.");
  EXPECT_EQ(back[0].nets.v4.size(), 1u);
  EXPECT_EQ(back[0].nets.v6.size(), 1u);
  EXPECT_EQ(back[1].origin, net::Origin::Absent);

  // A /0 from a lying fetcher fails that AS on re-validation.
  auto wide = two_asns();
  wide[0].nets.v4 = {net::Prefix4{0, 0}};
  const auto refused = privsep::revalidate_asns(
      privsep::parse_child_report(privsep::format_child_report({}, {}, wide), {}, net::Families::Both, {},
                                  k_expected)
          .asns,
      net::ZoneOptions{net::Families::Both, net::k_default_min_prefix_v4, net::k_default_min_prefix_v6});
  EXPECT_EQ(refused[0].origin, net::Origin::Failed);
  EXPECT_THAT(refused[0].error, HasSubstr("refused on re-validation"));
}

TEST(AsnReport, ForgedRecordsAreRefused)
{
  auto other = two_asns();
  other[0].number = 15169;
  EXPECT_THAT(error_of(privsep::format_child_report({}, {}, other)), HasSubstr("an AS not asked for here"));
  auto flipped = two_asns();
  flipped[1].allow = false;
  EXPECT_THAT(error_of(privsep::format_child_report({}, {}, flipped)), HasSubstr("an AS not asked for here"));
  auto absent_with_body = two_asns();
  absent_with_body[0].origin = net::Origin::Absent;
  EXPECT_THAT(error_of(privsep::format_child_report({}, {}, absent_with_body)),
              HasSubstr("where none belongs"));
  EXPECT_THAT(error_of(privsep::format_child_report({}, {}, {two_asns()[0]})), HasSubstr("not an asn line"));
}

TEST(AsnReport, TheFuzzSeedIsAValidReport)
{
  const std::string text = util::read_file(GEOBLOCK_SOURCE_DIR "/tests/fuzz/corpus/report/asns.txt");
  const std::vector<privsep::ExpectedList> lists = {{"drop.txt", "https://www.spamhaus.org/drop/drop.txt"},
                                                    {"own.txt", "/etc/geoblock/own.txt"}};
  const privsep::ChildReport r =
      privsep::parse_child_report(text, {"cn", "de"}, net::Families::Both, lists, k_expected);
  EXPECT_EQ(r.asns.size(), 2u);
  EXPECT_EQ(r.asns[0].name, "Cloudflare, Inc.");
}

} // namespace
