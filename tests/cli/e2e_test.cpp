// End to end: the real geoblock binary, a real nginx mirror on 127.0.0.1,
// real ipset and iptables, real packets, all inside network namespaces the
// test creates. Client addresses come from 198.51.100.0/24 and
// 2001:db8::/32; "cn" lists 198.51.100.0/25 and 2001:db8:1::/48, "ru"
// lists 203.0.113.0/24 and has no IPv6 zone (404 upstream, as for real
// countries without IPv6 space).
#include "support/geoblock_binary.hpp"
#include "support/http_nginx.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"
#include "util/digest.hpp"
#include "util/json.hpp"
#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <sys/stat.h>

namespace {

using namespace geoblock;
using test::NamedNetns;

constexpr const char* k_server_v4 = "198.51.100.1";
constexpr const char* k_blocked_v4 = "198.51.100.10";  // in cn's 198.51.100.0/25
constexpr const char* k_allowed_v4 = "198.51.100.200"; // in no list (until the change)
constexpr const char* k_server_v6 = "2001:db8:ffff::1";
constexpr const char* k_blocked_v6 = "2001:db8:1::10";
constexpr const char* k_allowed_v6 = "2001:db8:2::10";

// An ipdeny-style mirror tree with MD5SUM files.
class Mirror {
public:
  explicit Mirror(const test::TempDir& dir) : m_root(dir / "mirror") {}
  const std::string& root() const { return m_root; }

  void set_v4(const std::string& cc, const std::string& body) { write(k_v4, cc, body); }
  void set_v6(const std::string& cc, const std::string& body) { write(k_v6, cc, body); }

private:
  static constexpr const char* k_v4 = "ipblocks/data/countries";
  static constexpr const char* k_v6 = "ipv6/ipaddresses/blocks";

  void write(const std::string& sub, const std::string& cc, const std::string& body)
  {
    const std::string dir = m_root + "/" + sub;
    std::filesystem::create_directories(dir);
    const std::string zone = dir + "/" + cc + ".zone";
    std::ofstream(zone, std::ios::trunc) << body;
    // Every version gets a Last-Modified of its own, a minute after the
    // previous one (set, not waited for), so a change is always seen.
    m_mtime += 60;
    const timespec times[2] = {{m_mtime, 0}, {m_mtime, 0}};
    if (::utimensat(AT_FDCWD, zone.c_str(), times, 0) != 0) {
      throw std::runtime_error("cannot set the mtime of " + zone);
    }
    // Rebuild MD5SUM from what the directory holds now.
    std::string sums;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() == ".zone") {
        std::ifstream in(e.path());
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        sums += util::md5_hex(text) + "  " + e.path().filename().string() + "\n";
      }
    }
    std::ofstream(dir + "/MD5SUM", std::ios::trunc) << sums;
  }
  std::string m_root;
  std::int64_t m_mtime = ::time(nullptr) - 86400; // a day ago: fresh data, never in the future
};

// One world: the test's own namespace is the protected host (it runs
// geoblock and nginx); `client` is a namespace joined to it by veth.
struct World {
  test::TempDir dir;
  Mirror mirror{dir};
  std::unique_ptr<test::NginxServer> nginx;
  NamedNetns client;
  std::unique_ptr<test::TcpServer> web4;
  std::unique_ptr<test::TcpServer> web6;
  std::string config;

  World()
  {
    mirror.set_v4("cn", "198.51.100.0/26\n198.51.100.64/26\n");
    mirror.set_v6("cn", "2001:db8:1::/48\n");
    mirror.set_v4("ru", "203.0.113.0/24\n");
    std::filesystem::create_directories(dir / "nginx");
    nginx = std::make_unique<test::NginxServer>(mirror.root(), dir / "nginx");
    test::link_veth(nullptr, "gbh", {std::string(k_server_v4) + "/24", std::string(k_server_v6) + "/32"},
                    &client, "gbc",
                    {std::string(k_blocked_v4) + "/24", std::string(k_allowed_v4) + "/24",
                     std::string(k_blocked_v6) + "/32", std::string(k_allowed_v6) + "/32"});
    web4 = std::make_unique<test::TcpServer>(nullptr, "0.0.0.0", 80);
    web6 = std::make_unique<test::TcpServer>(nullptr, "::", 80);
    config = write_config("");
  }

  std::string write_config(const std::string& extra)
  {
    return dir.write("geoblock.conf", "countries = cn ru\nbase-url = " + nginx->base_url() +
                                          "\ncache-dir = " + dir / "cache" +
                                          "\nstate-dir = " + dir / "state" + "\nlock-file = " + dir / "lock" +
                                          "\nmetrics-file = " + dir / "geoblock.prom" +
                                          "\nretries = 0\ntimeout = 10\n" + extra);
  }

