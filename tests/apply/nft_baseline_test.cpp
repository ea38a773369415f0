// The nftables backend's baseline (docs/nftables.md, "Baseline"): an nft
// ruleset file loaded in the same transaction as geoblock's set updates.
// Every test runs in network namespaces of its own.
#include "apply/backend.hpp"
#include "apply/nft_backend.hpp"
#include "apply/nft_text.hpp"
#include "core/error.hpp"
#include "support/netns.hpp"
#include "util/atomic_file.hpp"

#include "apply_test_util.hpp"
#include <chrono>
#include <csignal>
#include <cstdio>
#include <gtest/gtest.h>

using namespace geoblock;
using namespace geoblock::apply;
using namespace geoblock::test;
using std::chrono::milliseconds;

namespace {

// fail2ban's table with bans (one of them the client's allowed IPv4
// address, for port 22), and Docker's NAT state (iptables-nft style:
// an `ip nat` table holding DOCKER chains).
void
load_foreign_state()
{
  nft_load("table inet f2b-table {\n"
           "  set addr-set-sshd { type ipv4_addr; elements = { 192.0.2.99, 198.51.100.200 }; }\n"
           "  chain f2b-chain { type filter hook input priority filter - 1; policy accept;\n"
           "    tcp dport 22 ip saddr @addr-set-sshd reject\n"
           "  }\n"
           "}\n"
           "table ip nat {\n"
           "  chain DOCKER {\n    iifname \"docker0\" counter return\n  }\n"
           "  chain PREROUTING { type nat hook prerouting priority dstnat; policy accept;\n"
           "    fib daddr type local counter jump DOCKER\n"
           "  }\n"
           "}\n"
           "table ip stale {\n  chain c {\n    counter\n  }\n}\n");
}

std::string
foreign_snapshot()
{
  return nft_list({"table", "inet", "f2b-table"}) + nft_list({"table", "ip", "nat"});
}

// An admin's ruleset: flush everything, then an input chain that refuses
// port 81 (and `extra` rules).
std::string
baseline_text(const std::string& extra = {})
{
  return "#!/usr/sbin/nft -f\n"
         "flush ruleset\n"
         "table inet filter {\n"
         "  chain input {\n"
         "    type filter hook input priority filter; policy accept;\n"
         "    tcp dport 81 reject\n" +
         extra +
         "  }\n"
         "}\n";
}

} // namespace

TEST(NftText, FlushRulesetBecomesDeletesOnTheSameLine)
{
  const std::vector<nft::Table> live = {{nft::Family::Inet, "filter"},
                                        {nft::Family::Inet, "f2b-table"},
                                        {nft::Family::Ip, "nat"},
                                        {nft::Family::Inet, "geoblock"}};
  const auto spare = [](const nft::Table& t) { return t.name == "f2b-table" || t.name == "geoblock"; };
  EXPECT_EQ(
      nft::rewrite_flush_ruleset("# x\n  flush ruleset ;  # all\ntable inet filter {\n}\n", live, spare, "b"),
      "# x\ndelete table inet filter; delete table ip nat\ntable inet filter {\n}\n");
  EXPECT_EQ(nft::rewrite_flush_ruleset("flush ruleset ip\n", live, spare, "b"), "delete table ip nat\n");
  EXPECT_EQ(nft::rewrite_flush_ruleset("flush ruleset arp\nflush set inet filter s", live, spare, "b"),
            "# flush ruleset: nothing to delete\nflush set inet filter s\n");
  // Anything the rewrite could not confine is refused, naming the line.
  for (const char* text : {"table ip t { }; flush ruleset\n", "\n  include \"/etc/x.nft\"\n"}) {
    try {
      nft::rewrite_flush_ruleset(text, live, spare, "baseline /b.nft");
      ADD_FAILURE() << text;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(
                    text[0] == '\n' ? "baseline /b.nft:2: include" : "baseline /b.nft:1: flush", 0),
                0u)
          << e.what();
    }
  }
  EXPECT_EQ(nft::rewrite_flush_ruleset("# include \"x\"; flush ruleset\n", live, spare, "b"),
            "# include \"x\"; flush ruleset\n");
  const auto declared =
      nft::declared_tables("table inet filter {\n}\nadd table ip6 t6; table nat {\n# table inet nope\n"
                           "  chain c { comment \"table x\"; }\n}\ntable inet filter { }\n");
  ASSERT_EQ(declared.size(), 3u);
  EXPECT_EQ(nft::family_name(declared[0].family) + " " + declared[0].name, "inet filter");
  EXPECT_EQ(nft::family_name(declared[1].family) + " " + declared[1].name, "ip6 t6");
  EXPECT_EQ(nft::family_name(declared[2].family) + " " + declared[2].name, "ip nat");
}

