// Convergence with the iptables backend where it is iptables' own: a
// hand-made duplicate rule below a foreign one, a baseline restore with
// fail2ban's chain, the lock around the whole run, with the real binary,
// real ipset and iptables and real packets. The behaviour every backend
// shares (the walk through configuration changes, rule shapes, allow-only,
// counters, drift, remove, restore) is in backend_suite_test.cpp, run
// against each backend. The mirror is a file:// tree: no server needed.
#include "support/geoblock_binary.hpp"
#include "support/http_fault.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"
#include "util/lock.hpp"
#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace {

using namespace geoblock;
using test::NamedNetns;

constexpr const char* k_host = "198.51.100.1";
constexpr const char* k_listed = "198.51.100.10";    // in cn's 198.51.100.0/25
constexpr const char* k_unlisted = "198.51.100.200"; // in no zone
constexpr const char* k_host6 = "2001:db8:ffff::1";
constexpr const char* k_listed6 = "2001:db8:1::10";

std::vector<std::string>
lines_with(const std::string& text, const std::string& needle)
{
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) {
      out.push_back(line);
    }
  }
  return out;
}

struct Host {
  test::TempDir dir;
  NamedNetns client;
  std::unique_ptr<test::TcpServer> web;
  std::unique_ptr<test::TcpServer> ssh;
  std::unique_ptr<test::TcpServer> web6;

  Host()
  {
    const std::string v4 = dir / "mirror/ipblocks/data/countries";
    const std::string v6 = dir / "mirror/ipv6/ipaddresses/blocks";
    std::filesystem::create_directories(v4);
    std::filesystem::create_directories(v6);
    std::ofstream(v4 + "/cn.zone") << "198.51.100.0/25\n";
    std::ofstream(v6 + "/cn.zone") << "2001:db8:1::/48\n";
    test::link_veth(
        nullptr, "gbh", {std::string(k_host) + "/24", std::string(k_host6) + "/32"}, &client, "gbc",
        {std::string(k_listed) + "/24", std::string(k_unlisted) + "/24", std::string(k_listed6) + "/32"});
    web = std::make_unique<test::TcpServer>(nullptr, "0.0.0.0", 80);
    ssh = std::make_unique<test::TcpServer>(nullptr, "0.0.0.0", 22);
    web6 = std::make_unique<test::TcpServer>(nullptr, "::", 80);
  }

  std::string config(const std::string& extra)
  {
    return dir.write("geoblock.conf", "countries = cn\nbase-url = file://" + dir / "mirror" +
                                          "\ncache-dir = " + dir / "cache" +
                                          "\nstate-dir = " + dir / "state" + "\nlock-file = " + dir / "lock" +
                                          "\nlock-wait = 1\n" + extra);
  }