  // One attempt: what a blocked source gets every time.
  bool connects(const std::string& from, const std::string& to) const
  {
    return test::tcp_connect(&client, from, to, 80, std::chrono::milliseconds(700));
  }
  // Bounded retries: what an allowed source gets, even under load.
  bool eventually_connects(const std::string& from, const std::string& to) const
  {
    return test::eventually_connects(&client, from, to, 80);
  }
  void expect_blocking(bool on) const
  {
    if (on) {
      EXPECT_FALSE(connects(k_blocked_v4, k_server_v4)) << "IPv4 from a blocked network";
      EXPECT_FALSE(connects(k_blocked_v6, k_server_v6)) << "IPv6 from a blocked network";
    } else {
      EXPECT_TRUE(eventually_connects(k_blocked_v4, k_server_v4)) << "IPv4 from a listed network, no block";
      EXPECT_TRUE(eventually_connects(k_blocked_v6, k_server_v6)) << "IPv6 from a listed network, no block";
    }
    EXPECT_TRUE(eventually_connects(k_allowed_v4, k_server_v4)) << "IPv4 from an allowed address";
    EXPECT_TRUE(eventually_connects(k_allowed_v6, k_server_v6)) << "IPv6 from an allowed address";
  }
  int zone_downloads() const
  {
    int n = 0;
    for (const auto& e : nginx->access_log()) {
      n += e.status == 200 && e.uri.find(".zone") != std::string::npos ? 1 : 0;
    }
    return n;
  }
};

util::Json
parse_json(const std::string& text)
{
  return util::Json::parse(text, "geoblock output");
}

