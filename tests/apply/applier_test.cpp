// The iptables backend's own update cycle against the real kernel (ipset's
// temporary sets and swap, a witness rule counting wrong matches during a
// swap, DOCKER-USER): every test runs in network namespaces of its own
// (real ipset, real iptables, real packets) and never touches the host's
// firewall. What every backend must do (apply, read back, block through
// each chain, forwarded traffic, remove) is in backend_behaviour_test.cpp.
#include "apply/applier.hpp"
#include "core/error.hpp"
#include "net/aggregate.hpp"
#include "net/zone.hpp"
#include "support/netns.hpp"
#include "util/lock.hpp"
#include "util/subprocess.hpp"

#include "apply_test_util.hpp"
#include <algorithm>
#include <csignal>
#include <cstdlib>

#include <fstream>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace geoblock;
using namespace geoblock::apply;
using namespace geoblock::test;

TEST(Applier, CreatesThenSwapsSetsWithExactlyTheGivenMembers)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    const ApplyOptions o = options_in(dir);
    const net::NetList first = nets({"198.51.100.0/24", "203.0.113.0/25", "2001:db8::/32"});
    const ApplyReport r1 = iptables().apply(first, o);
    EXPECT_FALSE(r1.v4.existed);
    EXPECT_EQ(r1.v4.entries, 2u);
    EXPECT_EQ(r1.v6.entries, 1u);
    EXPECT_EQ(members("geoblock-v4").v4, first.v4);
    EXPECT_EQ(members("geoblock-v6").v6, first.v6);

    // Entries that left the list are gone after the next run, new ones are in.
    const net::NetList second = nets({"203.0.113.0/24", "192.0.2.7", "2001:db8:5::/48"});
    const ApplyReport r2 = iptables().apply(second, o);
    EXPECT_TRUE(r2.v4.existed);
    EXPECT_EQ(r2.v4.previous_entries, 2u);
    EXPECT_EQ(members("geoblock-v4").v4, second.v4);
    EXPECT_EQ(members("geoblock-v6").v6, second.v6);
    EXPECT_FALSE(set_exists("geoblock-v4-new"));
    EXPECT_FALSE(set_exists("geoblock-v6-new"));

    const LiveState live = iptables().read(o, true);
    const SetState* v4 = live.state.set("geoblock-v4");
    ASSERT_NE(v4, nullptr);
    EXPECT_EQ(v4->entries, second.v4.size());
    EXPECT_EQ(v4->references, 1u); // the rule
    ASSERT_NE(live.state.set("geoblock-v6"), nullptr);
    EXPECT_EQ(live.state.set("geoblock-v6")->members.v6, second.v6);
    const ChainState* raw = live.state.chain(net::Family::V4, "raw", "PREROUTING");
    ASSERT_NE(raw, nullptr);
    EXPECT_EQ(raw->rules.size(), 1u);
    EXPECT_EQ(raw->positions, std::vector<std::size_t>{0});
    EXPECT_TRUE(apply::diff(desired_state(second, o), live.state).empty());
  });
}

TEST(Applier, NoBlockedConnectionGetsThroughWhileSetsAreSwapped)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    InputLayout net;
    TcpServer s4(nullptr, "0.0.0.0", 80);
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.chains = {parse_hook("INPUT")};
    const auto [a, b] = prober_lists(20000);
    iptables().apply(a, o);
    // A witness ahead of the DROP rule: counts packets from the allowed
    // address that the live set would match. A wrong match during a swap
    // shows up here even if TCP's retransmission hides it from the prober.
    run_checked({"iptables", "-w", "-t", "raw", "-A", "PREROUTING", "-s", k_allowed4, "-m", "set",
                 "--match-set", "geoblock-v4", "src"});
    ASSERT_TRUE(eventually_connects(&net.client, k_allowed4, "198.51.100.1", 80));
    geoblock::test::Prober blocked(&net.client, k_blocked4, "198.51.100.1", 80,
                                   std::chrono::milliseconds(100));
    // 3 s lets TCP retransmit a SYN once: on a loaded 2-core machine a
    // packet can be late for reasons that have nothing to do with sets.
    geoblock::test::Prober allowed(&net.client, k_allowed4, "198.51.100.1", 80,
                                   std::chrono::milliseconds(3000));
    for (int i = 0; i < 20; ++i) {
      iptables().apply(i % 2 == 0 ? b : a, o);
    }
    const auto nb = blocked.stop();
    const auto na = allowed.stop();
    std::printf("prober: blocked source %d refused / %d through; allowed source %d through / %d refused\n",
                nb.failed, nb.connected, na.connected, na.failed);
    EXPECT_EQ(nb.connected, 0);
    EXPECT_GT(nb.failed, 0);
    EXPECT_EQ(na.failed, 0);
    const std::string counters =
        run_checked({"iptables", "-w", "-t", "raw", "-L", "PREROUTING", "-v", "-x", "-n"});
    const auto witness = counters.find(k_allowed4);
    ASSERT_NE(witness, std::string::npos) << counters;
    const auto line_start = counters.rfind('\n', witness) + 1;
    EXPECT_EQ(std::strtol(counters.c_str() + line_start, nullptr, 10), 0) << counters;
    EXPECT_GT(na.connected, 0);
  });
}

TEST(Applier, WarnsWhenDockerUserExistsButForwardedTrafficIsNotCovered)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.families = net::Families::V4;
    o.chains = {parse_hook("DOCKER-USER")};
    // No Docker yet: geoblock creates the chain with its rule, and no jump.
    iptables().apply(blocklist(), o);
    EXPECT_NE(run_checked({"iptables-save"}).find(":DOCKER-USER - [0:0]"), std::string::npos);
    EXPECT_EQ(run_checked({"iptables-save"}).find("-j DOCKER-USER"), std::string::npos);
    run_checked({"iptables", "-w", "-A", "FORWARD", "-j", "DOCKER-USER"}); // Docker starts
    o.chains = {parse_hook("INPUT")};
    const ApplyReport r = iptables().apply(blocklist(), o);
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_NE(r.warnings[0].find("chain DOCKER-USER exists"), std::string::npos) << r.warnings[0];
    o.chains = {parse_hook("INPUT"), parse_hook("DOCKER-USER")};
    EXPECT_TRUE(iptables().apply(blocklist(), o).warnings.empty());
    EXPECT_NE(
        run_checked({"iptables-save"})
            .find("-A DOCKER-USER -m set --match-set geoblock-v4 src -m comment --comment geoblock -j DROP"),
        std::string::npos);
    EXPECT_TRUE(iptables().read(o, false).warnings.empty());
  });
}
