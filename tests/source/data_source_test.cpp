// Every kind of source is a net::DataSource and declares what privilege
// separation needs of it (issue 19: the cache layout was hard-coded in
// cli/separated_source.cpp as {"v4","v6","lists","rir"}, mmdb and asn
// added beside it by hand, and blocklists and ASes reached the commands
// through side channels): its cache folders, the files the root process
// opens for it, what its load returns, and whether the root process may
// read its cache itself.
#include "fetch/blocklist_fetch.hpp"
#include "fetch/fetcher.hpp"
#include "fetch/rir_source.hpp"
#include "net/data_source.hpp"
#include "source/asn_source.hpp"
#include "source/bundle.hpp"
#include "source/failover.hpp"
#include "source/maxmind.hpp"
#include "source/mmdb_source.hpp"
#include "support/temp_dir.hpp"
#include "util/atomic_file.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace geoblock {
namespace {

using Strings = std::vector<std::string>;

fetch::FetchOptions
options_in(const std::string& cache_dir)
{
  fetch::FetchOptions o;
  o.cache_dir = cache_dir;
  o.base_url = "file:///nonexistent";
  o.retries = 0;
  o.progress = fetch::ProgressMode::Quiet;
  return o;
}

TEST(DataSource, EachSourceDeclaresItsCacheFoldersAndFiles)
{
  const fetch::HttpSource http(options_in("/var/cache/geoblock"));
  EXPECT_EQ(http.cache_folders(), (Strings{"v4", "v6"}));
  EXPECT_TRUE(http.files().empty());

  const fetch::RirSource rir(options_in("/var/cache/geoblock"), fetch::RirOptions{});
  EXPECT_EQ(rir.cache_folders(), (Strings{"rir"}));

  source::MmdbOptions mo;
  mo.files = {"/var/lib/GeoIP/a.mmdb", "/var/lib/GeoIP/b.mmdb"};
  EXPECT_TRUE(source::MmdbSource(mo).cache_folders().empty()); // no cache directory: no copies
  mo.cache_dir = "/var/cache/geoblock";
  const source::MmdbSource mmdb(mo);
  EXPECT_EQ(mmdb.cache_folders(), (Strings{"mmdb"}));
  EXPECT_EQ(mmdb.files(), mo.files);

  EXPECT_EQ(source::BundleSource("/srv/zones.zip", {}).files(), (Strings{"/srv/zones.zip"}));
  EXPECT_EQ(source::MaxmindSource("/srv/geo.zip", {}).files(), (Strings{"/srv/geo.zip"}));

  const fetch::BlocklistSource lists({"https://www.spamhaus.org/drop/drop.txt", "/etc/geoblock/own.txt"},
                                     options_in("/var/cache/geoblock"));
  EXPECT_EQ(lists.cache_folders(), (Strings{"lists"}));
  EXPECT_EQ(lists.files(), (Strings{"/etc/geoblock/own.txt"})); // URLs are fetched, files opened

  source::AsnOptions ao;
  ao.files = {"/srv/asn.tsv"};
  ao.block = {13335};
  EXPECT_TRUE(source::AsnSource(ao).cache_folders().empty());
  ao.cache_dir = "/var/cache/geoblock";
  EXPECT_EQ(source::AsnSource(ao).cache_folders(), (Strings{"asn"}));
  EXPECT_EQ(source::AsnSource(ao).files(), (Strings{"/srv/asn.tsv"}));

  // A failover list needs what each of its sources needs, once.
  std::vector<source::NamedSource> named;
  named.push_back({"http", std::make_unique<fetch::HttpSource>(options_in("/c"))});
  named.push_back({"rir", std::make_unique<fetch::RirSource>(options_in("/c"), fetch::RirOptions{})});
  named.push_back(
      {"bundle", std::make_unique<source::BundleSource>("/srv/zones.zip", source::BundleOptions{})});
  named.push_back({"http", std::make_unique<fetch::HttpSource>(options_in("/c"))});
  const source::FailoverSource failover(std::move(named));
  EXPECT_EQ(failover.cache_folders(), (Strings{"v4", "v6", "rir"}));
  EXPECT_EQ(failover.files(), (Strings{"/srv/zones.zip"}));
}

TEST(DataSource, ExpectedNamesWhatALoadReturnsInItsOrder)
{
  const net::LoadRequest request{{"cn", "de"}, net::Families::Both, net::LoadMode::Refresh};
  const net::SourceData zones = fetch::HttpSource(options_in("/c")).expected(request);
  ASSERT_EQ(zones.zones.size(), 4u);
  EXPECT_EQ(zones.zones[0].country, "cn");
  EXPECT_EQ(zones.zones[0].family, net::Family::V4);
  EXPECT_EQ(zones.zones[1].country, "de");
  EXPECT_EQ(zones.zones[3].family, net::Family::V6);
  EXPECT_TRUE(zones.lists.empty() && zones.asns.empty());

  const fetch::BlocklistSource lists({"https://a.example/drop.txt", "/etc/geoblock/drop.txt"},
                                     options_in("/c"));
  const net::SourceData l = lists.expected(request);
  ASSERT_EQ(l.lists.size(), 2u);
  EXPECT_EQ(l.lists[0].name, "drop.txt");
  EXPECT_EQ(l.lists[1].name, "drop.txt~2");
  EXPECT_EQ(l.lists[1].location, "/etc/geoblock/drop.txt");

  source::AsnOptions ao;
  ao.block = {13335, 64496};
  ao.allow = {64511};
  const net::SourceData a = source::AsnSource(ao).expected(request);
  ASSERT_EQ(a.asns.size(), 3u);
  EXPECT_EQ(a.asns[0].number, 13335u);
  EXPECT_FALSE(a.asns[1].allow);
  EXPECT_EQ(a.asns[2].number, 64511u);
  EXPECT_TRUE(a.asns[2].allow);

  // Loaded together, in order, through one interface.
  std::vector<std::unique_ptr<net::DataSource>> parts;
  parts.push_back(std::make_unique<fetch::HttpSource>(options_in("/c")));
  parts.push_back(
      std::make_unique<fetch::BlocklistSource>(Strings{"/etc/geoblock/drop.txt"}, options_in("/c")));
  parts.push_back(std::make_unique<source::AsnSource>(ao));
  const net::SourceData all = net::SourceList(std::move(parts)).expected(request);
  EXPECT_EQ(all.zones.size(), 4u);
  EXPECT_EQ(all.lists.size(), 1u);
  EXPECT_EQ(all.asns.size(), 3u);
}

// Only sources whose cache is exactly zones or lists the strict parsers
// read again may be read by the root process itself: the mirror and the
// blocklists, not rir (whole delegation files), a bundle or databases.
TEST(DataSource, OnlyAMirrorOrBlocklistsCacheIsReadHere)
{
  test::TempDir dir;
  const std::string cache = dir / "cache";
  util::make_dirs(cache);
  const net::LoadRequest request{{"cn"}, net::Families::V4, net::LoadMode::CacheOnly};

  net::SourceData out;
  EXPECT_TRUE(fetch::HttpSource(options_in(cache)).load_cache_here(request, out));
  ASSERT_EQ(out.zones.size(), 1u);
  EXPECT_EQ(out.zones[0].origin, net::Origin::Failed); // nothing cached yet
  EXPECT_TRUE(out.zones[0].source.empty());

  const std::string own = dir.write("own.txt", "198.51.100.0/24\n");
  EXPECT_TRUE(fetch::BlocklistSource({own}, options_in(cache)).load_cache_here(request, out));
  ASSERT_EQ(out.lists.size(), 1u);
  EXPECT_EQ(out.lists[0].origin, net::Origin::Failed); // its cache, not the file itself

  net::SourceData untouched;
  EXPECT_FALSE(fetch::RirSource(options_in(cache), fetch::RirOptions{}).load_cache_here(request, untouched));
  EXPECT_FALSE(source::BundleSource(dir / "zones.zip", {}).load_cache_here(request, untouched));
  source::AsnOptions ao;
  ao.block = {13335};
  EXPECT_FALSE(source::AsnSource(ao).load_cache_here(request, untouched));
  EXPECT_TRUE(untouched.zones.empty() && untouched.lists.empty() && untouched.asns.empty());

  // A failover list: a lone mirror's, with its zones unnamed as before;
  // never with another source in the list.
  std::vector<source::NamedSource> one;
  one.push_back({"http", std::make_unique<fetch::HttpSource>(options_in(cache))});
  net::SourceData lone;
  EXPECT_TRUE(source::FailoverSource(std::move(one)).load_cache_here(request, lone));
  ASSERT_EQ(lone.zones.size(), 1u);
  EXPECT_TRUE(lone.zones[0].source.empty());
  std::vector<source::NamedSource> two;
  two.push_back({"http", std::make_unique<fetch::HttpSource>(options_in(cache))});
  two.push_back({"rir", std::make_unique<fetch::RirSource>(options_in(cache), fetch::RirOptions{})});
  EXPECT_FALSE(source::FailoverSource(std::move(two)).load_cache_here(request, untouched));
}

} // namespace
} // namespace geoblock
