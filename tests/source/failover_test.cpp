// Failover between sources (source = http, rir): which source serves each
// zone, who is asked, and what "the last good cache" means across sources.
// The sources are in-memory fakes; the real ones are proven against nginx
// and the binary in tests/fetch/rir_source_test.cpp and tests/cli.
#include "core/error.hpp"
#include "source/failover.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace {

using geoblock::net::Families;
using geoblock::net::Family;
using geoblock::net::Origin;
using geoblock::net::ZoneResult;
using geoblock::net::ZoneSource;
using geoblock::source::FailoverSource;
using geoblock::source::NamedSource;
using testing::HasSubstr;

// Answers each zone as told ("cn v4" -> origin, fetched_at); anything not
// told fails. Records what it was asked.
class FakeSource final : public ZoneSource {
public:
  struct Answer {
    Origin origin = Origin::Failed;
    std::int64_t fetched_at = 0;
    std::uint32_t net = 0; // a /24 at this address, as the zone's data
  };
  std::map<std::string, Answer> answers;
  std::vector<std::string> asked; // "cn v4", in order
  bool throws = false;

  std::string describe() const override { return "fake"; }
  std::vector<ZoneResult> load(const std::vector<std::string>& countries, Families families, Mode) override
  {
    if (throws) {
      throw geoblock::Error("bundle.zip: not a zip file");
    }
    std::vector<ZoneResult> out;
    for (const Family f : {Family::V4, Family::V6}) {
      if (!geoblock::net::includes(families, f)) {
        continue;
      }
      for (const std::string& cc : countries) {
        const std::string key = cc + (f == Family::V4 ? " v4" : " v6");
        asked.push_back(key);
        ZoneResult r;
        r.country = cc;
        r.family = f;
        const auto it = answers.find(key);
        if (it == answers.end()) {
          r.origin = Origin::Failed;
          r.error = "HTTP 500";
        } else {
          r.origin = it->second.origin;
          r.fetched_at = it->second.fetched_at;
          if (r.origin != Origin::Failed && r.origin != Origin::Absent) {
            r.nets.v4.push_back({it->second.net, 24});
          } else {
            r.error = r.origin == Origin::Absent ? "404" : "HTTP 500";
          }
          if (r.origin == Origin::StaleCache) {
            r.error = "HTTP 500";
          }
        }
        out.push_back(std::move(r));
      }
    }
    return out;
  }
};

struct Two {
  FakeSource* http;
  FakeSource* rir;
  std::unique_ptr<FailoverSource> source;
};

Two
make_two()
{
  auto http = std::make_unique<FakeSource>();
  auto rir = std::make_unique<FakeSource>();
  Two t{http.get(), rir.get(), nullptr};
  std::vector<NamedSource> list;
  list.push_back(NamedSource{"http", std::move(http)});
  list.push_back(NamedSource{"rir", std::move(rir)});
  t.source = std::make_unique<FailoverSource>(std::move(list));
  return t;
}

const ZoneResult&
zone(const std::vector<ZoneResult>& rs, const std::string& cc, Family f)
{
  for (const ZoneResult& r : rs) {
    if (r.country == cc && r.family == f) {
      return r;
    }
  }
  throw std::runtime_error("no result for " + cc);
}

constexpr std::uint32_t k_a = 0xC0000200; // 192.0.2.0
constexpr std::uint32_t k_b = 0xC6336400; // 198.51.100.0

TEST(Failover, TheFirstSourceServesAndTheNextIsNotAskedWhenItWorks)
{
  Two t = make_two();
  t.http->answers = {{"cn v4", {Origin::Downloaded, 100, k_a}}, {"cn v6", {Origin::NotModified, 100, k_a}}};
  const auto rs = t.source->load({"cn"}, Families::Both, ZoneSource::Mode::Refresh);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].family, Family::V4);
  EXPECT_EQ(rs[0].source, "http");
  EXPECT_EQ(rs[1].source, "http");
  EXPECT_EQ(rs[1].origin, Origin::NotModified);
  EXPECT_TRUE(t.rir->asked.empty());
  EXPECT_EQ(t.http->asked, (std::vector<std::string>{"cn v4", "cn v6"})); // one call for both families
}

