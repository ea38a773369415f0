// The fetcher against a real nginx on 127.0.0.1 serving a generated
// ipdeny-style mirror: real ETag, Last-Modified and 304 handling.
#include "fetch/fetcher.hpp"
#include "fetch_test_util.hpp"
#include "support/http_nginx.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <set>

namespace geoblock::test {
namespace {

using net::Family;
using net::Origin;

class NginxFetch : public ::testing::Test {
protected:
  void SetUp() override
  {
    if (!NginxServer::available()) {
      GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
    }
    mirror = m_dir / "mirror";
    write_mirror(mirror);
    std::filesystem::create_directories(m_dir / "nginx");
    server = std::make_unique<NginxServer>(mirror, m_dir / "nginx");
    options = loopback_options(server->base_url(), m_dir / "cache");
  }

  std::vector<net::ZoneResult> fetch_all()
  {
    return fetch::fetch_zones(k_mirror_countries, net::Families::Both, options);
  }

  // Zone requests in the access log (MD5SUM requests excluded).
  std::vector<AccessLogEntry> zone_requests() const
  {
    std::vector<AccessLogEntry> zones;
    for (const auto& e : server->access_log()) {
      if (e.uri.ends_with(".zone")) {
        zones.push_back(e);
      }
    }
    return zones;
  }

  TempDir m_dir;
  std::string mirror;
  std::unique_ptr<NginxServer> server;
  fetch::FetchOptions options;
};

TEST_F(NginxFetch, FirstRunDownloadsEverythingAndSecondRunOnlyGets304s)
{
  const auto first = fetch_all();
  ASSERT_EQ(first.size(), 2 * k_mirror_countries.size());
  for (const auto& r : first) {
    EXPECT_EQ(r.origin, Origin::Downloaded) << r.country << " " << r.error;
    EXPECT_GT(r.networks(), 0u);
    EXPECT_EQ(r.sha256, util::sha256_hex(slurp(mirror_zone(mirror, r.country, r.family))));
    EXPECT_EQ(r.location, fetch::zone_url(server->base_url(), r.country, r.family));
  }
  EXPECT_FALSE(fetch::nothing_changed(first));
  EXPECT_EQ(zone_requests().size(), first.size());

  server->clear_access_log();
  const auto second = fetch_all();
  ASSERT_EQ(second.size(), first.size());
  for (std::size_t i = 0; i < second.size(); ++i) {
    EXPECT_EQ(second[i].origin, Origin::NotModified) << second[i].country << " " << second[i].error;
    EXPECT_EQ(second[i].bytes, 0u);
    EXPECT_EQ(second[i].networks(), first[i].networks());
    EXPECT_EQ(second[i].sha256, first[i].sha256);
  }
  EXPECT_TRUE(fetch::nothing_changed(second));
  const auto log = server->access_log();
  ASSERT_EQ(log.size(), first.size() + 2) << "zones plus two MD5SUM files";
  for (const auto& e : log) {
    EXPECT_EQ(e.status, 304) << e.uri;
    EXPECT_EQ(e.body_bytes, 0) << e.uri;
  }
  EXPECT_EQ(fetch::summarize(second).bytes, 0u);
}

TEST_F(NginxFetch, ConnectionsAreReusedUpToTheParallelLimit)
{
  options.parallel = 2;
  const auto results = fetch_all();
  for (const auto& r : results) {
    EXPECT_EQ(r.origin, Origin::Downloaded) << r.country << " " << r.error;
  }
  std::set<long> connections;
  for (const auto& e : server->access_log()) {
    connections.insert(e.connection);
  }
  EXPECT_EQ(server->access_log().size(), results.size() + 2);
  EXPECT_LE(connections.size(), 2u);
}

TEST_F(NginxFetch, TouchingOneZoneTransfersOnlyThatZone)
{
  fetch_all();
  const std::string touched = mirror_zone(mirror, "li", Family::V4);
  std::filesystem::last_write_time(touched,
                                   std::filesystem::last_write_time(touched) + std::chrono::hours(1));
  server->clear_access_log();

  const auto results = fetch_all();
  const auto log = zone_requests();
  std::size_t full = 0;
  for (const auto& e : log) {
    if (e.status == 200) {
      ++full;
      EXPECT_EQ(e.uri, "/ipblocks/data/countries/li.zone");
    } else {
      EXPECT_EQ(e.status, 304) << e.uri;
    }
  }
  EXPECT_EQ(full, 1u);
  // Same bytes under a new ETag: the data did not change.
  EXPECT_EQ(find_result(results, "li", Family::V4)->origin, Origin::NotModified);
  EXPECT_GT(find_result(results, "li", Family::V4)->bytes, 0u);
  EXPECT_TRUE(fetch::nothing_changed(results));
}

TEST_F(NginxFetch, ChangedZoneIsDownloadedAndCachedAndTheRestStays)
{
  fetch_all();
  const std::string zone = mirror_zone(mirror, "nz", Family::V6);
  spit(zone, slurp(zone) + "2001:db8::/32\n");
  update_md5sum(mirror, "nz", Family::V6);

  const auto results = fetch_all();
  for (const auto& r : results) {
    const bool changed = r.country == "nz" && r.family == Family::V6;
    EXPECT_EQ(r.origin, changed ? Origin::Downloaded : Origin::NotModified) << r.country;
  }
  EXPECT_FALSE(fetch::nothing_changed(results));
  const fetch::ZoneCache cache(options.cache_dir);
  EXPECT_EQ(slurp(cache.zone_path("nz", Family::V6)), slurp(zone));
}

TEST_F(NginxFetch, ChecksumMismatchKeepsTheLastGoodCopy)
{
  const auto first = fetch_all();
  const fetch::ZoneCache cache(options.cache_dir);
  const std::string good = slurp(cache.zone_path("is", Family::V4));
  // Substituted in transit: a valid zone, but not what MD5SUM lists.
  spit(mirror_zone(mirror, "is", Family::V4), "198.51.100.0/24\n");

  const auto results = fetch_all();
  const auto* r = find_result(results, "is", Family::V4);
  EXPECT_EQ(r->origin, Origin::StaleCache);
  EXPECT_NE(r->error.find("MD5"), std::string::npos) << r->error;
  EXPECT_NE(r->error.find("is.zone"), std::string::npos) << r->error;
  EXPECT_EQ(r->networks(), find_result(first, "is", Family::V4)->networks());
  EXPECT_EQ(slurp(cache.zone_path("is", Family::V4)), good);
}

TEST_F(NginxFetch, MissingZoneIsAbsentUnlessTheCountryHadDataBefore)
{
  // Never had IPv6 data: absent, not an error.
  std::filesystem::remove(mirror_zone(mirror, "va", Family::V6));
  update_md5sum(mirror, "va", Family::V6);
  auto results = fetch_all();
  EXPECT_EQ(find_result(results, "va", Family::V6)->origin, Origin::Absent);
  EXPECT_TRUE(find_result(results, "va", Family::V6)->nets.empty());
  EXPECT_TRUE(find_result(results, "va", Family::V6)->usable());

  // Had data, now gone (404) or emptied: a suspicious shrink, kept out.
  std::filesystem::remove(mirror_zone(mirror, "li", Family::V6));
  update_md5sum(mirror, "li", Family::V6);
  spit(mirror_zone(mirror, "nz", Family::V4), "");
  update_md5sum(mirror, "nz", Family::V4);
  results = fetch_all();
  for (const char* cc : {"li", "nz"}) {
    const auto* r = find_result(results, cc, cc == std::string("li") ? Family::V6 : Family::V4);
    EXPECT_EQ(r->origin, Origin::StaleCache) << cc;
    EXPECT_NE(r->error.find("suspicious"), std::string::npos) << r->error;
    EXPECT_GT(r->networks(), 0u);
  }
}

TEST_F(NginxFetch, WrongBaseUrlIsAFailureNotAnAbsentCountry)
{
  options.base_url = server->base_url() + "/no-such-mirror";
  const auto results = fetch::fetch_zones({"nz"}, net::Families::V4, options);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].origin, Origin::Failed);
  EXPECT_NE(results[0].error.find("404"), std::string::npos) << results[0].error;
  EXPECT_NE(results[0].error.find("/no-such-mirror/ipblocks/data/countries/nz.zone"), std::string::npos)
      << results[0].error;
}