TEST(NftBaseline, FlushRulesetKeepsFail2banDockerAndTheBlockAndEnforcesBoth)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    NamedNetns client;
    link_veth(nullptr, "gb-h", {"198.51.100.1/24", "2001:db8:1::1/64"}, &client, "gb-c",
              {"198.51.100.10/24", "198.51.100.200/24", "2001:db8:1::10/64", "2001:db8:1::200/64"});
    TcpServer s80(nullptr, "0.0.0.0", 80);
    TcpServer s80v6(nullptr, "::", 80);
    TcpServer s81(nullptr, "0.0.0.0", 81);
    TcpServer s22(nullptr, "0.0.0.0", 22);
    EXPECT_TRUE(eventually_connects(&client, k_allowed4, k_host4, 81));
    EXPECT_TRUE(eventually_connects(&client, k_allowed4, k_host4, 22));
    load_foreign_state();
    EXPECT_TRUE(refused(&client, k_allowed4, k_host4, 22)); // fail2ban's ban
    const std::string foreign = foreign_snapshot();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.baseline = dir / "base.nft";
    util::write_file_atomic(o.baseline, baseline_text());
    auto backend = make_nftables_backend();
    const ApplyReport r = backend->apply(blocklist(), o);
    EXPECT_TRUE(r.v4.baseline_restored);
    EXPECT_TRUE(r.v6.baseline_restored);
    // The flush deleted the unkept table, kept fail2ban's ban and Docker's
    // NAT byte-identical, and the baseline's table is in.
    EXPECT_EQ(foreign_snapshot(), foreign);
    EXPECT_THROW(nft_list({"table", "ip", "stale"}), std::runtime_error);
    EXPECT_NE(nft_list({"table", "inet", "filter"}).find("tcp dport 81 reject"), std::string::npos);
    EXPECT_TRUE(backend->read(o, true).state.set("geoblock-v4") != nullptr);
    // All enforced: the baseline's reject, fail2ban's ban, and the block.
    EXPECT_TRUE(refused(&client, k_allowed4, k_host4, 81));
    EXPECT_TRUE(refused(&client, k_allowed4, k_host4, 22));
    EXPECT_TRUE(eventually_connects(&client, k_allowed4, k_host4, 80));
    EXPECT_TRUE(refused(&client, k_blocked4, k_host4, 80));
    EXPECT_TRUE(eventually_connects(&client, k_allowed6, k_host6, 80));
    EXPECT_TRUE(refused(&client, k_blocked6, k_host6, 80));
    // Applying again (same baseline, same list) changes nothing of theirs
    // and keeps the live state equal to the configuration.
    const std::string filter = nft_list({"table", "inet", "filter"});
    backend->apply(blocklist(), o);
    EXPECT_EQ(foreign_snapshot(), foreign);
    EXPECT_EQ(nft_list({"table", "inet", "filter"}), filter);
    EXPECT_TRUE(refused(&client, k_blocked4, k_host4, 80));
  });
}

