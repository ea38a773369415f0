// max-shrink per zone (fetch/shrink_guard.hpp): what is counted (addresses,
// not networks), and the sources that keep a last good copy refusing new
// data that covers too few of its addresses before it replaces the copy:
// the zone fetcher (file:// mirror), the URL blocklists (a FaultServer) and
// rir (nginx). The refusals end in exit code 3 in the commands
// (tests/cli/flow_test.cpp, backend_suite_test.cpp).
#include "core/error.hpp"
#include "fetch/blocklist_fetch.hpp"
#include "fetch/fetcher.hpp"
#include "fetch/rir_source.hpp"
#include "fetch/shrink_guard.hpp"
#include "fetch_test_util.hpp"
#include "net/blocklist.hpp"
#include "support/http_fault.hpp"
#include "support/http_nginx.hpp"
#include "support/rir_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace geoblock::test {
namespace {

using net::Families;
using net::Family;
using net::Origin;
using testing::HasSubstr;
using testing::StartsWith;
using Mode = net::ZoneSource::Mode;

// The networks of a list's text ("198.51.100.0/24\n2001:db8::/32\n").
net::NetList
nets(const std::string& text)
{
  net::NetList out;
  net::parse_blocklist(text, "test", net::ZoneOptions{}, out);
  return out;
}

net::NetList
v4(std::initializer_list<const char*> list)
{
  std::string text;
  for (const char* n : list) {
    text += std::string(n) + "\n";
  }
  return nets(text);
}

TEST(ShrinkGuard, CountsAddressesNotNetworks)
{
  // Aggregated upstream: 2 networks to 1, the same 512 addresses.
  const fetch::Shrink merged =
      fetch::measure_shrink(v4({"198.51.100.0/24", "198.51.101.0/24"}), v4({"198.51.100.0/23"}), Family::V4);
  EXPECT_EQ(merged.networks_before, 2u);
  EXPECT_EQ(merged.networks_after, 1u);
  EXPECT_EQ(merged.fraction(), 0.0);
  // Overlaps count once.
  EXPECT_EQ(fetch::covered_addresses(v4({"198.51.100.0/24", "198.51.100.0/25"}), Family::V4), 256.0L);
  // 512 addresses to 16: -97%.
  const fetch::Shrink s =
      fetch::measure_shrink(v4({"198.51.100.0/24", "203.0.113.0/24"}), v4({"198.51.100.0/28"}), Family::V4);
  EXPECT_NEAR(s.fraction(), 1.0 - 16.0 / 512.0, 1e-9);
  EXPECT_TRUE(fetch::beyond(s, 0.5));
  EXPECT_FALSE(fetch::beyond(s, 1.0));
  EXPECT_EQ(fetch::describe_shrink("nz IPv4", s, 0.5, fetch::last_good_copy_of(1'795'000'000)),
            "nz IPv4: 2 to 1 networks (-97% of the addresses, more than max-shrink 50%) against its last "
            "good copy of 2026-11-18 11:06 UTC");
  // Nothing before: never a shrink; growth neither.
  EXPECT_EQ(fetch::measure_shrink({}, v4({"198.51.100.0/28"}), Family::V4).fraction(), 0.0);
  EXPECT_EQ(fetch::measure_shrink(v4({"198.51.100.0/28"}), v4({"198.51.100.0/24"}), Family::V4).fraction(),
            0.0);
  // IPv6 ratios hold far beyond 2^64.
  EXPECT_NEAR(fetch::measure_shrink(nets("2001:db8::/32\n"), nets("2001:db8::/34\n"), Family::V6).fraction(),
              0.75, 1e-9);
}

TEST(ShrinkGuard, MaxShrinkIsAFraction)
{
  EXPECT_NO_THROW(fetch::check_max_shrink(0));
  EXPECT_NO_THROW(fetch::check_max_shrink(1));
  EXPECT_THROW(fetch::check_max_shrink(1.5), ConfigError);
  EXPECT_THROW(fetch::check_max_shrink(-0.1), ConfigError);
}

class ZoneShrink : public ::testing::Test {
protected:
  ZoneShrink()
  {
    std::filesystem::create_directories(dir / "mirror/ipblocks/data/countries");
    options.base_url = "file://" + dir / "mirror";
    options.cache_dir = dir / "cache";
    options.retries = 0;
    options.verify_md5sum = false;
    options.progress = fetch::ProgressMode::Quiet;
  }
  void zone(const std::string& body) { spit(dir / "mirror/ipblocks/data/countries/nz.zone", body); }
  net::ZoneResult fetch() { return fetch::fetch_zones({"nz"}, Families::V4, options).at(0); }

  TempDir dir;
  fetch::FetchOptions options;
};

TEST_F(ZoneShrink, NewDataThatShrinksTooMuchIsRefusedAndNeverCached)
{
  const std::string good = "198.51.100.0/24\n203.0.113.0/24\n";
  zone(good);
  ASSERT_EQ(fetch().origin, Origin::Downloaded);
  const std::string meta = slurp(dir / "cache/v4/nz.meta");

  zone("198.51.100.0/28\n");
  for (int run = 0; run < 2; ++run) {
    const net::ZoneResult r = fetch();
    EXPECT_EQ(r.origin, Origin::Refused);
    EXPECT_THAT(r.error, StartsWith("nz IPv4: 2 to 1 networks (-97% of the addresses, more than max-shrink "
                                    "50%) against its last good copy of "));
    EXPECT_EQ(r.nets.v4, v4({"198.51.100.0/24", "203.0.113.0/24"}).v4) << "the last good copy";
    EXPECT_EQ(slurp(dir / "cache/v4/nz.zone"), good);
    EXPECT_EQ(slurp(dir / "cache/v4/nz.meta"), meta);
  }
  // Half of the addresses may go; more only with max-shrink raised or forced.
  zone("198.51.100.0/24\n");
  EXPECT_EQ(fetch().origin, Origin::Downloaded);
  zone("198.51.100.0/26\n");
  EXPECT_EQ(fetch().origin, Origin::Refused);
  options.shrink.max_shrink = 0.8;
  EXPECT_EQ(fetch().origin, Origin::Downloaded);
  zone("198.51.100.0/28\n");
  options.shrink.force = true;
  EXPECT_EQ(fetch().origin, Origin::Downloaded);
  EXPECT_EQ(slurp(dir / "cache/v4/nz.zone"), "198.51.100.0/28\n");
}

TEST_F(ZoneShrink, AZoneWithoutALastGoodCopyIsNeverAShrink)
{
  zone("198.51.100.0/28\n");
  EXPECT_EQ(fetch().origin, Origin::Downloaded);
  options.shrink.max_shrink = 0;
  zone("198.51.100.0/28\n198.51.100.16/28\n");
  EXPECT_EQ(fetch().origin, Origin::Downloaded) << "growth";
  zone("198.51.100.0/27\n");
  EXPECT_EQ(fetch().origin, Origin::Downloaded) << "the same addresses";
}

TEST(BlocklistShrink, AUrlListThatShrinksTooMuchKeepsItsLastGoodCopyAFileListIsTheOwnersDecision)
{
  TempDir dir;
  std::string body = "198.51.100.0/24\n203.0.113.0/24\n2001:db8::/32\n";
  FaultServer server([&body](const FaultRequest&) {
    FaultReply reply;
    reply.body = body;
    return reply;
  });
  const std::string url = server.base_url() + "/drop.txt";
  const std::string file = dir.write("own.txt", body);
  fetch::FetchOptions o;
  o.cache_dir = dir / "cache";
  o.retries = 0;
  o.progress = fetch::ProgressMode::Quiet;
  const fetch::BlocklistSource source({url, file}, o);
  auto r = source.load(Mode::Refresh);
  ASSERT_EQ(r.at(0).origin, Origin::Downloaded) << r[0].error;
  const std::string cached = slurp(source.cache_path(url));

  body = "198.51.100.0/28\n2001:db8::/32\n"; // IPv4 shrinks, IPv6 stays
  spit(file, body);
  r = source.load(Mode::Refresh);
  EXPECT_EQ(r[0].origin, Origin::Refused);
  EXPECT_THAT(r[0].error, StartsWith("blocklist drop.txt IPv4: 2 to 1 networks (-97% of the addresses"));
  EXPECT_EQ(r[0].nets.v4.size(), 2u) << "the last good copy";
  EXPECT_EQ(slurp(source.cache_path(url)), cached);
  EXPECT_EQ(r[1].origin, Origin::Local) << r[1].error;
  EXPECT_EQ(r[1].nets.v4.size(), 1u);

  fetch::FetchOptions forced = o;
  forced.shrink.force = true;
  r = fetch::BlocklistSource({url}, forced).load(Mode::Refresh);
  EXPECT_EQ(r[0].origin, Origin::Downloaded);
  EXPECT_EQ(slurp(source.cache_path(url)), body);
}

class RirShrink : public ::testing::Test {
protected:
  void SetUp() override
  {
    if (!NginxServer::available()) {
      GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
    }
    root = dir / "www";
    std::filesystem::create_directories(dir / "nginx");
    std::filesystem::create_directories(root);
    server = std::make_unique<NginxServer>(root, dir / "nginx");
    urls = write_rir_tree(root, server->base_url());
    options = loopback_options(server->base_url(), dir / "cache");
  }
  std::vector<net::ZoneResult> load(const std::vector<std::string>& countries)
  {
    fetch::RirOptions o;
    o.urls = urls;
    o.countries = {"ru", "de", "cn"};
    fetch::RirSource source(options, o);
    return source.load(countries, Families::V4, Mode::Refresh);
  }
  std::string cached() const { return slurp(dir / "cache/rir/v4/delegated-ripencc-extended-latest.zone"); }

  TempDir dir;
  std::string root;
  std::unique_ptr<NginxServer> server;
  std::vector<std::string> urls;
  fetch::FetchOptions options;
};

TEST_F(RirShrink, AZoneThatShrinksKeepsItsFilesLastGoodCopy)
{
  ASSERT_EQ(find_result(load({"ru", "de", "cn"}), "ru", Family::V4)->origin, Origin::Downloaded);
  const std::string before = cached();
  // ripencc's new file gives ru 8 addresses of its 200.
  std::string body = rir_body("ripencc");
  const std::string ru = "ripencc|RU|ipv4|203.0.113.0|200|";
  ASSERT_NE(body.find(ru), std::string::npos);
  body.replace(body.find(ru), ru.size(), "ripencc|RU|ipv4|203.0.113.0|8|");
  write_rir_file(root, "ripencc", body);

  const auto rs = load({"ru", "de", "cn"});
  const net::ZoneResult* r = find_result(rs, "ru", Family::V4);
  EXPECT_EQ(r->origin, Origin::Refused);
  EXPECT_THAT(r->error, StartsWith("ru IPv4: 3 to 1 networks (-96% of the addresses, more than max-shrink "
                                   "50%) against its last good copy of "));
  EXPECT_EQ(r->nets.v4.size(), 3u) << "the last good copy";
  // de is in the same file: its last good copy serves too; cn's file is
  // another.
  EXPECT_EQ(find_result(rs, "de", Family::V4)->origin, Origin::StaleCache);
  EXPECT_THAT(find_result(rs, "de", Family::V4)->error, HasSubstr("refused by max-shrink (ru IPv4: "));
  EXPECT_EQ(find_result(rs, "cn", Family::V4)->origin, Origin::NotModified);
  EXPECT_EQ(cached(), before);
  // Asked for de alone (a failover list): ru is configured, so the file is
  // still refused.
  EXPECT_EQ(find_result(load({"de"}), "de", Family::V4)->origin, Origin::StaleCache);
  EXPECT_EQ(cached(), before);

  options.shrink.force = true;
  EXPECT_EQ(find_result(load({"ru"}), "ru", Family::V4)->origin, Origin::Downloaded);
  EXPECT_EQ(cached(), body);
}

} // namespace
} // namespace geoblock::test
