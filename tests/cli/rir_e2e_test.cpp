// The rir source and failover end to end: the real binary, nginx serving
// five generated delegated-extended files (tests/support/rir_files.hpp)
// and an ipdeny-style mirror of the same data, the fault server for a
// mirror that answers 500, real ipset/iptables and packets, all inside a
// network namespace of the test's own. "cn" (198.51.100.0 +96,
// 2001:db8:1::/48) and "ru" (203.0.113.0 +200, no IPv6) are blocked.
#include "support/geoblock_binary.hpp"
#include "support/http_fault.hpp"
#include "support/http_nginx.hpp"
#include "support/netns.hpp"
#include "support/rir_files.hpp"
#include "support/temp_dir.hpp"
#include "util/json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace {

using namespace geoblock;
using test::run_geoblock;
using testing::HasSubstr;

constexpr const char* k_server_v4 = "198.51.100.1";
constexpr const char* k_blocked_v4 = "198.51.100.10";  // cn
constexpr const char* k_allowed_v4 = "198.51.100.200"; // no country configured
constexpr const char* k_server_v6 = "2001:db8:ffff::1";
constexpr const char* k_blocked_v6 = "2001:db8:1::10"; // cn
constexpr const char* k_allowed_v6 = "2001:db8:2::10"; // jp, not configured

struct RirWorld {
  test::TempDir dir;
  std::string www = dir / "www";
  std::unique_ptr<test::NginxServer> nginx;
  std::vector<std::string> rir_urls;

  RirWorld()
  {
    std::filesystem::create_directories(www);
    std::filesystem::create_directories(dir / "nginx");
    nginx = std::make_unique<test::NginxServer>(www, dir / "nginx");
    rir_urls = test::write_rir_tree(www, nginx->base_url());
    test::write_rir_equivalent_mirror(www + "/mirror");
  }

  // A configuration with `source` and `base_url`; the rir files from
  // nginx unless other URLs are given.
  std::string config(const std::string& source, const std::string& base_url,
                     const std::vector<std::string>& rir = {}, const std::string& extra = "")
  {
    std::string text = "countries = cn ru\nsource = " + source + "\nbase-url = " + base_url +
                       "\ncache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                       "\nlock-file = " + dir / "lock" +
                       "\nretries = 0\ntimeout = 10\nrir-max-bytes = 4096\n" + extra;
    for (const std::string& url : rir.empty() ? rir_urls : rir) {
      text += "rir-url = " + url + "\n";
    }
    return dir.write("geoblock.conf", text);
  }
};

// The members of a live set, sorted.
std::vector<std::string>
members(const std::string& set)
{
  const std::string out = test::run_checked({"ipset", "list", set});
  std::vector<std::string> m;
  bool in = false;
  for (const std::string& line : test::lines_of(out)) {
    if (in && !line.empty()) {
      m.push_back(line);
    }
    in = in || line == "Members:";
  }
  std::sort(m.begin(), m.end());
  return m;
}

util::Json
state_of(const RirWorld& w)
{
  std::ifstream in(w.dir / "state/state.json");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return util::Json::parse(text, "state.json");
}

