// Blocklist files through BlocklistSource (no network: paths are read
// through the HTTP client as file:// URLs) and write_mirror's files, mtimes
// and order.
#include "fetch/blocklist_fetch.hpp"
#include "fetch/mirror.hpp"
#include "fetch_test_util.hpp"
#include "net/zone.hpp"

#include <sys/stat.h>

namespace geoblock::test {
namespace {

fetch::FetchOptions
options_in(const TempDir& dir)
{
  fetch::FetchOptions o;
  o.cache_dir = dir / "cache";
  o.retries = 0;
  o.progress = fetch::ProgressMode::Quiet;
  o.clock = [] { return std::int64_t{1'800'000'000}; };
  return o;
}

TEST(BlocklistSource, AFileIsReadCachedAndItsLastGoodCopyOutlivesABrokenVersion)
{
  TempDir dir;
  const std::string list = dir.write("my list.txt", "; mine\n198.51.100.0/28 ; SBL1\n2001:db8::1\n");
  const fetch::BlocklistSource source({list}, options_in(dir));
  auto r = source.load(net::ZoneSource::Mode::Refresh);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].name, "my list.txt");
  EXPECT_EQ(r[0].origin, net::Origin::Local) << r[0].error;
  EXPECT_EQ(r[0].nets.v4.size(), 1u);
  EXPECT_EQ(r[0].nets.v6.size(), 1u);
  EXPECT_EQ(slurp(source.cache_path(list)), slurp(list));

  // Read again unchanged: not modified.
  r = source.load(net::ZoneSource::Mode::Refresh);
  EXPECT_EQ(r[0].origin, net::Origin::NotModified);

  // Broken: the whole list is refused, the last good copy serves.
  spit(list, "198.51.100.0/28\nnot-a-network\n");
  r = source.load(net::ZoneSource::Mode::Refresh);
  EXPECT_EQ(r[0].origin, net::Origin::StaleCache);
  EXPECT_NE(r[0].error.find("my list.txt " + list + ":2: not a network"), std::string::npos) << r[0].error;
  EXPECT_EQ(r[0].nets.v4.size(), 1u);
  EXPECT_EQ(r[0].nets.v6.size(), 1u);

  // Missing: the same; cache-only reads the copy alone.
  std::filesystem::remove(list);
  r = source.load(net::ZoneSource::Mode::Refresh);
  EXPECT_EQ(r[0].origin, net::Origin::StaleCache);
  EXPECT_NE(r[0].error.find("cannot read"), std::string::npos) << r[0].error;
  r = source.load(net::ZoneSource::Mode::CacheOnly);
  EXPECT_EQ(r[0].origin, net::Origin::NotModified);

  // Emptied on purpose: a file's empty list is accepted.
  spit(list, "# nothing to block today\n");
  r = source.load(net::ZoneSource::Mode::Refresh);
  EXPECT_EQ(r[0].origin, net::Origin::Local) << r[0].error;
  EXPECT_TRUE(r[0].nets.v4.empty() && r[0].nets.v6.empty());
}

TEST(BlocklistSource, NoCopyMeansFailedAndNamesAreMadeUnique)
{
  TempDir dir;
  const std::string a = dir.write("a/list.txt", "192.0.2.0/24\n");
  const std::string b = dir / "b/list.txt";                        // never existed
  const fetch::BlocklistSource source({a, b, a}, options_in(dir)); // a third time: the same list
  const auto r = source.load(net::ZoneSource::Mode::Refresh);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].name, "list.txt");
  EXPECT_EQ(r[1].name, "list.txt~2");
  EXPECT_NE(source.cache_path(a), source.cache_path(b));
  EXPECT_EQ(r[0].origin, net::Origin::Local);
  EXPECT_EQ(r[1].origin, net::Origin::Failed);
  EXPECT_NE(r[1].error.find("no cached copy"), std::string::npos) << r[1].error;
}

TEST(BlocklistSource, FileUrlsArePercentEncodedAndAbsolute)
{
  EXPECT_EQ(fetch::file_url("/etc/geoblock/a list#1.txt"), "file:///etc/geoblock/a%20list%231.txt");
  EXPECT_EQ(fetch::file_url("x.txt").rfind("file:///", 0), 0u);
  EXPECT_TRUE(fetch::is_blocklist_url("HTTPS://example.net/x"));
  EXPECT_FALSE(fetch::is_blocklist_url("/srv/http://x"));
}