  // update, then status must say "in sync".
  void update(const std::string& extra)
  {
    const std::string conf = config(extra);
    const auto r = geoblock::test::run_geoblock({"update", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << extra << "\n" << r.err;
    const auto st = geoblock::test::run_geoblock({"status", "--config", conf});
    EXPECT_EQ(st.exit_code, 0) << extra << "\n" << st.out << st.err;
    EXPECT_NE(st.out.find("live firewall: in sync"), std::string::npos) << extra << "\n" << st.out;
  }

  bool blocked(const char* from, int port = 80) const
  {
    return !test::tcp_connect(&client, from, k_host, port, std::chrono::milliseconds(500));
  }
  bool reachable(const char* from, int port = 80) const
  {
    return test::eventually_connects(&client, from, k_host, port);
  }
};

// True when the first rule of `chain` in `save` is geoblock's.
bool
first_is_ours(const std::string& save, const std::string& chain)
{
  const auto rules = lines_with(save, "-A " + chain + " ");
  return !rules.empty() && rules.front().find("--comment geoblock") != std::string::npos;
}

std::string
sets()
{
  return test::run_checked({"ipset", "list", "-n"});
}

TEST(Converge, DriftIsReportedWithExitFiveAndRepairedByTheNextUpdate)
{
  GEOBLOCK_REQUIRE_NETNS();
  test::in_fresh_netns([] {
    Host h;
    h.update("chain = INPUT\n");
    const std::string conf = h.config("chain = INPUT\n");
    // A hand-made duplicate below a foreign ACCEPT, then the rule above it
    // deleted by hand.
    const std::string rule =
        "! -i lo -m set --match-set geoblock-v4 src -m comment --comment geoblock -j DROP";
    test::run_checked({"iptables", "-w", "-A", "INPUT", "-s", "203.0.113.0/24", "-j", "ACCEPT"});
    test::run_checked({"sh", "-c", "iptables -w -A INPUT " + rule});
    auto st = geoblock::test::run_geoblock({"status", "--config", conf});
    EXPECT_EQ(st.exit_code, 5) << st.out << st.err;
    EXPECT_NE(st.out.find("duplicate rule in INPUT (IPv4): in != lo, src in @geoblock-v4: drop"),
              std::string::npos)
        << st.out;
    // update keeps the top one and removes the lower copy: [geoblock, ACCEPT].
    ASSERT_EQ(geoblock::test::run_geoblock({"update", "--config", conf}).exit_code, 0);
    auto input = lines_with(test::saved_rules({"iptables-save"}), "-A INPUT ");
    EXPECT_EQ(input, (std::vector<std::string>{"-A INPUT " + rule, "-A INPUT -s 203.0.113.0/24 -j ACCEPT"}));

    test::run_checked({"iptables", "-w", "-D", "INPUT", "1"});
    st = geoblock::test::run_geoblock({"status", "--json", "--config", conf});
    EXPECT_EQ(st.exit_code, 5);
    EXPECT_NE(st.out.find("\"in_sync\": false"), std::string::npos) << st.out;
    EXPECT_NE(st.out.find("rule missing in INPUT (IPv4)"), std::string::npos) << st.out;
    EXPECT_TRUE(h.reachable(k_listed));
    ASSERT_EQ(geoblock::test::run_geoblock({"update", "--config", conf}).exit_code, 0);
    input = lines_with(test::saved_rules({"iptables-save"}), "-A INPUT ");
    EXPECT_EQ(input, (std::vector<std::string>{"-A INPUT " + rule, "-A INPUT -s 203.0.113.0/24 -j ACCEPT"}));
    EXPECT_TRUE(h.blocked(k_listed));
    st = geoblock::test::run_geoblock({"status", "--json", "--config", conf});
    EXPECT_EQ(st.exit_code, 0) << st.out;
    EXPECT_NE(st.out.find("\"in_sync\": true"), std::string::npos) << st.out;
  });
}

TEST(Converge, TheLockCoversTheWholeRunFromTheFirstFetch)
{
  GEOBLOCK_REQUIRE_NETNS();
  test::in_fresh_netns([] {
    Host h;
    const std::string conf = h.config("");
    // Another run (here: this test) holds the lock: the second run must
    // not even fetch, and must change nothing.
    {
      util::FileLock held(h.dir / "lock", std::chrono::milliseconds(0));
      const auto r = geoblock::test::run_geoblock({"update", "--config", conf});
      EXPECT_EQ(r.exit_code, 1) << r.err;
      EXPECT_NE(r.err.find("another geoblock run holds"), std::string::npos) << r.err;
      EXPECT_FALSE(std::filesystem::exists(h.dir / "cache")) << "fetched before taking the lock";
      EXPECT_EQ(sets(), "");
    }
    ASSERT_EQ(geoblock::test::run_geoblock({"update", "--config", conf}).exit_code, 0);
  });
}

TEST(Converge, BaselineWithRuleShapesKeepsFail2banAndItsEditsAreDrift)
{
  GEOBLOCK_REQUIRE_NETNS();
  test::in_fresh_netns([] {
    Host h;
    // fail2ban's way: its own chain, a ban in it, a jump from INPUT.
    test::run_checked({"iptables", "-w", "-N", "f2b-web"});
    test::run_checked({"iptables", "-w", "-A", "f2b-web", "-s", "198.51.100.200/32", "-j", "DROP"});
    test::run_checked({"iptables", "-w", "-I", "INPUT", "1", "-p", "tcp", "--dport", "80", "-j", "f2b-web"});
    const std::string baseline =
        h.dir.write("rules.v4", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                                "-A INPUT -s 192.0.2.0/24 -j DROP\nCOMMIT\n");
    const std::string extra = "family = v4\nchain = INPUT\nports = tcp:22\nbaseline = " + baseline + "\n";
    h.update(extra);
    std::string v4 = test::saved_rules({"iptables-save"});
    EXPECT_TRUE(first_is_ours(v4, "INPUT")) << v4;
    EXPECT_EQ(lines_with(v4, "-A INPUT -s 192.0.2.0/24 -j DROP").size(), 1u) << v4;
    EXPECT_TRUE(h.blocked(k_listed, 22));
    EXPECT_TRUE(h.reachable(k_listed, 80));
    EXPECT_TRUE(h.blocked(k_unlisted, 80)); // fail2ban's ban survived the restore
    EXPECT_TRUE(h.reachable(k_unlisted, 22));

    // fail2ban bans more: not drift. A hand-made rule in the baselined
    // table: drift, and the next update restores the baseline.
    test::run_checked({"iptables", "-w", "-I", "f2b-web", "1", "-s", "198.51.100.201/32", "-j", "DROP"});
    const std::string conf = h.config(extra);
    auto st = geoblock::test::run_geoblock({"status", "--config", conf});
    EXPECT_EQ(st.exit_code, 0) << st.out << st.err;
    test::run_checked({"iptables", "-w", "-A", "INPUT", "-s", "203.0.113.0/24", "-j", "ACCEPT"});
    st = geoblock::test::run_geoblock({"status", "--config", conf});
    EXPECT_EQ(st.exit_code, 5) << st.out << st.err;
    EXPECT_NE(st.out.find("baseline " + baseline + ": the live IPv4 rules it manages were changed"),
              std::string::npos)
        << st.out;
    h.update(extra);
    v4 = test::saved_rules({"iptables-save"});
    EXPECT_TRUE(lines_with(v4, "203.0.113.0/24").empty()) << v4;
    EXPECT_EQ(lines_with(v4, "-A f2b-web -s 198.51.100.201/32 -j DROP").size(), 1u) << v4;

    // An edited baseline file is a difference too.
    std::ofstream(baseline, std::ios::trunc)
        << "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
           ":OUTPUT ACCEPT [0:0]\n-A INPUT -s 192.0.2.0/25 -j DROP\nCOMMIT\n";
    st = geoblock::test::run_geoblock({"status", "--config", conf});
    EXPECT_EQ(st.exit_code, 5) << st.out;
    EXPECT_NE(st.out.find("baseline " + baseline + ": changed since it was last applied"), std::string::npos)
        << st.out;
    h.update(extra);
    EXPECT_EQ(lines_with(test::saved_rules({"iptables-save"}), "-A INPUT -s 192.0.2.0/25 -j DROP").size(),
              1u);
  });
}

TEST(Converge, TwoConcurrentRunsDoNotInterleave)
{
  GEOBLOCK_REQUIRE_NETNS();
  test::in_fresh_netns([] {
    Host h;
    // cn trickles (about a second), ru answers at once. Run A (cn) starts
    // first; run B (ru) starts while A is downloading. Without the lock
    // around the whole run, B would fetch ru while A still fetches cn.
    test::FaultServer mirror([](const test::FaultRequest& r) {
      test::FaultReply reply;
      if (r.path.find("/ipblocks/data/countries/cn.zone") != std::string::npos) {
        reply.mode = test::FaultReply::Mode::Trickle;
        reply.body = "198.51.100.0/25\n";
        reply.interval = std::chrono::milliseconds(60);
      } else if (r.path.find("/ipblocks/data/countries/ru.zone") != std::string::npos) {
        reply.body = "203.0.113.0/24\n";
      } else {
        reply.status = 404;
      }
      return reply;
    });
    const std::string base =
        "base-url = " + mirror.base_url() + "\nfamily = v4\nlock-wait = 60\nretries = 0\n";
    const std::string conf_a = h.dir.write("a.conf", "countries = cn\ncache-dir = " + h.dir / "cache" +
                                                         "\nstate-dir = " + h.dir / "state" +
                                                         "\nlock-file = " + h.dir / "lock\n" + base);
    const std::string conf_b = h.dir.write("b.conf", "countries = ru\ncache-dir = " + h.dir / "cache" +
                                                         "\nstate-dir = " + h.dir / "state" +
                                                         "\nlock-file = " + h.dir / "lock\n" + base);
    util::RunResult a;
    std::thread run_a([&] { a = geoblock::test::run_geoblock({"update", "--config", conf_a}); });
    // B starts once A's download is under way (bounded wait).
    for (int i = 0; i < 500 && mirror.hits("/ipblocks/data/countries/cn.zone") == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(mirror.hits("/ipblocks/data/countries/cn.zone"), 1) << "run A never fetched";
    const util::RunResult b = geoblock::test::run_geoblock({"update", "--config", conf_b});
    run_a.join();
    EXPECT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(b.exit_code, 0) << b.err;
    // Every request of A came before the first of B.
    const auto requests = mirror.requests();
    std::size_t last_a = 0;
    std::size_t first_b = requests.size();
    for (std::size_t i = 0; i < requests.size(); ++i) {
      if (requests[i].path.find("cn.zone") != std::string::npos) {
        last_a = i;
      }
      if (requests[i].path.find("ru.zone") != std::string::npos && first_b == requests.size()) {
        first_b = i;
      }
    }
    ASSERT_LT(first_b, requests.size()) << "run B never fetched";
    EXPECT_LT(last_a, first_b);
    // B ran last: the firewall holds what B's configuration asks for.
    EXPECT_NE(test::run_checked({"ipset", "list", "geoblock-v4"}).find("203.0.113.0/24"), std::string::npos);
  });
}

} // namespace