TEST(RirEndToEnd, TheRirSourceBlocksExactlyWhatTheMirrorOfTheSameDataGives)
{
  GEOBLOCK_REQUIRE_NETNS();
  if (!test::NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  test::in_fresh_netns([] {
    RirWorld w;
    test::NamedNetns client;
    test::link_veth(nullptr, "gbh", {std::string(k_server_v4) + "/24", std::string(k_server_v6) + "/32"},
                    &client, "gbc",
                    {std::string(k_blocked_v4) + "/24", std::string(k_allowed_v4) + "/24",
                     std::string(k_blocked_v6) + "/32", std::string(k_allowed_v6) + "/32"});
    test::TcpServer web4(nullptr, "0.0.0.0", 80);
    test::TcpServer web6(nullptr, "::", 80);

    const std::string rir = w.config("rir", w.nginx->base_url() + "/mirror");
    auto r = run_geoblock({"update", "--config", rir});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto v4 = members("geoblock-v4");
    const auto v6 = members("geoblock-v6");
    EXPECT_EQ(v4, (std::vector<std::string>{"198.51.100.0/26", "198.51.100.64/27", "203.0.113.0/25",
                                            "203.0.113.128/26", "203.0.113.192/29"}));
    EXPECT_EQ(v6, (std::vector<std::string>{"2001:db8:1::/48"}));
    EXPECT_FALSE(test::tcp_connect(&client, k_blocked_v4, k_server_v4, 80, std::chrono::milliseconds(700)));
    EXPECT_FALSE(test::tcp_connect(&client, k_blocked_v6, k_server_v6, 80, std::chrono::milliseconds(700)));
    EXPECT_TRUE(test::eventually_connects(&client, k_allowed_v4, k_server_v4, 80));
    EXPECT_TRUE(test::eventually_connects(&client, k_allowed_v6, k_server_v6, 80));
    const util::Json state = state_of(w);
    EXPECT_EQ(state.get("countries").items().at(0).get("v4").get("served_by").as_string(), "rir");

    // The ipdeny-style mirror of the same data: nothing to change, entry
    // for entry.
    const std::string http = w.config("http", w.nginx->base_url() + "/mirror");
    r = run_geoblock({"update", "--dry-run", "--config", http});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("geoblock-v4: 5 entries; live 5; would add 0, would remove 0"));
    EXPECT_THAT(r.out, HasSubstr("geoblock-v6: 1 entries; live 1; would add 0, would remove 0"));
    EXPECT_THAT(r.out, HasSubstr("downloaded from http"));
    r = run_geoblock({"update", "--config", http});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(members("geoblock-v4"), v4);
    EXPECT_EQ(members("geoblock-v6"), v6);
  });
}

TEST(RirEndToEnd, ARefusedDelegationFileLeavesTheLiveSetUnchanged)
{
  GEOBLOCK_REQUIRE_NETNS();
  if (!test::NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  test::in_fresh_netns([] {
    RirWorld w;
    const std::string config = w.config("rir", w.nginx->base_url() + "/mirror");
    ASSERT_EQ(run_geoblock({"update", "--config", config}).exit_code, 0);
    const auto v4 = members("geoblock-v4");
    // Each damaged file would add 198.51.100.168/29 to ru, or drop ru,
    // were it taken.
    const std::string good = test::rir_body("ripencc");
    const std::string extra = "ripencc|RU|ipv4|198.51.100.168|8|20200101|allocated|new\n";
    std::string oversize = good + extra;
    while (oversize.size() < 5000) {
      oversize += extra;
    }
    const auto bad_line = std::count(good.begin(), good.end(), '\n') + 1;
    struct Damage {
      std::string what, body, md5, expect;
    };
    const std::vector<Damage> cases = {
        {"corrupted .md5", good + extra, "MD5 (x) = 0123456789abcdef0123456789abcdef\n", "differs from"},
        {"malformed line", good + "ripencc|RU|ipv4|203.0.113.0|-8|20200101|allocated|x\n" + extra, "",
         "delegated-ripencc-extended-latest:" + std::to_string(bad_line) + ": bad IPv4 address count"},
        {"HTML page", "<!DOCTYPE html>\n<html><body>Down for maintenance</body></html>\n", "",
         "an HTML page"},
        {"oversize file", oversize, "", "larger than the limit of 4096 bytes"},
    };
    for (const Damage& d : cases) {
      test::write_rir_file(w.www, "ripencc", d.body);
      if (!d.md5.empty()) {
        test::write_text(w.www + test::rir_path("ripencc") + ".md5", d.md5);
      }
      const auto r = run_geoblock({"update", "--config", config});
      EXPECT_EQ(r.exit_code, 4) << d.what << ": " << r.err;
      EXPECT_THAT(r.err, HasSubstr("delegated-ripencc-extended-latest")) << d.what;
      EXPECT_THAT(r.err, HasSubstr(d.expect)) << d.what;
      EXPECT_EQ(members("geoblock-v4"), v4) << d.what;
    }
    // The good file again: back to exit 0, same set.
    test::write_rir_file(w.www, "ripencc", good);
    const auto r = run_geoblock({"update", "--config", config});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(members("geoblock-v4"), v4);
  });
}

TEST(RirEndToEnd, AMirrorAnswering500FailsOverToRirAndEverySourceDownUsesTheLastGoodCache)
{
  GEOBLOCK_REQUIRE_NETNS();
  if (!test::NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  test::in_fresh_netns([] {
    RirWorld w;
    test::FaultServer broken([](const test::FaultRequest&) {
      test::FaultReply r;
      r.status = 500;
      r.body = "Internal Server Error\n";
      return r;
    });
    const std::string failover = w.config("http, rir", broken.base_url());
    auto r = run_geoblock({"update", "--config", failover});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("rir served 3 zone(s) an earlier source could not"));
    EXPECT_EQ(members("geoblock-v4").size(), 5u);
    EXPECT_EQ(members("geoblock-v6"), (std::vector<std::string>{"2001:db8:1::/48"}));
    util::Json state = state_of(w);
    const util::Json& cn = state.get("countries").items().at(0);
    EXPECT_EQ(cn.get("country").as_string(), "cn");
    EXPECT_EQ(cn.get("v4").get("served_by").as_string(), "rir");
    EXPECT_EQ(cn.get("v6").get("served_by").as_string(), "rir");
    r = run_geoblock({"status", "--config", failover});
    EXPECT_THAT(r.out, HasSubstr("networks (downloaded from rir)"));
    r = run_geoblock({"status", "--json", "--config", failover});
    int files = 0;
    const util::Json status = util::Json::parse(r.out, "status");
    for (const util::Json& e : status.get("cache").items()) {
      files += e.get("file").as_string().starts_with("delegated-") && e.get("body_ok").as_bool();
    }
    EXPECT_EQ(files, 5) << r.out;
    r = run_geoblock({"update", "--dry-run", "--config", failover});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("not modified from rir"));

    // Every source down: the last good cache (rir's) serves, exit 4, and
    // the live sets stay.
    const auto v4 = members("geoblock-v4");
    std::vector<std::string> broken_rir;
    for (const std::string& registry : test::k_registries) {
      broken_rir.push_back(broken.base_url() + test::rir_path(registry)); // same file names: same cache
    }
    const std::string down = w.config("http, rir", broken.base_url(), broken_rir);
    r = run_geoblock({"update", "--config", down});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_EQ(members("geoblock-v4"), v4);
    r = run_geoblock({"update", "--dry-run", "--json", "--config", down});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    const util::Json dry = util::Json::parse(r.out, "dry run");
    const util::Json& cn_dry = dry.get("countries").items().at(0);
    EXPECT_EQ(cn_dry.get("v4").get("source").as_string(), "stale cache");
    EXPECT_EQ(cn_dry.get("v4").get("served_by").as_string(), "rir");
  });
}