TEST(EndToEnd, UpdateNothingChangedChangeStatusCheckRemove)
{
  GEOBLOCK_REQUIRE_NETNS();
  if (!test::NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  test::in_fresh_netns([] {
    World w;
    w.expect_blocking(false);

    // Dry run before anything exists: the table, nothing applied.
    auto r = geoblock::test::run_geoblock({"update", "--dry-run", "--config", w.config});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("cn              2        1  downloaded"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ru              1        1  downloaded"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("geoblock-v4: 2 entries; live 0; would add 2, would remove 0"), std::string::npos)
        << r.out;
    EXPECT_EQ(test::run_checked({"ipset", "list", "-n"}), "");
    w.expect_blocking(false);

    // The same as JSON, field by field.
    r = geoblock::test::run_geoblock({"update", "--dry-run", "--json", "--config", w.config});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const util::Json dry = parse_json(r.out);
    EXPECT_TRUE(dry.get("dry_run").as_bool());
    ASSERT_EQ(dry.get("countries").items().size(), 2u);
    const util::Json& cn = dry.get("countries").items()[0];
    EXPECT_EQ(cn.get("country").as_string(), "cn");
    EXPECT_EQ(cn.get("v4").get("networks").as_int(), 2);
    EXPECT_EQ(cn.get("v4").get("aggregated").as_int(), 1);
    EXPECT_EQ(cn.get("v4").get("source").as_string(), "not modified"); // cached by the first dry run
    EXPECT_EQ(cn.get("v6").get("networks").as_int(), 1);
    const util::Json& ru = dry.get("countries").items()[1];
    EXPECT_EQ(ru.get("v6").get("source").as_string(), "absent");
    EXPECT_EQ(dry.get("totals").get("v4").get("entries").as_int(), 2);
    EXPECT_EQ(dry.get("totals").get("v4").get("added").as_int(), 2);
    EXPECT_EQ(dry.get("totals").get("v6").get("entries").as_int(), 1);
    EXPECT_TRUE(dry.get("live_compared").as_bool());

    // Update from scratch: the kernel enforces it.
    r = geoblock::test::run_geoblock({"update", "--config", w.config});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    w.expect_blocking(true);
    EXPECT_NE(test::run_checked({"ipset", "list", "geoblock-v4"}).find("198.51.100.0/25"), std::string::npos);
    {
      std::ifstream in(w.dir / "geoblock.prom");
      const std::string prom((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_NE(prom.find("geoblock_set_entries{family=\"v4\"} 2\n"), std::string::npos) << prom;
      EXPECT_NE(prom.find("geoblock_zone_networks{country=\"cn\",family=\"v4\"} 2\n"), std::string::npos)
          << prom;
    }

    // A second update does nothing: only 304s, no body.
    w.nginx->clear_access_log();
    r = geoblock::test::run_geoblock({"update", "--config", w.config});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("nothing changed"), std::string::npos) << r.err;
    EXPECT_EQ(w.zone_downloads(), 0);
    for (const auto& e : w.nginx->access_log()) {
      EXPECT_TRUE(e.status == 304 || e.status == 404) << e.uri << " " << e.status;
      if (e.status == 304) {
        EXPECT_EQ(e.body_bytes, 0) << e.uri;
      }
    }

    // A changed zone changes the set: 198.51.100.192/26 joins cn.
    w.mirror.set_v4("cn", "198.51.100.0/26\n198.51.100.64/26\n198.51.100.192/26\n");
    w.nginx->clear_access_log();
    r = geoblock::test::run_geoblock({"update", "--config", w.config});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(w.zone_downloads(), 1);
    EXPECT_FALSE(w.connects(k_allowed_v4, k_server_v4)) << "198.51.100.200 is now listed";
    EXPECT_FALSE(w.connects(k_blocked_v4, k_server_v4));

    // status, text and JSON.
    r = geoblock::test::run_geoblock({"status", "--config", w.config});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("geoblock-v4: 3 entries"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("rules in raw:PREROUTING: present"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("live firewall: in sync with the configuration"), std::string::npos) << r.out;
    r = geoblock::test::run_geoblock({"status", "--json", "--config", w.config});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const util::Json st = parse_json(r.out);
    EXPECT_EQ(st.get("kernel").get("v4").get("entries").as_int(), 3); // cn /25 and /26, ru /24
    EXPECT_EQ(st.get("kernel").get("v6").get("entries").as_int(), 1);
    EXPECT_EQ(st.get("kernel").get("v4").get("rules").items().at(0).get("rules").as_int(), 1);
    EXPECT_EQ(st.get("last_update").get("countries").items().at(0).get("v4").get("networks").as_int(), 3);
    EXPECT_EQ(st.get("cache").items().size(), 4u); // ru v6 is recorded as absent

    // check: by which country and network.
    r = geoblock::test::run_geoblock(
        {"check", "--config", w.config, k_blocked_v4, "203.0.113.7", k_allowed_v6, "10.1.2.3"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(std::string(k_blocked_v4) + ": blocked by cn (198.51.100.0/26)"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("203.0.113.7: blocked by ru (203.0.113.0/24)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string(k_allowed_v6) + ": not blocked"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("10.1.2.3: allowed: local network 10.0.0.0/8"), std::string::npos) << r.out;

    // remove: rules, then sets; traffic flows again.
    r = geoblock::test::run_geoblock({"remove", "--config", w.config});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(test::run_checked({"ipset", "list", "-n"}), "");
    EXPECT_EQ(test::run_checked({"iptables-save"}).find("geoblock"), std::string::npos);
    w.expect_blocking(false);
  });
}

TEST(EndToEnd, RestoreFromCacheWithTheMirrorGone)
{
  GEOBLOCK_REQUIRE_NETNS();
  if (!test::NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  test::in_fresh_netns([] {
    World w;
    ASSERT_EQ(geoblock::test::run_geoblock({"update", "--config", w.config}).exit_code, 0);
    ASSERT_EQ(geoblock::test::run_geoblock({"remove", "--config", w.config}).exit_code,
              0); // as after a reboot
    w.nginx->stop();
    const auto r = geoblock::test::run_geoblock({"restore", "--config", w.config});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    w.expect_blocking(true);
  });
}

TEST(EndToEnd, ExitCodesFromRealSituations)
{
  GEOBLOCK_REQUIRE_NETNS();
  if (!test::NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  test::in_fresh_netns([] {
    World w;
    // 2: a configuration error changes nothing.
    auto r = geoblock::test::run_geoblock({"update", "--config", w.write_config("family = v5\n")});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(test::run_checked({"ipset", "list", "-n"}), "");

    // 1: no usable data at all (the mirror has nothing for these countries,
    // and nothing is cached): nothing applied.
    r = geoblock::test::run_geoblock({"update", "--config", w.write_config(""), "--countries", "de fr"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("geoblock: error: "), std::string::npos) << r.err;
    EXPECT_EQ(test::run_checked({"ipset", "list", "-n"}), "");

    // 0: a good update.
    w.config = w.write_config("");
    r = geoblock::test::run_geoblock({"update", "--config", w.config});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    // 3: the SSH session's own address would be blocked.
    ::setenv("SSH_CONNECTION", "203.0.113.50 50022 198.51.100.1 22", 1);
    r = geoblock::test::run_geoblock({"update", "--config", w.write_config("set-name = other\n")});
    ::unsetenv("SSH_CONNECTION");
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.err.find("203.0.113.50"), std::string::npos) << r.err;
    EXPECT_EQ(test::run_checked({"ipset", "list", "-n"}).find("other"), std::string::npos);

    // 4: one zone turns into an HTML error page: the last good copy is
    // kept and applied, the run says it was partial.
    w.config = w.write_config("");
    w.mirror.set_v4("ru", "<html><body>Service temporarily unavailable</body></html>\n");
    r = geoblock::test::run_geoblock({"update", "--config", w.config});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_NE(r.err.find("ru"), std::string::npos) << r.err;
    EXPECT_NE(test::run_checked({"ipset", "list", "geoblock-v4"}).find("203.0.113.0/24"), std::string::npos);
    w.expect_blocking(true);
  });
}

} // namespace
