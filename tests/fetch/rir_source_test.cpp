// The rir source against a real nginx serving five generated
// delegated-extended files: the same zones as an ipdeny-style mirror of
// the same data, conditional GETs, checksum forms, and every refusal
// (corrupted .md5, malformed line, HTML page, oversize file) keeping the
// last good copy untouched. Also URL templates for zone mirrors.
#include "fetch/fetcher.hpp"
#include "fetch/rir_source.hpp"
#include "fetch_test_util.hpp"
#include "support/http_nginx.hpp"
#include "support/rir_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace geoblock::test {
namespace {

using net::Families;
using net::Family;
using net::Origin;
using testing::HasSubstr;
using Mode = net::ZoneSource::Mode;

std::vector<std::string>
cidrs(const net::ZoneResult& r)
{
  std::vector<std::string> out;
  for (const auto& p : r.nets.v4) {
    out.push_back(net::to_string(p));
  }
  for (const auto& p : r.nets.v6) {
    out.push_back(net::to_string(p));
  }
  std::sort(out.begin(), out.end());
  return out;
}

class RirFetch : public ::testing::Test {
protected:
  void SetUp() override
  {
    if (!NginxServer::available()) {
      GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
    }
    root = m_dir / "www";
    std::filesystem::create_directories(m_dir / "nginx");
    std::filesystem::create_directories(root);
    server = std::make_unique<NginxServer>(root, m_dir / "nginx");
    urls = write_rir_tree(root, server->base_url());
    write_rir_equivalent_mirror(root + "/mirror");
    options = loopback_options(server->base_url() + "/mirror", m_dir / "cache");
  }

  std::vector<net::ZoneResult> load_rir(Mode mode = Mode::Refresh, std::uint64_t max_bytes = 1 << 20)
  {
    fetch::RirOptions o;
    o.urls = urls;
    o.max_bytes = max_bytes;
    fetch::RirSource source(options, o);
    return source.load(k_rir_countries, Families::Both, mode);
  }

  std::string cached(const std::string& registry) const
  {
    return slurp(m_dir / ("cache/rir/v4/delegated-" + registry + "-extended-latest.zone"));
  }

  // A good first run, then `damage` to ripencc's file: ru's data must stay
  // the last good copy, named as such, and the cache must not change.
  void expect_refused(const std::function<void()>& damage, const std::string& why,
                      std::uint64_t max_bytes = 1 << 20)
  {
    const auto first = load_rir();
    const auto* ru = find_result(first, "ru", Family::V4);
    ASSERT_TRUE(ru);
    ASSERT_EQ(ru->origin, Origin::Downloaded) << ru->error;
    const std::string before = cached("ripencc");
    const std::string meta_before = slurp(m_dir / "cache/rir/v4/delegated-ripencc-extended-latest.meta");
    damage();
    const auto second = load_rir(Mode::Refresh, max_bytes);
    const auto* ru2 = find_result(second, "ru", Family::V4);
    ASSERT_TRUE(ru2);
    EXPECT_EQ(ru2->origin, Origin::StaleCache);
    EXPECT_EQ(cidrs(*ru2), cidrs(*ru));
    EXPECT_THAT(ru2->error, HasSubstr("delegated-ripencc-extended-latest"));
    EXPECT_THAT(ru2->error, HasSubstr(why));
    EXPECT_EQ(cached("ripencc"), before);
    EXPECT_EQ(slurp(m_dir / "cache/rir/v4/delegated-ripencc-extended-latest.meta"), meta_before);
    // Countries of the other registries are not affected.
    EXPECT_EQ(find_result(second, "cn", Family::V4)->origin, Origin::NotModified);
  }

