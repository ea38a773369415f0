// The apply::Backend contract against the kernel, for every backend (TEST_P
// over k_factories): what apply() leaves is what read() reports and what
// packets meet, repeated applies change nothing, forwarded traffic is
// caught where the chain says, a swap of the data lets no blocked
// connection through, remove() takes everything away. The command-level
// behaviour (configurations, status, drift, restore, switching) is in
// tests/cli/backend_suite_test.cpp; what is one backend's own (ipset's
// swap, iptables' rule text, nf_tables' transaction) stays in that
// backend's tests.
#include "apply/backend.hpp"
#include "apply/nft_backend.hpp"
#include "core/error.hpp"
#include "net/aggregate.hpp"
#include "support/netns.hpp"
#include "util/subprocess.hpp"

#include "apply_test_util.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <memory>

namespace geoblock::test {
namespace {

using namespace geoblock::apply;

struct Factory {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};

void
PrintTo(const Factory& f, std::ostream* os)
{
  *os << f.name;
}

// Every backend the suite runs against.
const std::vector<Factory> k_factories = {{"iptables", make_iptables_backend},
                                          {"nftables", make_nftables_backend}};

class BackendBehaviour : public ::testing::TestWithParam<Factory> {};

TEST_P(BackendBehaviour, WhatApplyLeavesIsWhatReadReportsWithExactlyTheGivenMembers)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    const auto backend = GetParam().make();
    TempDir dir;
    const ApplyOptions o = options_in(dir);
    const net::NetList first = nets({"198.51.100.0/24", "203.0.113.0/25", "2001:db8::/32"});
    const ApplyReport r1 = backend->apply(first, o);
    EXPECT_FALSE(r1.v4.existed);
    EXPECT_EQ(r1.v4.entries, 2u);
    EXPECT_EQ(r1.v6.entries, 1u);
    EXPECT_FALSE(r1.changes.empty());

    // Entries that left the list are gone after the next run, new ones are in.
    const net::NetList second = nets({"203.0.113.0/24", "192.0.2.7", "2001:db8:5::/48"});
    const ApplyReport r2 = backend->apply(second, o);
    EXPECT_TRUE(r2.v4.existed);
    EXPECT_EQ(r2.v4.previous_entries, 2u);
    const LiveState live = backend->read(o, true);
    const SetState* v4 = live.state.set("geoblock-v4");
    ASSERT_NE(v4, nullptr);
    EXPECT_EQ(sorted(v4->members.v4), second.v4);
    EXPECT_EQ(v4->entries, second.v4.size());
    ASSERT_NE(live.state.set("geoblock-v6"), nullptr);
    EXPECT_EQ(sorted(live.state.set("geoblock-v6")->members.v6), second.v6);
    const ChainState* raw = live.state.chain(net::Family::V4, "raw", "PREROUTING");
    ASSERT_NE(raw, nullptr);
    EXPECT_EQ(raw->rules.size(), 1u);
    EXPECT_TRUE(describe(diff(desired_state(second, o), live.state)).empty());
    EXPECT_TRUE(describe(diff(desired_state(second, o), r2.live)).empty());
  });
}

TEST_P(BackendBehaviour, RepeatedAppliesKeepExactlyOneRulePerFamilyAndChain)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    const auto backend = GetParam().make();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.chains = {parse_hook("raw:PREROUTING"), parse_hook("INPUT"), parse_hook("FORWARD")};
    for (int i = 0; i < 3; ++i) {
      const ApplyReport r = backend->apply(blocklist(), o);
      EXPECT_EQ(r.changes.empty(), i > 0) << i;
    }
    const LiveState live = backend->read(o, false);
    for (const net::Family f : {net::Family::V4, net::Family::V6}) {
      for (const char* chain : {"raw:PREROUTING", "INPUT", "FORWARD"}) {
        const Hook h = parse_hook(chain);
        const ChainState* c = live.state.chain(f, h.table, h.chain);
        ASSERT_NE(c, nullptr) << chain;
        EXPECT_EQ(c->rules.size(), 1u) << chain << " " << net::family_name(f);
      }
    }
  });
}