net::ZoneResult
zone(const std::string& cc, net::Family family, const std::string& text, net::Origin origin,
     std::int64_t last_modified)
{
  net::ZoneResult z;
  z.country = cc;
  z.family = family;
  z.origin = origin;
  z.last_modified = last_modified;
  net::parse_zone(text, cc, net::ZoneOptions{}, z.nets);
  return z;
}

std::int64_t
mtime_of(const std::string& path)
{
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_mtime : -1;
}

TEST(Mirror, WritesTheFetchersLayoutWithUpstreamTimesAndEveryMd5sumLast)
{
  TempDir dir;
  const std::string out = dir / "tree";
  std::vector<net::ZoneResult> zones = {
      zone("cn", net::Family::V4, "198.51.100.0/25\n", net::Origin::NotModified, 1'700'000'000),
      zone("ru", net::Family::V4, "203.0.113.0/24\n", net::Origin::Downloaded, 1'700'000'600),
      zone("de", net::Family::V4, "", net::Origin::Failed, 0),
      zone("cn", net::Family::V6, "2001:db8:1::/48\n", net::Origin::StaleCache, 1'700'001'200),
      zone("ru", net::Family::V6, "", net::Origin::Absent, 0)};
  std::vector<std::string> order;
  fetch::MirrorOptions o;
  o.now = 1'800'000'000;
  o.on_replace = [&order](const std::string& path) { order.push_back(path); };
  auto s = fetch::write_mirror(zones, out, o);
  EXPECT_EQ(s.written, 3u);
  EXPECT_EQ(s.skipped, 2u);
  EXPECT_EQ(s.md5sums, 2u);
  const std::string v4 = out + "/ipblocks/data/countries/";
  const std::string v6 = out + "/ipv6/ipaddresses/blocks/";
  EXPECT_EQ(order, (std::vector<std::string>{v4 + "cn.zone", v4 + "ru.zone", v6 + "cn.zone", v4 + "MD5SUM",
                                             v6 + "MD5SUM"}));
  // Exactly where the fetcher looks under a base URL.
  EXPECT_EQ(fetch::zone_url(out, "cn", net::Family::V4), v4 + "cn.zone");
  EXPECT_EQ(fetch::md5sum_url(out, net::Family::V6), v6 + "MD5SUM");
  EXPECT_EQ(slurp(v4 + "cn.zone"), "198.51.100.0/25\n");
  EXPECT_EQ(mtime_of(v4 + "cn.zone"), 1'700'000'000);
  EXPECT_EQ(mtime_of(v4 + "ru.zone"), 1'700'000'600);
  EXPECT_FALSE(std::filesystem::exists(v4 + "de.zone"));
  EXPECT_FALSE(std::filesystem::exists(v6 + "ru.zone"));
  EXPECT_EQ(slurp(v4 + "MD5SUM"), util::md5_hex("198.51.100.0/25\n") + "  cn.zone\n" +
                                      util::md5_hex("203.0.113.0/24\n") + "  ru.zone\n");
  const auto parsed = fetch::parse_md5sum(slurp(v6 + "MD5SUM"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->at("cn.zone"), util::md5_hex("2001:db8:1::/48\n"));

  // Again with one zone changed: only it and its MD5SUM are replaced; the
  // others keep their files and times even with a newer Last-Modified.
  order.clear();
  const std::int64_t md5_before = mtime_of(v4 + "MD5SUM");
  zones[0].last_modified = 1'750'000'000;
  zones[1] = zone("ru", net::Family::V4, "203.0.113.0/25\n", net::Origin::Downloaded, 1'700'099'000);
  s = fetch::write_mirror(zones, out, o);
  EXPECT_EQ(s.written, 1u);
  EXPECT_EQ(s.unchanged, 2u);
  EXPECT_EQ(order, (std::vector<std::string>{v4 + "ru.zone", v4 + "MD5SUM"}));
  EXPECT_EQ(mtime_of(v4 + "cn.zone"), 1'700'000'000);
  EXPECT_EQ(mtime_of(v4 + "ru.zone"), 1'700'099'000);
  // Same clock, new content: the MD5SUM (same size) still gets a later
  // mtime, so nginx's ETag changes and no client keeps the old one on a 304.
  EXPECT_EQ(mtime_of(v4 + "MD5SUM"), md5_before + 1);

  // Content changed but the same Last-Modified (another source served
  // it): a later mtime all the same.
  zones[1] = zone("ru", net::Family::V4, "203.0.113.128/25\n", net::Origin::Downloaded, 1'700'099'000);
  fetch::write_mirror(zones, out, o);
  EXPECT_EQ(mtime_of(v4 + "ru.zone"), 1'700'099'001);
}

} // namespace
} // namespace geoblock::test
