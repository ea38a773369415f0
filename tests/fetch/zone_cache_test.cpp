#include "fetch/fetcher.hpp"
#include "fetch/zone_cache.hpp"
#include "fetch_test_util.hpp"

#include <gtest/gtest.h>

namespace geoblock::test {
namespace {

using fetch::ZoneCache;
using fetch::ZoneMeta;

ZoneMeta
sample(const std::string& cc, net::Family f)
{
  ZoneMeta m;
  m.country = cc;
  m.family = f;
  m.url = "http://127.0.0.1:1/" + cc + ".zone";
  m.etag = "\"65a1-3f\"";
  m.last_modified_http = "Wed, 25 Nov 2026 10:00:00 GMT";
  m.last_modified = 1'795'600'000;
  m.fetched_at = 1'795'610'000;
  m.changed_at = 1'795'605'000;
  m.networks = 2;
  m.lines = 2;
  return m;
}

TEST(ZoneCache, MetadataSurvivesARoundTrip)
{
  ZoneMeta m = sample("cn", net::Family::V6);
  m.absent = true;
  const auto back = fetch::parse_meta(fetch::format_meta(m));
  ASSERT_TRUE(back);
  EXPECT_EQ(fetch::format_meta(*back), fetch::format_meta(m));
  EXPECT_FALSE(fetch::parse_meta("country=cn\nfamily=v5\n"));
  EXPECT_FALSE(fetch::parse_meta("country=cn\nfamily=v4\nsize=12x\n"));
}

TEST(ZoneCache, StoresBodyAndMetaAndDetectsADamagedBody)
{
  TempDir dir;
  const ZoneCache cache(dir / "cache");
  const std::string body = "192.0.2.0/24\n198.51.100.0/24\n";
  cache.store(sample("de", net::Family::V4), body);

  EXPECT_EQ(slurp(cache.zone_path("de", net::Family::V4)), body);
  EXPECT_EQ(cache.zone_path("de", net::Family::V4), dir / "cache/v4/de.zone");
  const auto meta = cache.read_meta("de", net::Family::V4);
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->size, body.size());
  EXPECT_EQ(meta->sha256, util::sha256_hex(body));
  EXPECT_EQ(meta->md5, util::md5_hex(body));
  bool ok = false;
  EXPECT_EQ(cache.read_body(*meta, &ok).value_or(""), body);
  EXPECT_TRUE(ok);

  spit(cache.zone_path("de", net::Family::V4), "192.0.2.0/24\n");
  EXPECT_TRUE(cache.read_body(*meta, &ok));
  EXPECT_FALSE(ok);
  EXPECT_FALSE(cache.read_meta("de", net::Family::V6));
}

TEST(ZoneCache, ListsZonesByFamilyThenCountryWithoutChecksumLists)
{
  TempDir dir;
  const ZoneCache cache(dir.path());
  cache.store(sample("us", net::Family::V6), "2001:db8::/32\n");
  cache.store(sample("us", net::Family::V4), "192.0.2.0/24\n");
  cache.store(sample("cn", net::Family::V4), "198.51.100.0/24\n");
  ZoneMeta sums = sample("MD5SUM", net::Family::V4);
  cache.store(sums, "00000000000000000000000000000000  cn.zone\n");
  const auto zones = cache.list();
  ASSERT_EQ(zones.size(), 3u);
  EXPECT_EQ(zones[0].country + net::family_key(zones[0].family), "cnv4");
  EXPECT_EQ(zones[1].country + net::family_key(zones[1].family), "usv4");
  EXPECT_EQ(zones[2].country + net::family_key(zones[2].family), "usv6");
}

TEST(ZoneCache, StalenessUsesUpstreamAgeAndLastFetch)
{
  const std::int64_t now = 1'800'000'000;
  ZoneMeta m = sample("cn", net::Family::V4);
  m.last_modified = now - 10 * 86400;
  m.fetched_at = now - 3600;
  EXPECT_FALSE(fetch::is_stale(m, now, 60));
  m.last_modified = now - 61 * 86400;
  EXPECT_TRUE(fetch::is_stale(m, now, 60));
  EXPECT_FALSE(fetch::is_stale(m, now, 0));
  m.last_modified = 0;
  m.fetched_at = now - 90 * 86400;
  EXPECT_TRUE(fetch::is_stale(m, now, 60));
  EXPECT_EQ(fetch::age_days(now - 90 * 86400, now), 90);
  EXPECT_EQ(fetch::age_days(0, now), -1);          // unknown
  EXPECT_EQ(fetch::age_days(now + 3600, now), -1); // in the future: unknown too
}

TEST(ZoneCache, StatusReportsAgeSizeHashAndDamage)
{
  TempDir dir;
  const ZoneCache cache(dir.path());
  const std::int64_t now = 1'800'000'000;
  ZoneMeta fresh = sample("nz", net::Family::V4);
  fresh.last_modified = now - 2 * 86400;
  fresh.fetched_at = now - 60;
  cache.store(fresh, "192.0.2.0/24\n");
  ZoneMeta old = sample("li", net::Family::V4);
  old.last_modified = now - 100 * 86400;
  old.fetched_at = now - 60;
  cache.store(old, "198.51.100.0/24\n");
  spit(cache.zone_path("li", net::Family::V4), "tampered\n");

  const auto status = fetch::cache_status(dir.path(), 60, now);
  ASSERT_EQ(status.size(), 2u);
  EXPECT_EQ(status[0].meta.country, "li");
  EXPECT_TRUE(status[0].stale);
  EXPECT_FALSE(status[0].body_ok);
  EXPECT_EQ(status[0].age_days, 100);
  EXPECT_EQ(status[1].meta.country, "nz");
  EXPECT_FALSE(status[1].stale);
  EXPECT_TRUE(status[1].body_ok);
  EXPECT_EQ(status[1].age_days, 2);
  EXPECT_EQ(status[1].meta.size, 13u);
  EXPECT_EQ(status[1].meta.sha256, util::sha256_hex("192.0.2.0/24\n"));
}

} // namespace
} // namespace geoblock::test

namespace geoblock::test {
namespace {

TEST(ZoneCache, RecordedFetchTimesShowInTheMetadata)
{
  TempDir dir;
  const ZoneCache cache(dir.path());
  ZoneMeta m = sample("nz", net::Family::V4);
  m.fetched_at = 1'000;
  cache.store(m, "192.0.2.0/24\n");
  cache.record_fetched(net::Family::V4, {"nz", "MD5SUM"}, 5'000);
  EXPECT_EQ(cache.read_meta("nz", net::Family::V4)->fetched_at, 5'000);
  EXPECT_EQ(ZoneCache(dir.path()).read_meta("nz", net::Family::V4)->fetched_at, 5'000);
  EXPECT_EQ(ZoneCache(dir.path()).list().at(0).fetched_at, 5'000);
  cache.record_fetched(net::Family::V4, {"nz"}, 7'000);
  EXPECT_EQ(ZoneCache(dir.path()).read_meta("nz", net::Family::V4)->fetched_at, 7'000);
  // A later full store wins over an older record.
  m.fetched_at = 9'000;
  cache.store(m, "192.0.2.0/24\n");
  EXPECT_EQ(ZoneCache(dir.path()).read_meta("nz", net::Family::V4)->fetched_at, 9'000);
}

} // namespace
} // namespace geoblock::test