// max-shrink compares each zone with what the last update applied, from
// whichever source: the first copy a source serves has nothing of its own
// to be compared with, but the zone has.
TEST(RirEndToEnd, AZoneServedByAnotherSourceThanLastTimeIsComparedWithWhatWasApplied)
{
  GEOBLOCK_REQUIRE_NETNS();
  if (!test::NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  test::in_fresh_netns([] {
    RirWorld w;
    // A mirror whose cn and ru zones are whole /24s (256 addresses each),
    // where the registries' data gives cn 96 (-63%) and ru 200 (-22%).
    test::write_text(w.www + "/big/ipblocks/data/countries/cn.zone", "198.51.100.0/24\n");
    test::write_text(w.www + "/big/ipblocks/data/countries/ru.zone", "203.0.113.0/24\n");
    test::write_text(w.www + "/big/ipv6/ipaddresses/blocks/cn.zone", "2001:db8:1::/48\n");
    auto r = run_geoblock({"update", "--config", w.config("http", w.nginx->base_url() + "/big")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto before = members("geoblock-v4");

    const std::string rir = w.config("rir", w.nginx->base_url() + "/big");
    r = run_geoblock({"update", "--config", rir});
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_THAT(r.err, HasSubstr("geoblock: error: refusing cn IPv4: 1 to 2 networks (-63% of the addresses, "
                                 "more than max-shrink 50%) against what the update of "));
    EXPECT_THAT(r.err, testing::Not(HasSubstr("ru IPv4")));
    EXPECT_EQ(members("geoblock-v4"), before);
    r = run_geoblock({"update", "--force", "--config", rir});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(members("geoblock-v4").size(), 5u);
  });
}

} // namespace