TEST_F(NginxFetch, OldDataIsReportedStale)
{
  // The clock is set, not read: li's data is 90 days old, nz's one day.
  const std::int64_t now = 1'795'000'000; // 2026-11-18
  const auto mtime = [](const std::string& path, std::int64_t unix_time) {
    const timespec times[2] = {{unix_time, 0}, {unix_time, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
  };
  mtime(mirror_zone(mirror, "li", Family::V4), now - 90 * 86400);
  mtime(mirror_zone(mirror, "nz", Family::V4), now - 86400);
  options.clock = [now] { return now; };
  options.stale_after_days = 60;
  auto results = fetch_all();
  EXPECT_TRUE(find_result(results, "li", Family::V4)->stale);
  EXPECT_FALSE(find_result(results, "nz", Family::V4)->stale);
  EXPECT_EQ(find_result(results, "li", Family::V4)->origin, Origin::Downloaded);

  options.stale_after_days = 120;
  results = fetch_all();
  EXPECT_FALSE(find_result(results, "li", Family::V4)->stale);
}

TEST_F(NginxFetch, OfflineUsesTheCacheOnly)
{
  const auto online = fetch_all();
  server->stop();
  options.offline = true;
  const auto offline = fetch_all();
  ASSERT_EQ(offline.size(), online.size());
  for (std::size_t i = 0; i < offline.size(); ++i) {
    EXPECT_EQ(offline[i].origin, Origin::NotModified);
    EXPECT_EQ(offline[i].networks(), online[i].networks());
    EXPECT_EQ(offline[i].sha256, online[i].sha256);
  }
  const auto none = fetch::fetch_zones({"de"}, net::Families::V4, options);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].origin, Origin::Failed);
  EXPECT_NE(none[0].error.find("no cached copy"), std::string::npos) << none[0].error;
}

