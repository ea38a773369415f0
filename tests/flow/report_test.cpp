// The step between fetching and applying: what the sets should hold, and
// the report of it.
#include "flow/report.hpp"
#include "net/blocklist.hpp"
#include "net/zone.hpp"

#include <gtest/gtest.h>

namespace {

using namespace geoblock;

net::ZoneResult
zone(const std::string& country, net::Family family, const std::string& text,
     net::Origin origin = net::Origin::Downloaded)
{
  net::ZoneResult z;
  z.country = country;
  z.family = family;
  z.origin = origin;
  net::parse_zone(text, country, net::ZoneOptions{}, z.nets);
  return z;
}

flow::Settings
settings(std::vector<std::string> countries)
{
  flow::Settings s;
  s.countries = std::move(countries);
  return s;
}

std::vector<std::string>
strings(const std::vector<net::Prefix4>& nets)
{
  std::vector<std::string> out;
  for (const auto& p : nets) {
    out.push_back(net::to_string(p));
  }
  return out;
}

TEST(Plan, MergesCountriesAndCountsPerZone)
{
  const auto plan = flow::make_report({zone("cn", net::Family::V4, "198.51.100.0/25\n198.51.100.128/25\n"),
                                       zone("ru", net::Family::V4, "203.0.113.0/24\n")},
                                      settings({"cn", "ru"}), 1000);
  ASSERT_EQ(plan.rows.size(), 2u);
  EXPECT_EQ(plan.rows[0].country, "cn");
  EXPECT_EQ(plan.rows[0].v4.networks, 2u);
  EXPECT_EQ(plan.rows[0].v4.aggregated, 1u);
  EXPECT_EQ(plan.networks_v4, 3u);
  EXPECT_EQ(strings(plan.target.v4), (std::vector<std::string>{"198.51.100.0/24", "203.0.113.0/24"}));
  EXPECT_TRUE(plan.warnings.empty());
}

TEST(Plan, LocalNetworksAreSubtractedWithAWarningNamingTheCountry)
{
  const auto plan =
      flow::make_report({zone("cn", net::Family::V4, "192.168.0.0/16\n10.0.0.0/7\n198.51.100.0/24\n"),
                         zone("ru", net::Family::V6, "fc00::/6\n2001:db8::/32\n")},
                        settings({"cn", "ru"}), 1000);
  // 10.0.0.0/7 is 10/8 (private) and 11/8 (public): only 11/8 stays.
  EXPECT_EQ(strings(plan.target.v4), (std::vector<std::string>{"11.0.0.0/8", "198.51.100.0/24"}));
  // fc00::/6 spans fc00::/7 (unique local), fe80::/10 (link local) and
  // ff00::/8 (multicast); what is left is fe00::/9 and fec0::/10.
  std::vector<std::string> v6;
  for (const auto& p : plan.target.v6) {
    v6.push_back(net::to_string(p));
  }
  EXPECT_EQ(v6, (std::vector<std::string>{"2001:db8::/32", "fe00::/9", "fec0::/10"}));
  ASSERT_EQ(plan.warnings.size(), 2u);
  EXPECT_EQ(plan.warnings[0].rfind("cn IPv4: ", 0), 0u) << plan.warnings[0];
  EXPECT_EQ(plan.warnings[1].rfind("ru IPv6: ", 0), 0u) << plan.warnings[1];
}

TEST(Plan, BlockLocalKeepsLocalNetworksWithoutWarning)
{
  auto s = settings({"cn"});
  s.raw.block_local = true;
  const auto plan = flow::make_report({zone("cn", net::Family::V4, "192.168.0.0/16\n")}, s, 1000);
  EXPECT_EQ(strings(plan.target.v4), (std::vector<std::string>{"192.168.0.0/16"}));
  EXPECT_TRUE(plan.warnings.empty());
}

TEST(Plan, AllowlistIsSubtracted)
{
  auto s = settings({"cn"});
  net::parse_network("198.51.100.64/26", s.allow);
  const auto plan = flow::make_report({zone("cn", net::Family::V4, "198.51.100.0/24\n")}, s, 1000);
  EXPECT_EQ(strings(plan.target.v4), (std::vector<std::string>{"198.51.100.0/26", "198.51.100.128/25"}));
}

TEST(Plan, AllowOnlyKeepsTheCountriesWhole)
{
  auto s = settings({"cn"});
  s.allow_only = true;
  net::parse_network("198.51.100.64/26", s.allow);
  const auto plan =
      flow::make_report({zone("cn", net::Family::V4, "198.51.100.0/24\n10.0.0.0/8\n")}, s, 1000);
  EXPECT_EQ(strings(plan.target.v4), (std::vector<std::string>{"10.0.0.0/8", "198.51.100.0/24"}));
}

TEST(Plan, FamilyFilterDropsTheOtherFamily)
{
  auto s = settings({"cn"});
  s.families = net::Families::V6;
  const auto plan = flow::make_report(
      {zone("cn", net::Family::V4, "198.51.100.0/24\n"), zone("cn", net::Family::V6, "2001:db8::/32\n")}, s,
      1000);
  EXPECT_TRUE(plan.target.v4.empty());
  EXPECT_EQ(plan.target.v6.size(), 1u);
}

TEST(Plan, StaleAndFailedZonesAreCountedAndReported)
{
  auto failed = zone("ru", net::Family::V4, "", net::Origin::Failed);
  failed.error = "HTTP 500";
  auto stale = zone("cn", net::Family::V4, "198.51.100.0/24\n", net::Origin::StaleCache);
  stale.error = "timeout";
  const std::int64_t now = 100 * 86400;
  stale.fetched_at = now - 3 * 86400 - 60;
  const auto plan = flow::make_report({stale, failed}, settings({"cn", "ru"}), now);
  EXPECT_EQ(plan.stale, 1u);
  EXPECT_EQ(plan.failed, 1u);
  EXPECT_FALSE(plan.all_unchanged);
  EXPECT_EQ(plan.rows[0].v4.age_days, 3);
  const std::string report = flow::format_report(plan, settings({"cn", "ru"}), true);
  EXPECT_NE(report.find("stale cache (3 d old)"), std::string::npos) << report;
  EXPECT_NE(report.find("failed"), std::string::npos) << report;
}

TEST(Plan, AllNotModifiedIsUnchanged)
{
  const auto plan =
      flow::make_report({zone("cn", net::Family::V4, "198.51.100.0/24\n", net::Origin::NotModified),
                         zone("cn", net::Family::V6, "", net::Origin::Absent)},
                        settings({"cn"}), 1000);
  EXPECT_TRUE(plan.all_unchanged);
}

TEST(Plan, DifferenceAgainstLiveSets)
{
  auto plan = flow::make_report({zone("cn", net::Family::V4, "198.51.100.0/24\n203.0.113.0/25\n")},
                                settings({"cn"}), 1000);
  net::NetList live;
  net::parse_network("198.51.100.0/24", live);
  net::parse_network("203.0.113.128/25", live);
  net::parse_network("203.0.113.200/32", live);
  flow::compare_with_live(plan, live, true, false);
  EXPECT_EQ(plan.added_v4, 1u);   // 203.0.113.0/25
  EXPECT_EQ(plan.removed_v4, 2u); // 203.0.113.128/25 and the /32
  EXPECT_TRUE(plan.changes_live());
  const auto doc = flow::report_json(plan, settings({"cn"}), true, 1000);
  EXPECT_EQ(doc.get("totals").get("v4").get("added").as_int(), 1);
  EXPECT_EQ(doc.get("totals").get("v4").get("removed").as_int(), 2);
  EXPECT_EQ(doc.get("totals").get("v4").get("entries").as_int(), 2);
  EXPECT_EQ(doc.get("countries").items().at(0).get("v4").get("source").as_string(), "downloaded");
}

TEST(Plan, MetricsCarryTheStateFigures)
{
  const auto plan =
      flow::make_report({zone("cn", net::Family::V4, "198.51.100.0/24\n")}, settings({"cn"}), 1000);
  const std::string m = flow::format_metrics(flow::report_json(plan, settings({"cn"}), false, 1234));
  EXPECT_NE(m.find("geoblock_last_success_timestamp_seconds 1234\n"), std::string::npos) << m;
  EXPECT_NE(m.find("geoblock_set_entries{family=\"v4\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("geoblock_zone_networks{country=\"cn\",family=\"v4\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("geoblock_zone_fresh{country=\"cn\",family=\"v4\"} 1\n"), std::string::npos) << m;
}

TEST(Plan, MetricsMarkAZoneOnAStaleCacheAsNotFresh)
{
  auto stale = zone("cn", net::Family::V4, "198.51.100.0/24\n", net::Origin::StaleCache);
  auto absent = zone("cn", net::Family::V6, "", net::Origin::Absent);
  const auto plan = flow::make_report({stale, absent}, settings({"cn"}), 1000);
  const std::string m = flow::format_metrics(flow::report_json(plan, settings({"cn"}), false, 1234));
  EXPECT_NE(m.find("geoblock_zone_fresh{country=\"cn\",family=\"v4\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("geoblock_zone_fresh{country=\"cn\",family=\"v6\"} 1\n"), std::string::npos) << m;
}

net::BlocklistResult
blocklist(const std::string& name, const std::string& text, net::Origin origin = net::Origin::Downloaded)
{
  net::BlocklistResult b;
  b.name = name;
  b.location = "https://lists.example/" + name;
  b.origin = origin;
  net::parse_blocklist(text, name, net::ZoneOptions{}, b.nets);
  return b;
}

TEST(Plan, BlocklistsAreMergedIntoTheBlockWithARowEach)
{
  flow::Settings s = settings({"cn"});
  s.allow = {{{0xc0000280u, 28}}, {}}; // 192.0.2.128/28: the allowlist still wins
  const auto plan = flow::make_report(
      {zone("cn", net::Family::V4, "198.51.100.0/25\n")},
      {blocklist("drop.txt", "; DROP\n198.51.100.128/25 ; SBL1\n192.0.2.0/24\n2001:db8::/32 ; SBL2\n")}, s,
      1000);
  ASSERT_EQ(plan.blocklists.size(), 1u);
  EXPECT_EQ(plan.blocklists[0].name, "drop.txt");
  EXPECT_EQ(plan.blocklists[0].v4.networks, 2u);
  EXPECT_EQ(plan.blocklists[0].v6.networks, 1u);
  EXPECT_EQ(plan.networks_v4, 3u);
  EXPECT_EQ(strings(plan.target.v4),
            (std::vector<std::string>{"192.0.2.0/25", "192.0.2.144/28", "192.0.2.160/27", "192.0.2.192/26",
                                      "198.51.100.0/24"}));
  EXPECT_EQ(plan.target.v6.size(), 1u);
  const std::string report = flow::format_report(plan, s, true);
  EXPECT_NE(report.find("drop.txt          2        2  downloaded"), std::string::npos) << report;
  const util::Json json = flow::report_json(plan, s, true, 1000);
  EXPECT_EQ(json.get("blocklists").items().at(0).get("name").as_string(), "drop.txt");
  EXPECT_EQ(json.get("blocklists").items().at(0).get("v4").get("networks").as_int(), 2);
}

TEST(Plan, AllowOnlyTakesTheBlocklistsOutOfWhatIsAllowed)
{
  flow::Settings s = settings({"cn"});
  s.allow_only = true;
  const auto plan = flow::make_report({zone("cn", net::Family::V4, "198.51.100.0/24\n")},
                                      {blocklist("asn.txt", "198.51.100.64/26\n203.0.113.0/24\n")}, s, 1000);
  EXPECT_EQ(
      strings(plan.target.v4),
      (std::vector<std::string>{"198.51.100.0/26", "198.51.100.128/25"})); // 203.0.113/24 was never allowed
}

TEST(Plan, MetricsHaveEachBlocklistsNetworksAndFreshness)
{
  const auto plan =
      flow::make_report({zone("cn", net::Family::V4, "198.51.100.0/24\n")},
                        {blocklist("drop.txt", "203.0.113.0/24\n192.0.2.0/24\n", net::Origin::StaleCache)},
                        settings({"cn"}), 1000);
  const std::string m = flow::format_metrics(flow::report_json(plan, settings({"cn"}), false, 1234));
  EXPECT_NE(m.find("geoblock_blocklist_networks{list=\"drop.txt\",family=\"v4\"} 2\n"), std::string::npos)
      << m;
  EXPECT_NE(m.find("geoblock_blocklist_fresh{list=\"drop.txt\",family=\"v4\"} 0\n"), std::string::npos) << m;
}

TEST(Plan, AFailedBlocklistCountsAsFailedAndAStaleOneAsStale)
{
  const auto plan = flow::make_report({zone("cn", net::Family::V4, "198.51.100.0/24\n")},
                                      {blocklist("a.txt", "", net::Origin::Failed),
                                       blocklist("b.txt", "203.0.113.0/24\n", net::Origin::StaleCache)},
                                      settings({"cn"}), 1000);
  EXPECT_EQ(plan.failed, 1u);
  EXPECT_EQ(plan.stale, 1u);
  EXPECT_FALSE(plan.all_unchanged);
  EXPECT_EQ(strings(plan.target.v4), (std::vector<std::string>{"198.51.100.0/24", "203.0.113.0/24"}));
}

} // namespace