  TempDir m_dir;
  std::string root;
  std::unique_ptr<NginxServer> server;
  std::vector<std::string> urls;
  fetch::FetchOptions options;
};

TEST_F(RirFetch, GivesTheSameZonesAsAnIpdenyMirrorOfTheSameDataEntryForEntry)
{
  const auto rir = load_rir();
  const auto http = fetch::fetch_zones(k_rir_countries, Families::Both, options);
  ASSERT_EQ(rir.size(), k_rir_countries.size() * 2);
  const auto expected = rir_expected_zones();
  for (const auto& r : rir) {
    const std::string key = r.country + " " + net::family_key(r.family);
    const auto* h = find_result(http, r.country, r.family);
    ASSERT_TRUE(h) << key;
    EXPECT_EQ(cidrs(r), cidrs(*h)) << key;
    if (expected.count(key)) {
      EXPECT_EQ(r.origin, Origin::Downloaded) << key << ": " << r.error;
      auto want = expected.at(key);
      std::sort(want.begin(), want.end());
      EXPECT_EQ(cidrs(r), want) << key;
    } else {
      EXPECT_EQ(r.origin, Origin::Absent) << key;
      EXPECT_EQ(h->origin, Origin::Absent) << key;
    }
  }
  // IPv4 counts that are not powers of two are split: ru's 200 addresses.
  EXPECT_EQ(cidrs(*find_result(rir, "ru", Family::V4)),
            (std::vector<std::string>{"203.0.113.0/25", "203.0.113.128/26", "203.0.113.192/29"}));
}

TEST_F(RirFetch, OneFetchServesEveryCountryAndTheSecondRunIsAllNotModified)
{
  load_rir();
  server->clear_access_log();
  const auto again = load_rir();
  for (const auto& r : again) {
    EXPECT_TRUE(r.origin == Origin::NotModified || r.origin == Origin::Absent) << r.country;
  }
  int files = 0;
  for (const auto& e : server->access_log()) {
    if (!e.uri.ends_with(".md5")) {
      ++files;
      EXPECT_EQ(e.status, 304) << e.uri;
      EXPECT_EQ(e.body_bytes, 0) << e.uri;
    }
  }
  EXPECT_EQ(files, 5);
}

TEST_F(RirFetch, StatusSeesTheCachedFilesOnceFetched)
{
  fetch::RirOptions o;
  o.urls = urls;
  fetch::RirSource source(options, o);
  EXPECT_TRUE(source.cache(options.clock())->zones.empty()); // nothing fetched yet: nothing to report
  source.load({"cn"}, Families::V4, Mode::Refresh);
  const auto report = source.cache(options.clock());
  ASSERT_EQ(report->zones.size(), 5u);
  EXPECT_EQ(report->zones[1].file, "delegated-apnic-extended-latest");
  EXPECT_EQ(report->zones[1].networks, 4u); // cn and jp, v4 and v6
  EXPECT_TRUE(report->zones[1].body_ok);
  EXPECT_EQ(report->zones[1].fetched_days_ago, 0);
}

TEST_F(RirFetch, CacheOnlyReadsTheLastGoodCopiesWithoutTheNetwork)
{
  load_rir();
  server->stop();
  const auto offline = load_rir(Mode::CacheOnly);
  EXPECT_EQ(find_result(offline, "cn", Family::V6)->origin, Origin::NotModified);
  EXPECT_EQ(cidrs(*find_result(offline, "cn", Family::V6)), (std::vector<std::string>{"2001:db8:1::/48"}));
}

TEST_F(RirFetch, ACorruptedMd5RefusesTheFile)
{
  expect_refused(
      [&] {
        write_rir_file(root, "ripencc",
                       rir_body("ripencc") + "ripencc|RU|ipv4|198.51.100.168|8|20200101|allocated|x\n");
        write_text(root + rir_path("ripencc") + ".md5",
                   "MD5 (delegated-ripencc-extended-latest) = 0123456789abcdef0123456789abcdef\n");
      },
      "differs from");
}

TEST_F(RirFetch, AMalformedLineRefusesTheWholeFileNamingTheLine)
{
  const std::string good = rir_body("ripencc");
  const auto bad_line = std::count(good.begin(), good.end(), '\n') + 1;
  expect_refused(
      [&] {
        std::string body = rir_body("ripencc");
        body += "ripencc|RU|ipv4|203.0.113.300|8|20200101|allocated|x\n";
        write_rir_file(root, "ripencc", body);
      },
      "delegated-ripencc-extended-latest:" + std::to_string(bad_line) + ": bad IPv4 start address");
}

TEST_F(RirFetch, AnHtmlPageIsRefused)
{
  expect_refused([&] { write_rir_file(root, "ripencc", "<html><body>Maintenance</body></html>\n"); },
                 "an HTML page");
}

TEST_F(RirFetch, AFileOverTheSizeLimitIsRefused)
{
  expect_refused(
      [&] {
        std::string body = rir_body("ripencc");
        while (body.size() < 8192) {
          body += "ripencc|RU|ipv4|203.0.113.0|8|20200101|allocated|padding\n";
        }
        write_rir_file(root, "ripencc", body);
      },
      "cannot fetch", 4096);
}

TEST_F(RirFetch, AFileWithNeitherThisRunsCopyNorACachedOneFailsEveryZone)
{
  std::filesystem::remove(root + rir_path("arin"));
  const auto rs = load_rir();
  for (const auto& r : rs) {
    EXPECT_EQ(r.origin, Origin::Failed) << r.country;
    EXPECT_THAT(r.error, HasSubstr("delegated-arin-extended-latest"));
  }
}

TEST(RirMd5, AcceptsTheFormsRegistriesPublish)
{
  const std::string h = "0123456789abcdef0123456789abcdef";
  EXPECT_EQ(fetch::parse_rir_md5("MD5 (delegated-apnic-extended-20261201) = " + h + "\n"), h);
  EXPECT_EQ(fetch::parse_rir_md5(h + "  delegated-arin-extended-latest\n"), h);
  EXPECT_EQ(fetch::parse_rir_md5(h + " *delegated-arin-extended-latest\r\n"), h);
  EXPECT_EQ(fetch::parse_rir_md5(h), h);
  EXPECT_EQ(fetch::parse_rir_md5("0123456789ABCDEF0123456789ABCDEF\n"), h);
  EXPECT_FALSE(fetch::parse_rir_md5(""));
  EXPECT_FALSE(fetch::parse_rir_md5("<html>not found</html>"));
  EXPECT_FALSE(fetch::parse_rir_md5(h.substr(1)));
  EXPECT_FALSE(fetch::parse_rir_md5(h + "\n" + h + "\n"));
  EXPECT_FALSE(fetch::parse_rir_md5("MD5 (x) = zz23456789abcdef0123456789abcdef"));
}

TEST(ZoneUrlTemplate, ExpandsBothCasesAndFindsTheMd5sumOfItsDirectory)
{
  fetch::FetchOptions o;
  o.base_url = "https://www.ipdeny.com/";
  EXPECT_EQ(fetch::zone_url(o, "nz", Family::V4), "https://www.ipdeny.com/ipblocks/data/countries/nz.zone");
  EXPECT_EQ(fetch::md5sum_url(o, Family::V6), "https://www.ipdeny.com/ipv6/ipaddresses/blocks/MD5SUM");
  o.zone_url_v4 = "http://mirror/geo/{CC}-v4.txt";
  EXPECT_EQ(fetch::zone_url(o, "nz", Family::V4), "http://mirror/geo/NZ-v4.txt");
  EXPECT_EQ(fetch::md5sum_url(o, Family::V4), "http://mirror/geo/MD5SUM");
  o.zone_url_v6 = "https://raw.example/country/{cc}/ipv6-aggregated.txt";
  EXPECT_EQ(fetch::zone_url(o, "nz", Family::V6), "https://raw.example/country/nz/ipv6-aggregated.txt");
  EXPECT_EQ(fetch::md5sum_url(o, Family::V6), ""); // one directory per country: no MD5SUM
}

TEST(ZoneUrlTemplate, RefusesTemplatesWithoutTheCodeOrWithUnknownPlaceholders)
{
  EXPECT_EQ(fetch::zone_url_template_problem("http://m/{cc}.zone"), "");
  EXPECT_EQ(fetch::zone_url_template_problem("file:///srv/{CC}/v4"), "");
  EXPECT_THAT(fetch::zone_url_template_problem("http://m/cn.zone"), HasSubstr("no {cc} or {CC}"));
  EXPECT_THAT(fetch::zone_url_template_problem("http://m/{country}/{cc}"), HasSubstr("unknown placeholder"));
  EXPECT_THAT(fetch::zone_url_template_problem("ftp://m/{cc}"), HasSubstr("http://"));
}

TEST_F(RirFetch, ATemplateMirrorWithoutAnMd5sumWorksAndOneWithItIsChecked)
{
  // A flat mirror with upper-case names and no MD5SUM.
  for (const auto& [key, nets] : rir_expected_zones()) {
    std::string body;
    for (const auto& n : nets) {
      body += n + "\n";
    }
    std::string cc = key.substr(0, 2);
    std::transform(cc.begin(), cc.end(), cc.begin(), ::toupper);
    write_text(root + "/flat/" + cc + "-" + key.substr(3) + ".txt", body);
  }
  options.zone_url_v4 = server->base_url() + "/flat/{CC}-v4.txt";
  options.zone_url_v6 = server->base_url() + "/flat/{CC}-v6.txt";
  auto rs = fetch::fetch_zones({"cn", "ru"}, Families::Both, options);
  EXPECT_EQ(find_result(rs, "cn", Family::V4)->origin, Origin::Downloaded);
  EXPECT_EQ(cidrs(*find_result(rs, "cn", Family::V4)),
            (std::vector<std::string>{"198.51.100.0/26", "198.51.100.64/27"}));
  EXPECT_EQ(find_result(rs, "ru", Family::V6)->origin, Origin::Absent);

  // With an MD5SUM in the directory, listing the files by name, a
  // substituted file is refused.
  write_text(root + "/flat/MD5SUM", "0123456789abcdef0123456789abcdef  JP-v4.txt\n");
  write_text(root + "/flat/JP-v4.txt", "198.51.100.96/27\n");
  rs = fetch::fetch_zones({"jp"}, Families::V4, options);
  EXPECT_EQ(rs.at(0).origin, Origin::Failed);
  EXPECT_THAT(rs.at(0).error, HasSubstr("differs from MD5SUM"));
}

} // namespace
} // namespace geoblock::test