TEST_F(NginxFetch, ADamagedCacheIsRefetchedUnconditionally)
{
  fetch_all();
  const fetch::ZoneCache cache(options.cache_dir);
  spit(cache.zone_path("nz", Family::V4), "192.0.2.0/24\n");
  server->clear_access_log();
  const auto results = fetch_all();
  EXPECT_EQ(find_result(results, "nz", Family::V4)->origin, Origin::Downloaded);
  EXPECT_EQ(slurp(cache.zone_path("nz", Family::V4)), slurp(mirror_zone(mirror, "nz", Family::V4)));
}

TEST_F(NginxFetch, FileUrlsWorkAndUnchangedFilesCountAsNotModified)
{
  options.base_url = "file://" + mirror;
  const auto first = fetch_all();
  for (const auto& r : first) {
    EXPECT_EQ(r.origin, Origin::Downloaded) << r.country << " " << r.error;
    EXPECT_GT(r.last_modified, 0);
  }
  const auto second = fetch_all();
  for (const auto& r : second) {
    EXPECT_EQ(r.origin, Origin::NotModified) << r.country << " " << r.error;
  }
  EXPECT_TRUE(fetch::nothing_changed(second));
  std::filesystem::remove(mirror_zone(mirror, "va", Family::V6));
  update_md5sum(mirror, "va", Family::V6);
  const auto third = fetch_all();
  EXPECT_EQ(find_result(third, "va", Family::V6)->origin, Origin::StaleCache);
}

} // namespace
} // namespace geoblock::test

namespace geoblock::test {
namespace {

TEST(NginxTls, VerificationIsAlwaysOnAndHttp2IsUsedWhereOffered)
{
  if (!NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  TempDir dir;
  const auto [cert, key] = make_self_signed_cert(dir.path());
  if (cert.empty()) {
    GTEST_SKIP() << "openssl cannot create a test certificate";
  }
  write_mirror(dir / "mirror");
  std::filesystem::create_directories(dir / "nginx");
  NginxServer server(dir / "mirror", dir / "nginx", cert, key);
  auto options = loopback_options(server.base_url(), dir / "cache");

  // A self-signed certificate the client was not told about: refused, not retried.
  auto results = fetch::fetch_zones({"nz"}, net::Families::V4, options);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].origin, net::Origin::Failed);
  EXPECT_NE(results[0].error.find("certificate"), std::string::npos) << results[0].error;
  EXPECT_TRUE(server.access_log().empty()) << "a request went through an unverified connection";

  // Trusted through ca_bundle: downloaded over HTTP/2.
  options.ca_bundle = cert;
  results = fetch::fetch_zones({"nz", "li"}, net::Families::Both, options);
  for (const auto& r : results) {
    EXPECT_EQ(r.origin, net::Origin::Downloaded) << r.country << " " << r.error;
  }
  const auto log = server.access_log();
  ASSERT_FALSE(log.empty());
  for (const auto& e : log) {
    EXPECT_EQ(e.protocol, "HTTP/2.0") << e.uri;
  }
}

TEST(FetchProgress, LogLinesGiveOneSummaryAndQuietGivesNone)
{
  if (!NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  TempDir dir;
  write_mirror(dir / "mirror");
  std::filesystem::create_directories(dir / "nginx");
  NginxServer server(dir / "mirror", dir / "nginx");
  auto options = loopback_options(server.base_url(), dir / "cache");

  options.progress = fetch::ProgressMode::Lines;
  ::testing::internal::CaptureStderr();
  fetch::fetch_zones(k_mirror_countries, net::Families::Both, options);
  const std::string lines = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(lines.find("geoblock: fetched 8 zones from " + server.base_url()), std::string::npos) << lines;
  EXPECT_NE(lines.find("8 downloaded"), std::string::npos) << lines;
  EXPECT_EQ(lines.find('\r'), std::string::npos) << "terminal control in log lines";

  options.progress = fetch::ProgressMode::Quiet;
  ::testing::internal::CaptureStderr();
  const auto results = fetch::fetch_zones(k_mirror_countries, net::Families::Both, options);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_TRUE(fetch::nothing_changed(results));

  options.progress = fetch::ProgressMode::Terminal;
  ::testing::internal::CaptureStderr();
  fetch::fetch_zones(k_mirror_countries, net::Families::Both, options);
  const std::string terminal = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(terminal.find("\rgeoblock: fetching 10/10"), std::string::npos) << terminal;
  EXPECT_NE(terminal.find(" not modified"), std::string::npos) << terminal;
  EXPECT_NE(terminal.find("\r\033[K"), std::string::npos) << "progress line not cleared";
}

} // namespace
} // namespace geoblock::test