TEST(NftBaseline, BaselineAndBlockChangeInOneTransaction)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    load_foreign_state();
    const std::string foreign = foreign_snapshot();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.baseline = dir / "base.nft";
    util::write_file_atomic(o.baseline, baseline_text());
    auto backend = make_nftables_backend();
    backend->apply(blocklist(), o);
    // New baseline and new list: right after the baseline's transaction
    // (before geoblock's own libnftnl one) both are already live.
    util::write_file_atomic(o.baseline, baseline_text("    tcp dport 82 reject\n"));
    const net::NetList next = nets({"198.51.100.0/24", "203.0.113.128/25", "2001:db8:1::/64"});
    bool seen = false;
    o.on_stage = [&](std::string_view stage) {
      if (stage != "baseline") {
        return;
      }
      seen = true;
      EXPECT_NE(nft_list({"table", "inet", "filter"}).find("tcp dport 82 reject"), std::string::npos);
      const std::string sets = nft_list({"set", "inet", "geoblock", "geoblock-v4"}) +
                               nft_list({"set", "inet", "geoblock", "geoblock-v6"});
      EXPECT_NE(sets.find("198.51.100.0/24"), std::string::npos) << sets;
      EXPECT_NE(sets.find("2001:db8:1::/64"), std::string::npos) << sets;
      EXPECT_EQ(sets.find("198.51.100.0/28"), std::string::npos) << sets;
    };
    const ApplyReport r = backend->apply(next, o);
    EXPECT_TRUE(seen);
    EXPECT_TRUE(r.v4.set_replaced);
    EXPECT_EQ(foreign_snapshot(), foreign);
    ApplyOptions plain = options_in(dir);
    const LiveState live = backend->read(plain, true);
    ASSERT_NE(live.state.set("geoblock-v4"), nullptr);
    EXPECT_EQ(live.state.set("geoblock-v4")->members.v4, next.v4);
    EXPECT_EQ(live.state.set("geoblock-v6")->members.v6, next.v6);
  });
}

TEST(NftBaseline, SyntaxErrorNamesFileAndLineAndChangesNothing)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    load_foreign_state();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    auto backend = make_nftables_backend();
    backend->apply(blocklist(), o); // geoblock's table, without a baseline
    const auto snapshot = [] {
      return foreign_snapshot() + nft_list({"table", "ip", "stale"}) +
             nft_list({"table", "inet", "geoblock"});
    };
    const std::string before = snapshot();
    o.baseline = dir / "base.nft";
    // Line 5: "polcy". The flush on line 2 and the set update after it
    // must not happen either.
    util::write_file_atomic(o.baseline,
                            "#!/usr/sbin/nft -f\nflush ruleset\ntable inet filter {\n"
                            "  chain input {\n    type filter hook input priority 0; polcy drop;\n"
                            "  }\n}\n");
    try {
      backend->apply(nets({"203.0.113.0/24", "2001:db8:1::/64"}), o);
      ADD_FAILURE() << "a baseline with a syntax error was applied";
    } catch (const RulesError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("baseline " + o.baseline + ":5: syntax error"), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
    EXPECT_EQ(snapshot(), before);
    EXPECT_THROW(nft_list({"table", "inet", "filter"}), std::runtime_error);
    // A refusal by the kernel (the kept table exists: `create` fails) after
    // the flush and a new table: the whole transaction is refused.
    util::write_file_atomic(o.baseline, "flush ruleset\ntable inet filter {\n"
                                        "  chain input { type filter hook input priority 0; }\n}\n"
                                        "create table inet f2b-table\n");
    try {
      backend->apply(nets({"203.0.113.0/24", "2001:db8:1::/64"}), o);
      ADD_FAILURE() << "a baseline the kernel refuses was applied";
    } catch (const RulesError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("baseline " + o.baseline + ":5: ", 0), 0u) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
    EXPECT_EQ(snapshot(), before);
    EXPECT_THROW(nft_list({"table", "inet", "filter"}), std::runtime_error);
    // A flush that could not be confined is refused up front.
    util::write_file_atomic(o.baseline, "table inet filter { }\ninclude \"/etc/nftables.conf\"\n");
    EXPECT_THROW(backend->apply(blocklist(), o), ConfigError);
    EXPECT_EQ(snapshot(), before);
    // A baseline that declares geoblock's own table is refused up front.
    util::write_file_atomic(o.baseline, "table inet geoblock {\n}\n");
    EXPECT_THROW(backend->apply(blocklist(), o), ConfigError);
    EXPECT_EQ(snapshot(), before);
  });
}