TEST(Failover, AFailedOrStaleZoneIsAskedOfTheNextSourceAloneAndServedByIt)
{
  Two t = make_two();
  t.http->answers = {{"cn v4", {Origin::Downloaded, 100, k_a}},
                     {"cn v6", {Origin::StaleCache, 50, k_a}},
                     {"ru v4", {Origin::NotModified, 100, k_a}}};
  // ru v6 fails at http (not told).
  t.rir->answers = {{"cn v6", {Origin::Downloaded, 100, k_b}}, {"ru v6", {Origin::Downloaded, 100, k_b}}};
  const auto rs = t.source->load({"cn", "ru"}, Families::Both, ZoneSource::Mode::Refresh);
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(t.rir->asked, (std::vector<std::string>{"cn v6", "ru v6"}));
  EXPECT_EQ(zone(rs, "cn", Family::V4).source, "http");
  EXPECT_EQ(zone(rs, "cn", Family::V6).source, "rir");
  EXPECT_EQ(zone(rs, "cn", Family::V6).origin, Origin::Downloaded);
  EXPECT_EQ(zone(rs, "cn", Family::V6).nets.v4.at(0).addr, k_b);
  EXPECT_EQ(zone(rs, "ru", Family::V6).source, "rir");
  // Order: v4 zones first, then v6, countries as given.
  EXPECT_EQ(rs[0].country, "cn");
  EXPECT_EQ(rs[1].country, "ru");
  EXPECT_EQ(rs[2].family, Family::V6);
}

// A zone whose new data a source refused (max-shrink) is the
// administrator's to decide: no later source is asked to paper over it.
TEST(Failover, AZoneASourceRefusedAsAShrinkIsSettledByThatRefusal)
{
  Two t = make_two();
  t.http->answers = {{"cn v4", {Origin::Refused, 100, k_a}}, {"ru v4", {Origin::StaleCache, 100, k_a}}};
  t.rir->answers = {{"cn v4", {Origin::Downloaded, 100, k_b}}, {"ru v4", {Origin::Downloaded, 100, k_b}}};
  const auto rs = t.source->load({"cn", "ru"}, Families::V4, ZoneSource::Mode::Refresh);
  EXPECT_EQ(t.rir->asked, (std::vector<std::string>{"ru v4"}));
  EXPECT_EQ(zone(rs, "cn", Family::V4).origin, Origin::Refused);
  EXPECT_EQ(zone(rs, "cn", Family::V4).source, "http");
  EXPECT_EQ(zone(rs, "cn", Family::V4).nets.v4.at(0).addr, k_a) << "the last good copy";
  EXPECT_EQ(zone(rs, "ru", Family::V4).source, "rir");
}

TEST(Failover, AnAbsentZoneIsAskedOfTheNextSourceButStandsWhenNoneHasData)
{
  Two t = make_two();
  t.http->answers = {{"cn v6", {Origin::Absent, 100, 0}}, {"ru v6", {Origin::Absent, 100, 0}}};
  t.rir->answers = {{"cn v6", {Origin::Downloaded, 100, k_b}}};
  // ru v6 fails at rir: the absent answer of http stands.
  const auto rs = t.source->load({"cn", "ru"}, Families::V6, ZoneSource::Mode::Refresh);
  EXPECT_EQ(zone(rs, "cn", Family::V6).source, "rir");
  EXPECT_EQ(zone(rs, "ru", Family::V6).origin, Origin::Absent);
  EXPECT_EQ(zone(rs, "ru", Family::V6).source, "http");
}