TEST_P(BackendBehaviour, BlocksPacketsFromListedNetworksThroughInput)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    InputLayout net;
    TcpServer s4(nullptr, "0.0.0.0", 80);
    TcpServer s6(nullptr, "::", 80);
    // Before: everyone gets through.
    EXPECT_TRUE(eventually_connects(&net.client, k_blocked4, "198.51.100.1", 80));
    EXPECT_TRUE(eventually_connects(&net.client, k_blocked6, "2001:db8:1::1", 80));

    const auto backend = GetParam().make();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.chains = {parse_hook("INPUT")};
    backend->apply(blocklist(), o);
    EXPECT_FALSE(tcp_connect(&net.client, k_blocked4, "198.51.100.1", 80, std::chrono::milliseconds(500)));
    EXPECT_TRUE(eventually_connects(&net.client, k_allowed4, "198.51.100.1", 80));
    EXPECT_FALSE(tcp_connect(&net.client, k_blocked6, "2001:db8:1::1", 80, std::chrono::milliseconds(500)));
    EXPECT_TRUE(eventually_connects(&net.client, k_allowed6, "2001:db8:1::1", 80));
    // remove: everything of geoblock's goes, and with it the block.
    backend->remove(o);
    const LiveState after = backend->read(o, false);
    EXPECT_TRUE(after.state.sets.empty());
    EXPECT_TRUE(after.state.chains.empty());
    EXPECT_TRUE(eventually_connects(&net.client, k_blocked4, "198.51.100.1", 80));
  });
}

// The seed's port-forwarding layout: client -> gateway (this namespace,
// DNAT 7070 -> web:80) -> web server namespace.
struct ForwardLayout {
  NamedNetns client;
  NamedNetns web;
  ForwardLayout()
  {
    link_veth(nullptr, "gb-out", {"198.51.100.1/24", "2001:db8:1::1/64"}, &client, "gb-c",
              {"198.51.100.10/24", "198.51.100.200/24", "2001:db8:1::10/64", "2001:db8:1::200/64"});
    link_veth(nullptr, "gb-in", {"203.0.113.1/24", "2001:db8:2::1/64"}, &web, "gb-w",
              {"203.0.113.2/24", "2001:db8:2::2/64"});
    web.exec({"ip", "-4", "route", "add", "default", "via", "203.0.113.1"});
    web.exec({"ip", "-6", "route", "add", "default", "via", "2001:db8:2::1"});
    run_checked({"sysctl", "-q", "-w", "net.ipv4.ip_forward=1"});
    run_checked({"sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"});
    run_checked({"iptables", "-w", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "7070", "-j",
                 "DNAT", "--to-destination", "203.0.113.2:80"});
    run_checked({"ip6tables", "-w", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "7070", "-j",
                 "DNAT", "--to-destination", "[2001:db8:2::2]:80"});
  }
};

TEST_P(BackendBehaviour, BlocksPortForwardedPacketsThroughForwardAndRawPrerouting)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    ForwardLayout net;
    TcpServer s4(&net.web, "0.0.0.0", 80);
    TcpServer s6(&net.web, "::", 80);
    EXPECT_TRUE(eventually_connects(&net.client, k_blocked4, "198.51.100.1", 7070));
    EXPECT_TRUE(eventually_connects(&net.client, k_blocked6, "2001:db8:1::1", 7070));

    const auto backend = GetParam().make();
    TempDir dir;
    for (const char* chain : {"FORWARD", "raw:PREROUTING", "mangle:PREROUTING"}) {
      SCOPED_TRACE(chain);
      ApplyOptions o = options_in(dir);
      o.chains = {parse_hook(chain)};
      backend->apply(blocklist(), o);
      EXPECT_FALSE(
          tcp_connect(&net.client, k_blocked4, "198.51.100.1", 7070, std::chrono::milliseconds(500)));
      EXPECT_TRUE(eventually_connects(&net.client, k_allowed4, "198.51.100.1", 7070));
      EXPECT_FALSE(
          tcp_connect(&net.client, k_blocked6, "2001:db8:1::1", 7070, std::chrono::milliseconds(500)));
      EXPECT_TRUE(eventually_connects(&net.client, k_allowed6, "2001:db8:1::1", 7070));
      backend->remove(o);
      EXPECT_TRUE(eventually_connects(&net.client, k_blocked4, "198.51.100.1", 7070));
    }
  });
}

TEST_P(BackendBehaviour, InputAloneMissesPortForwardedTraffic)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    ForwardLayout net;
    TcpServer s4(&net.web, "0.0.0.0", 80);
    const auto backend = GetParam().make();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.chains = {parse_hook("INPUT")};
    backend->apply(blocklist(), o);
    // Why the default is raw:PREROUTING: a rule in INPUT never sees it.
    EXPECT_TRUE(eventually_connects(&net.client, k_blocked4, "198.51.100.1", 7070));
  });
}

