// The autonomous systems in the plan and its reports (flow/report.hpp):
// one row per AS, blocked and allowed, under "asns" in the JSON report and
// state.json; max-shrink per AS against what the last update applied, also
// when that was recorded in the form before "asns" existed.
#include "flow/report.hpp"
#include "net/blocklist.hpp"
#include "net/zone.hpp"
#include "util/json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using namespace geoblock;
using testing::HasSubstr;

net::ZoneResult
zone(const std::string& country, const std::string& text)
{
  net::ZoneResult z;
  z.country = country;
  z.family = net::Family::V4;
  z.origin = net::Origin::Downloaded;
  net::parse_zone(text, country, net::ZoneOptions{}, z.nets);
  return z;
}

net::AsnResult
as(std::uint32_t number, const std::string& name, bool allow, const std::string& text,
   net::Origin origin = net::Origin::Local)
{
  net::AsnResult a;
  a.number = number;
  a.name = name;
  a.allow = allow;
  a.origin = origin;
  a.location = "/var/lib/GeoIP/GeoLite2-ASN.mmdb";
  net::parse_blocklist(text, "AS" + std::to_string(number), net::ZoneOptions{}, a.nets);
  return a;
}

flow::Settings
settings(bool allow_only = false)
{
  flow::Settings s;
  s.countries = {"cn"};
  s.allow_only = allow_only;
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

// cn 198.51.100.0/24; AS64496 (blocked) 203.0.113.0/25; AS64497 (allowed)
// 198.51.100.192/26, inside cn.
const std::vector<net::ZoneResult> k_zones = {zone("cn", "198.51.100.0/24\n")};
const std::vector<net::AsnResult> k_asns = {as(64496, "Example Hosting", false, "203.0.113.0/25\n"),
                                            as(64497, "Example Office", true, "198.51.100.192/26\n")};

TEST(AsnPlan, EveryAsIsARowOfItsOwnUnderAsnsBlockedAndAllowedAlike)
{
  const flow::Settings s = settings();
  const flow::Report plan = flow::make_report(k_zones, {}, k_asns, s, 1000);
  EXPECT_EQ(strings(plan.target.v4),
            (std::vector<std::string>{"198.51.100.0/25", "198.51.100.128/26", "203.0.113.0/25"}));
  ASSERT_EQ(plan.asns.size(), 2u);
  EXPECT_EQ(plan.asns[0].label(), "AS64496 Example Hosting");
  EXPECT_EQ(plan.asns[1].label(), "allow AS64497 Example Office");
  EXPECT_TRUE(plan.blocklists.empty());
  EXPECT_EQ(plan.networks_v4, 2u) << "the blocked AS adds to the block; the allowed one only exempts";

  const util::Json doc = flow::report_json(plan, s, true, 1000);
  EXPECT_TRUE(doc.get("blocklists").items().empty()) << doc.dump(2);
  const auto& asns = doc.get("asns").items();
  ASSERT_EQ(asns.size(), 2u) << doc.dump(2);
  EXPECT_EQ(asns[0].get("as").as_int(), 64496);
  EXPECT_EQ(asns[0].get("name").as_string(), "Example Hosting");
  EXPECT_EQ(asns[0].get("action").as_string(), "block");
  EXPECT_EQ(asns[0].get("location").as_string(), "/var/lib/GeoIP/GeoLite2-ASN.mmdb");
  EXPECT_EQ(asns[0].get("v4").get("networks").as_int(), 1);
  EXPECT_EQ(asns[0].get("v4").get("source").as_string(), "local");
  EXPECT_EQ(asns[1].get("as").as_int(), 64497);
  EXPECT_EQ(asns[1].get("action").as_string(), "allow");
  EXPECT_EQ(asns[1].get("v4").get("addresses").as_double(), 64.0);

  const std::string text = flow::format_report(plan, s, true);
  EXPECT_THAT(text, HasSubstr("AS64496 Example Hosting               1        1  local"));
  EXPECT_THAT(text, HasSubstr("allow AS64497 Example Office          1        1  local"));
  EXPECT_THAT(text, HasSubstr("(total AGGR: all countries and blocked ASes merged, minus the allowlist, the "
                              "allowed ASes and local networks)"));
  const std::string metrics = flow::format_metrics(flow::report_json(plan, s, false, 1000));
  EXPECT_THAT(metrics, HasSubstr("geoblock_asn_networks{as=\"64496\",action=\"block\",family=\"v4\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("geoblock_asn_fresh{as=\"64497\",action=\"allow\",family=\"v4\"} 1\n"));
}

TEST(AsnPlan, AllowOnlyLetsTheAllowedAsInAndKeepsTheBlockedOneOut)
{
  const flow::Settings s = settings(true);
  const flow::Report plan = flow::make_report(k_zones, {},
                                              {as(64496, "Example Hosting", false, "198.51.100.0/26\n"),
                                               as(64497, "Example Office", true, "203.0.113.0/25\n")},
                                              s, 1000);
  EXPECT_EQ(strings(plan.target.v4),
            (std::vector<std::string>{"198.51.100.64/26", "198.51.100.128/25", "203.0.113.0/25"}));
  ASSERT_EQ(plan.rows.size(), 1u) << "the allowed AS is no country row";
  EXPECT_EQ(flow::report_json(plan, s, true, 1000).get("asns").items().at(1).get("action").as_string(),
            "allow");
}

TEST(AsnPlan, AnAsWithoutDataIsCountedAndSaidOnce)
{
  const flow::Report plan =
      flow::make_report(k_zones, {},
                        {as(64496, "", false, "", net::Origin::Failed),
                         as(64497, "Example Office", true, "198.51.100.192/26\n", net::Origin::StaleCache)},
                        settings(), 1000);
  EXPECT_EQ(plan.failed, 1u);
  EXPECT_EQ(plan.stale, 1u);
  ASSERT_EQ(plan.warnings.size(), 2u);
  EXPECT_THAT(plan.warnings[0], HasSubstr("asn AS64496: no data, nothing of it is blocked"));
  EXPECT_THAT(plan.warnings[1],
              HasSubstr("allow-asn AS64497 Example Office: using the last good cached copy"));
}

// The state document of the last update, as this version writes it.
util::Json
state_of(const flow::Report& plan, const flow::Settings& s)
{
  util::Json doc = flow::report_json(plan, s, false, 1000);
  doc.set("time", 1000);
  return doc;
}

TEST(AsnPlan, AnAsThatShrankSinceTheLastUpdateIsRefused)
{
  const flow::Settings s = settings();
  const util::Json last = state_of(flow::make_report(k_zones, {}, k_asns, s, 1000), s);
  // AS64496: /25 -> /28. AS64497 (allowed, policy block) shrank too: an
  // exemption shrinking is no lifted block, like the allowlist.
  flow::Report now = flow::make_report(k_zones, {},
                                       {as(64496, "Example Hosting", false, "203.0.113.0/28\n"),
                                        as(64497, "Example Office", true, "198.51.100.192/30\n")},
                                       s, 2000);
  flow::check_shrink_against(last, 0.5, now);
  ASSERT_EQ(now.refused.size(), 1u);
  EXPECT_THAT(now.refused[0], HasSubstr("asn AS64496 Example Hosting IPv4: 1 to 1 networks (-88% of the "
                                        "addresses, more than max-shrink 50%) against what the update of "));
  // An AS the last update did not apply (or another action) is no shrink.
  flow::Report other =
      flow::make_report(k_zones, {}, {as(64499, "Other", false, "203.0.113.0/28\n")}, s, 2000);
  flow::check_shrink_against(last, 0.5, other);
  EXPECT_TRUE(other.refused.empty());
}

// A state.json written before "asns" existed: a blocked AS was a blocklist
// located "asn:NUMBER:FILES", an allowed AS with allow-only a country row
// "allow ASNUMBER NAME". The first update after the upgrade compares with
// them, and neither refuses nor fails when nothing shrank.
TEST(AsnPlan, AStateDocumentOfTheFormBeforeIsStillComparedWith)
{
  const util::Json old = util::Json::parse(R"({
    "time": 1000, "policy": "allow-only",
    "countries": [
      {"country": "cn", "v4": {"networks": 1, "addresses": 256}, "v6": null},
      {"country": "allow AS64497 Example Office", "v4": {"networks": 1, "addresses": 128}, "v6": null}],
    "blocklists": [
      {"name": "AS64496 Example Hosting", "location": "asn:64496:/var/lib/GeoIP/GeoLite2-ASN.mmdb",
       "v4": {"networks": 1, "addresses": 128}, "v6": null}]
  })",
                                           "state.json");
  flow::Settings s = settings(true);
  s.families = net::Families::V4;
  flow::Report same = flow::make_report(k_zones, {},
                                        {as(64496, "Example Hosting", false, "203.0.113.0/25\n"),
                                         as(64497, "Example Office", true, "203.0.113.128/25\n")},
                                        s, 2000);
  flow::check_shrink_against(old, 0.5, same);
  EXPECT_TRUE(same.refused.empty());

  flow::Report shrunk = flow::make_report(k_zones, {},
                                          {as(64496, "Example Hosting", false, "203.0.113.0/28\n"),
                                           as(64497, "Renamed Office", true, "203.0.113.128/28\n")},
                                          s, 2000);
  flow::check_shrink_against(old, 0.5, shrunk);
  ASSERT_EQ(shrunk.refused.size(), 2u);
  EXPECT_THAT(shrunk.refused[0], HasSubstr("asn AS64496 Example Hosting IPv4: 1 to 1 networks (-88%"));
  EXPECT_THAT(shrunk.refused[1], HasSubstr("allow-asn AS64497 Renamed Office IPv4: 1 to 1 networks (-88%"));
  // Not the same AS by a prefix of its number.
  flow::Report prefix = flow::make_report(k_zones, {}, {as(6449, "", false, "203.0.113.0/30\n")}, s, 2000);
  flow::check_shrink_against(old, 0.5, prefix);
  EXPECT_TRUE(prefix.refused.empty());
}

} // namespace