TEST(NftBaseline, ReadReportsDriftInWhatTheBaselineManages)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    load_foreign_state();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.baseline = dir / "base.nft";
    util::write_file_atomic(o.baseline, baseline_text("    counter accept\n"));
    auto backend = make_nftables_backend();
    const ApplyReport r = backend->apply(blocklist(), o);
    const std::string applied = r.live.baseline_digest[0];
    ASSERT_EQ(applied.size(), 64u);
    // Unchanged (counters counting, fail2ban banning) is no drift.
    tcp_connect(nullptr, "127.0.0.1", "127.0.0.1", 9, milliseconds(200));
    EXPECT_EQ(nft_list({"table", "inet", "filter"}).find("counter packets 0 "), std::string::npos);
    nft_load("add element inet f2b-table addr-set-sshd { 192.0.2.98 }\n");
    EXPECT_EQ(backend->read(o, false).state.baseline_digest[0], applied);
    // An edit to the baseline's table is.
    nft_load("add rule inet filter input tcp dport 83 drop\n");
    EXPECT_NE(backend->read(o, false).state.baseline_digest[0], applied);
    // The next apply restores it.
    EXPECT_EQ(backend->apply(blocklist(), o).live.baseline_digest[0], applied);
    EXPECT_EQ(nft_list({"table", "inet", "filter"}).find("dport 83"), std::string::npos);
    // Without a baseline there is no digest.
    EXPECT_EQ(backend->read(options_in(dir), false).state.baseline_digest[0], "");
  });
}

// Small changes go in as deltas of networks; adjacent networks (which
// share a key in the interval encoding) come and go exactly.
TEST(NftBaseline, AdjacentNetworksChangeExactlyThroughTheBaseline)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.baseline = dir / "base.nft";
    o.force = true;
    util::write_file_atomic(o.baseline, baseline_text());
    auto backend = make_nftables_backend();
    const std::vector<net::NetList> steps = {
        nets({"10.0.0.0/24", "10.0.1.0/24", "10.0.3.0/24", "10.0.9.0/24", "10.0.10.0/24", "10.0.12.0/24",
              "2001:db8::/48", "2001:db8:1::/48"}),
        nets({"10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24", "10.0.4.0/24", "10.0.9.0/24", "10.0.10.0/24",
              "10.0.12.0/24", "2001:db8:1::/48", "2001:db8:2::/48"}),
        nets({"10.0.0.0/24", "10.0.2.0/24", "10.0.3.0/24", "10.0.9.0/24", "10.0.10.0/24", "10.0.12.0/24",
              "2001:db8:1::/48", "2001:db8:2::/48"}),
        nets({"10.0.0.0/24", "10.0.1.0/24", "10.0.3.0/24", "10.0.9.0/24", "10.0.10.0/24", "10.0.12.0/24",
              "2001:db8::/48", "2001:db8:1::/48"})};
    // What the sets hold right after the baseline's transaction.
    FirewallState at_baseline;
    std::size_t step = 0;
    o.on_stage = [&](std::string_view stage) {
      if (stage == "baseline" && step > 0) {
        at_baseline = make_nftables_backend()->read(options_in(dir), true).state;
      }
    };
    for (std::size_t i = 0; i < steps.size(); ++i) {
      SCOPED_TRACE(i);
      step = i;
      backend->apply(steps[i], o);
      const LiveState live = backend->read(o, true);
      ASSERT_NE(live.state.set("geoblock-v4"), nullptr);
      EXPECT_EQ(live.state.set("geoblock-v4")->members.v4, steps[i].v4);
      EXPECT_EQ(live.state.set("geoblock-v6")->members.v6, steps[i].v6);
      if (i > 0) {
        // Already in by the baseline's transaction.
        ASSERT_NE(at_baseline.set("geoblock-v4"), nullptr);
        EXPECT_EQ(at_baseline.set("geoblock-v4")->members.v4, steps[i].v4);
        EXPECT_EQ(at_baseline.set("geoblock-v6")->members.v6, steps[i].v6);
      }
    }
  });
}