TEST_P(BackendBehaviour, NoBlockedConnectionGetsThroughWhileTheDataChanges)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    InputLayout net;
    TcpServer s4(nullptr, "0.0.0.0", 80);
    const auto backend = GetParam().make();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.chains = {parse_hook("INPUT")};
    const auto [a, b] = prober_lists(20000);
    backend->apply(a, o);
    ASSERT_TRUE(eventually_connects(&net.client, k_allowed4, "198.51.100.1", 80));
    Prober blocked(&net.client, k_blocked4, "198.51.100.1", 80, std::chrono::milliseconds(100));
    // 3 s lets TCP retransmit a SYN once: on a loaded 2-core machine a
    // packet can be late for reasons that have nothing to do with sets.
    Prober allowed(&net.client, k_allowed4, "198.51.100.1", 80, std::chrono::milliseconds(3000));
    for (int i = 0; i < 20; ++i) {
      backend->apply(i % 2 == 0 ? b : a, o);
    }
    const auto nb = blocked.stop();
    const auto na = allowed.stop();
    std::printf("%s prober: blocked source %d refused / %d through; allowed source %d through / %d refused\n",
                GetParam().name.c_str(), nb.failed, nb.connected, na.connected, na.failed);
    EXPECT_EQ(nb.connected, 0);
    EXPECT_GT(nb.failed, 0);
    EXPECT_EQ(na.failed, 0);
    EXPECT_GT(na.connected, 0);
  });
}

TEST_P(BackendBehaviour, AllowOnlyAcceptsListedCountriesAllowlistAndRepliesAndDropsTheRest)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    NamedNetns client;
    link_veth(nullptr, "gb-h", {"198.51.100.1/24"}, &client, "gb-c",
              {"198.51.100.10/24", "198.51.100.50/24", "198.51.100.200/24"});
    TcpServer server(nullptr, "0.0.0.0", 80);
    TcpServer client_server(&client, "0.0.0.0", 8080);
    ASSERT_TRUE(eventually_connects(&client, "198.51.100.200", "198.51.100.1", 80));
    const auto backend = GetParam().make();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.families = net::Families::V4;
    o.policy = Policy::AllowOnly;
    o.chains = {parse_hook("raw:PREROUTING")};
    EXPECT_THROW(backend->apply(nets({"198.51.100.0/28"}), o), ConfigError); // raw has no conntrack
    o.chains = {};
    o.allowlist = nets({"198.51.100.50"});
    EXPECT_FALSE(backend->apply(nets({"198.51.100.0/28"}), o).changes.empty());
    EXPECT_TRUE(backend->apply(nets({"198.51.100.0/28"}), o).changes.empty());
    EXPECT_TRUE(eventually_connects(&client, "198.51.100.10", "198.51.100.1", 80)); // listed country
    EXPECT_TRUE(eventually_connects(&client, "198.51.100.50", "198.51.100.1", 80)); // allowlist
    EXPECT_FALSE(tcp_connect(&client, "198.51.100.200", "198.51.100.1", 80, std::chrono::milliseconds(500)));
    // Replies to the host's own connections still come back.
    EXPECT_TRUE(eventually_connects(nullptr, "198.51.100.1", "198.51.100.200", 8080));
    EXPECT_TRUE(eventually_connects(nullptr, "127.0.0.1", "127.0.0.1", 80));
  });
}

// What is not geoblock's, in either firewall: iptables rules and an ipset
// set of another program, a native nftables table (the host's) and
// fail2ban's. Whatever the backend, apply and remove leave them exactly as
// they were.
TEST_P(BackendBehaviour, ForeignStateInEitherFirewallIsUntouchedByApplyAndRemove)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    run_checked({"ipset", "create", "other", "hash:ip"});
    run_checked({"iptables", "-w", "-A", "INPUT", "-m", "set", "--match-set", "other", "src", "-j", "DROP"});
    run_checked({"iptables", "-w", "-t", "raw", "-A", "PREROUTING", "-s", "192.0.2.1", "-j", "DROP"});
    run_checked({"ip6tables", "-w", "-A", "INPUT", "-s", "2001:db8::1", "-j", "DROP"});
    run_checked({"nft", "-f", "-"},
                "table inet filter {\n chain input {\n type filter hook input priority 0;\n"
                "  ip saddr 192.0.2.2 drop\n }\n}\n"
                "table inet f2b-table {\n set addr-set-sshd {\n type ipv4_addr;\n"
                "  elements = { 198.51.100.77 }\n }\n}\n");
    const auto foreign = [] {
      return saved_rules({"iptables-save"}) + saved_rules({"ip6tables-save"}) +
             run_checked({"ipset", "list", "other"}) +
             run_checked({"nft", "list", "table", "inet", "filter"}) +
             run_checked({"nft", "list", "table", "inet", "f2b-table"});
    };
    const std::string before = foreign();
    const auto backend = GetParam().make();
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.chains = {parse_hook("INPUT")};
    backend->apply(blocklist(), o);
    const std::string nft_during = run_checked({"nft", "list", "table", "inet", "filter"}) +
                                   run_checked({"nft", "list", "table", "inet", "f2b-table"});
    EXPECT_NE(before.find(nft_during), std::string::npos) << nft_during;
    backend->remove(o);
    EXPECT_EQ(foreign(), before);
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendBehaviour, ::testing::ValuesIn(k_factories),
                         [](const ::testing::TestParamInfo<Factory>& param) { return param.param.name; });

} // namespace
} // namespace geoblock::test