TEST(Failover, WithEverySourceDownTheMostRecentlyConfirmedCacheServes)
{
  Two t = make_two();
  // http's copy was last confirmed at 100, rir's at 200: rir's is the data
  // the firewall was last built from.
  t.http->answers = {{"cn v4", {Origin::StaleCache, 100, k_a}}, {"ru v4", {Origin::StaleCache, 300, k_a}}};
  t.rir->answers = {{"cn v4", {Origin::StaleCache, 200, k_b}}, {"ru v4", {Origin::StaleCache, 300, k_b}}};
  const auto rs = t.source->load({"cn", "ru"}, Families::V4, ZoneSource::Mode::Refresh);
  EXPECT_EQ(zone(rs, "cn", Family::V4).origin, Origin::StaleCache);
  EXPECT_EQ(zone(rs, "cn", Family::V4).source, "rir");
  EXPECT_EQ(zone(rs, "cn", Family::V4).nets.v4.at(0).addr, k_b);
  // A tie goes to the earlier source.
  EXPECT_EQ(zone(rs, "ru", Family::V4).source, "http");
}

TEST(Failover, AStaleCacheIsPreferredToAnAbsentAnswer)
{
  Two t = make_two();
  t.http->answers = {{"cn v4", {Origin::StaleCache, 100, k_a}}};
  t.rir->answers = {{"cn v4", {Origin::Absent, 200, 0}}};
  const auto rs = t.source->load({"cn"}, Families::V4, ZoneSource::Mode::Refresh);
  EXPECT_EQ(rs.at(0).origin, Origin::StaleCache);
  EXPECT_EQ(rs.at(0).source, "http");
}

TEST(Failover, AZoneNoSourceHasFailsNamingEverySourcesReason)
{
  Two t = make_two();
  const auto rs = t.source->load({"cn"}, Families::V4, ZoneSource::Mode::Refresh);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].origin, Origin::Failed);
  EXPECT_THAT(rs[0].error, HasSubstr("http: HTTP 500"));
  EXPECT_THAT(rs[0].error, HasSubstr("rir: HTTP 500"));
  EXPECT_FALSE(rs[0].usable());
}

TEST(Failover, CacheOnlyTakesTheMostRecentlyConfirmedCopyOfAnySource)
{
  Two t = make_two();
  t.http->answers = {{"cn v4", {Origin::NotModified, 100, k_a}}, {"ru v4", {Origin::NotModified, 300, k_a}}};
  t.rir->answers = {{"cn v4", {Origin::NotModified, 200, k_b}}};
  const auto rs = t.source->load({"cn", "ru"}, Families::V4, ZoneSource::Mode::CacheOnly);
  EXPECT_EQ(zone(rs, "cn", Family::V4).source, "rir");
  EXPECT_EQ(zone(rs, "ru", Family::V4).source, "http");
  EXPECT_EQ(t.rir->asked.size(), 2u); // every source's cache is compared
}

TEST(Failover, ASourceThatThrowsFailsItsZonesAndTheNextServes)
{
  Two t = make_two();
  t.http->throws = true;
  t.rir->answers = {{"cn v4", {Origin::Downloaded, 100, k_b}}};
  const auto rs = t.source->load({"cn"}, Families::V4, ZoneSource::Mode::Refresh);
  EXPECT_EQ(rs.at(0).source, "rir");
  EXPECT_EQ(rs.at(0).origin, Origin::Downloaded);
}

TEST(Failover, ASingleSourceIsUnchangedButNamed)
{
  auto only = std::make_unique<FakeSource>();
  only->throws = true;
  std::vector<NamedSource> list;
  list.push_back(NamedSource{"bundle", std::move(only)});
  FailoverSource s(std::move(list));
  EXPECT_THROW(s.load({"cn"}, Families::V4, ZoneSource::Mode::Refresh), geoblock::Error);

  auto ok = std::make_unique<FakeSource>();
  ok->answers = {{"cn v4", {Origin::StaleCache, 1, k_a}}};
  std::vector<NamedSource> list2;
  list2.push_back(NamedSource{"http", std::move(ok)});
  FailoverSource s2(std::move(list2));
  const auto rs = s2.load({"cn"}, Families::V4, ZoneSource::Mode::Refresh);
  EXPECT_EQ(rs.at(0).origin, Origin::StaleCache);
  EXPECT_EQ(rs.at(0).source, "http");
}

} // namespace