// Large sets (32,768 IPv4 and 10,000 IPv6 networks; docs/nftables.md has
// the figures at world size): the update rides in the baseline's transaction (nft's
// parser) and still reads back exactly. Prints the time of each apply.
TEST(NftBaseline, LargeSetsUpdateWithTheBaseline)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    load_foreign_state();
    const std::string foreign = foreign_snapshot();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.baseline = dir / "base.nft";
    o.force = true;
    util::write_file_atomic(o.baseline, baseline_text());
    auto backend = make_nftables_backend();
    const auto world = [](std::uint32_t salt) {
      net::NetList out;
      for (std::uint32_t i = 0; i < 32768; ++i) {
        out.v4.push_back(net::Prefix4{0x0a000000u + (i << 9) + ((salt & 1) << 8), 24});
      }
      for (std::uint32_t i = 0; i < 10000; ++i) {
        const net::u128 base = static_cast<net::u128>(0x20010db8u) << 96;
        out.v6.push_back(net::Prefix6{base | (static_cast<net::u128>(2 * i + (salt & 1)) << 80), 48});
      }
      return out;
    };
    auto start = std::chrono::steady_clock::now();
    o.on_stage = [&](std::string_view stage) {
      std::printf("  %-9s at %.2f s\n", std::string(stage).c_str(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    };
    // Load; a daily-sized change (300 networks move); all of it changes;
    // nothing changes.
    net::NetList daily = world(0);
    for (std::size_t i = 0; i < 300; ++i) {
      daily.v4[i * 100].addr += 256;
    }
    const std::vector<std::pair<const char*, net::NetList>> steps = {
        {"load", world(0)}, {"daily", daily}, {"all changed", world(1)}, {"unchanged", world(1)}};
    for (const auto& [what, list] : steps) {
      start = std::chrono::steady_clock::now();
      backend->apply(list, o);
      std::printf("large apply with a baseline (%s): %.2f s\n", what,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      const LiveState live = backend->read(o, true);
      ASSERT_NE(live.state.set("geoblock-v4"), nullptr);
      EXPECT_EQ(live.state.set("geoblock-v4")->members.v4, list.v4);
      EXPECT_EQ(live.state.set("geoblock-v6")->members.v6, list.v6);
    }
    EXPECT_EQ(foreign_snapshot(), foreign);
  });
}

// A prober streams connections from a blocked and an allowed source while
// the baseline (with its flush ruleset) and the list change 12 times and
// runs are killed at each stage: the block never lapses, the allowed
// source is never refused, fail2ban's table never changes.
TEST(NftBaseline, NoWrongOutcomeAcrossBaselineUpdatesAndKills)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    NamedNetns client;
    link_veth(nullptr, "gb-h", {"198.51.100.1/24"}, &client, "gb-c",
              {"198.51.100.10/24", "198.51.100.200/24"});
    TcpServer s4(nullptr, "0.0.0.0", 80);
    load_foreign_state();
    const std::string foreign = foreign_snapshot();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.families = net::Families::V4;
    o.chains = {parse_hook("INPUT")};
    o.baseline = dir / "base.nft";
    const auto [a, b] = prober_lists(8000);
    const std::string base_a = baseline_text();
    const std::string base_b = baseline_text("    tcp dport 82 reject\n");
    util::write_file_atomic(o.baseline, base_a);
    auto backend = make_nftables_backend();
    backend->apply(a, o);
    ASSERT_TRUE(eventually_connects(&client, k_allowed4, k_host4, 80));
    Prober blocked(&client, k_blocked4, k_host4, 80, milliseconds(100));
    Prober allowed(&client, k_allowed4, k_host4, 80, milliseconds(3000));
    for (int i = 0; i < 12; ++i) {
      util::write_file_atomic(o.baseline, i % 2 == 0 ? base_b : base_a);
      backend->apply(i % 2 == 0 ? b : a, o);
    }
    for (const char* at : {"checked", "baseline", "committed"}) {
      ApplyOptions k = o;
      const std::string stage = at;
      k.on_stage = [stage](std::string_view s) {
        if (s == stage) {
          std::raise(SIGKILL);
        }
      };
      util::write_file_atomic(o.baseline, base_b);
      const int rc = run_in(
          nullptr,
          [&] {
            make_nftables_backend()->apply(b, k);
            return 0;
          },
          std::chrono::seconds(60));
      EXPECT_EQ(rc, -1) << "the child should have been killed at " << stage;
      const auto live = backend->read(o, true).state;
      EXPECT_TRUE(live.set("geoblock-v4") && (live.set("geoblock-v4")->members.v4 == a.v4 ||
                                              live.set("geoblock-v4")->members.v4 == b.v4));
      util::write_file_atomic(o.baseline, base_a);
      backend->apply(a, o);
    }
    const auto nb = blocked.stop();
    const auto na = allowed.stop();
    std::printf("prober: blocked source %d refused / %d through; allowed source %d through / %d refused\n",
                nb.failed, nb.connected, na.connected, na.failed);
    EXPECT_EQ(nb.connected, 0);
    EXPECT_GT(nb.failed, 0);
    EXPECT_EQ(na.failed, 0);
    EXPECT_GT(na.connected, 0);
    EXPECT_EQ(foreign_snapshot(), foreign);
  });
}
