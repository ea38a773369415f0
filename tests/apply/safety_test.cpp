// Faults, refusals and coexistence with other tools, against the real
// kernel in private network namespaces.
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
#include <fstream>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

using namespace geoblock;
using namespace geoblock::apply;
using namespace geoblock::test;

namespace {

std::vector<net::Prefix4>
live_v4(const std::string& set = "geoblock-v4")
{
  return members(set).v4;
}

const net::NetList k_old = nets({"198.51.100.0/28", "203.0.113.0/24"});
const net::NetList k_new = nets({"198.51.100.0/27", "203.0.113.0/25"});

} // namespace

TEST(Faults, FailureBetweenFillAndSwapLeavesTheLiveSetIntact)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.families = net::Families::V4;
    iptables().apply(k_old, o);
    o.on_stage = [](std::string_view stage) {
      if (stage == "filled geoblock-v4-new") {
        throw Error("injected failure");
      }
    };
    EXPECT_THROW(iptables().apply(k_new, o), Error);
    EXPECT_EQ(live_v4(), k_old.v4);
    EXPECT_FALSE(set_exists("geoblock-v4-new"));
    o.on_stage = nullptr;
    iptables().apply(k_new, o);
    EXPECT_EQ(live_v4(), k_new.v4);
  });
}

TEST(Faults, ProcessKilledBetweenFillAndSwapIsRecoveredByTheNextRun)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.families = net::Families::V4;
    iptables().apply(k_old, o);
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid == 0) {
      o.on_stage = [](std::string_view stage) {
        if (stage == "filled geoblock-v4-new") {
          ::raise(SIGKILL);
        }
      };
      iptables().apply(k_new, o);
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    // The crash left a filled temporary set; the live one never changed.
    EXPECT_TRUE(set_exists("geoblock-v4-new"));
    EXPECT_EQ(live_v4(), k_old.v4);
    const LiveState state = iptables().read(o, false);
    EXPECT_EQ(state.leftover_temp, std::vector<std::string>{"geoblock-v4-new"});
    // The lock died with the process: the next run goes ahead and cleans up.
    iptables().apply(k_new, o);
    EXPECT_EQ(live_v4(), k_new.v4);
    EXPECT_FALSE(set_exists("geoblock-v4-new"));
  });
}

TEST(Faults, BaselineWithASyntaxErrorChangesNothingAndNamesTheLine)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.families = net::Families::V4;
    iptables().apply(k_old, o);
    run_checked({"iptables", "-w", "-A", "INPUT", "-s", "192.0.2.1", "-j", "DROP"});
    const std::string before = saved_rules({"iptables-save"});

    o.baseline =
        dir.write("bad-match.rules", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT "
                                     "[0:0]\n-A INPUT -p tcp -m nosuchmatch --dport 22 -j ACCEPT\nCOMMIT\n");
    try {
      iptables().apply(k_new, o);
      ADD_FAILURE() << "a broken baseline was accepted";
    } catch (const RulesError& e) {
      EXPECT_NE(std::string(e.what()).find("baseline " + o.baseline + ":5: iptables-restore --test refused"),
                std::string::npos)
          << e.what();
    }
    o.baseline = dir.write("bad-structure.rules", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n");
    try {
      iptables().apply(k_new, o);
      ADD_FAILURE() << "a baseline without COMMIT was accepted";
    } catch (const RulesError& e) {
      EXPECT_NE(std::string(e.what()).find(o.baseline + ":4:"), std::string::npos) << e.what();
    }
    EXPECT_EQ(live_v4(), k_old.v4);
    EXPECT_EQ(saved_rules({"iptables-save"}), before);
  });
}

TEST(Faults, MissingIptablesBinaryIsAClearErrorBeforeAnyChange)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.iptables = dir.path() + "/no-such/iptables";
    try {
      iptables().apply(k_old, o);
      ADD_FAILURE() << "no error";
    } catch (const RulesError& e) {
      EXPECT_EQ(std::string(e.what()),
                o.iptables + "-save not found: install the iptables package (needed for the IPv4 rule)");
    }
    EXPECT_FALSE(set_exists("geoblock-v4"));
    EXPECT_FALSE(set_exists("geoblock-v6"));
  });
}

TEST(Coexistence, Fail2banChainSurvivesABaselineRestoreAndStillDrops)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    NamedNetns client;
    geoblock::test::link_veth(nullptr, "gb-h", {"198.51.100.1/24"}, &client, "gb-c",
                              {"198.51.100.10/24", "198.51.100.77/24", "198.51.100.200/24"});
    TcpServer server(nullptr, "0.0.0.0", 80);
    ASSERT_TRUE(eventually_connects(&client, "198.51.100.77", "198.51.100.1", 80));
    // What fail2ban does: its own chain, a ban in it, a jump from INPUT.
    run_checked({"iptables", "-w", "-N", "f2b-http"});
    run_checked({"iptables", "-w", "-A", "f2b-http", "-s", "198.51.100.77/32", "-j", "DROP"});
    run_checked({"iptables", "-w", "-A", "f2b-http", "-j", "RETURN"});
    run_checked({"iptables", "-w", "-I", "INPUT", "1", "-p", "tcp", "--dport", "80", "-j", "f2b-http"});
    EXPECT_FALSE(tcp_connect(&client, "198.51.100.77", "198.51.100.1", 80, std::chrono::milliseconds(500)));

    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.families = net::Families::V4;
    o.chains = {parse_hook("raw:PREROUTING"), parse_hook("INPUT")};
    // The saved ruleset knows nothing of fail2ban.
    o.baseline =
        dir.write("iptables.BACKUP", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT "
                                     "[0:0]\n-A INPUT -s 192.0.2.0/24 -j DROP\nCOMMIT\n");
    const ApplyReport r = iptables().apply(nets({"198.51.100.0/28"}), o);
    EXPECT_TRUE(r.v4.baseline_restored);

    const std::string saved = run_checked({"iptables-save", "-t", "filter"});
    EXPECT_NE(saved.find("-A f2b-http -s 198.51.100.77/32 -j DROP"), std::string::npos) << saved;
    EXPECT_NE(saved.find("-A INPUT -p tcp -m tcp --dport 80 -j f2b-http"), std::string::npos) << saved;
    EXPECT_NE(saved.find("-A INPUT -s 192.0.2.0/24 -j DROP"), std::string::npos) << saved;
    EXPECT_FALSE(tcp_connect(&client, "198.51.100.77", "198.51.100.1", 80, std::chrono::milliseconds(500)));
    EXPECT_FALSE(tcp_connect(&client, "198.51.100.10", "198.51.100.1", 80, std::chrono::milliseconds(500)));
    EXPECT_TRUE(eventually_connects(&client, "198.51.100.200", "198.51.100.1", 80));

    // Applying again is idempotent: still one rule per hook, one jump.
    iptables().apply(nets({"198.51.100.0/28"}), o);
    const std::string again = run_checked({"iptables-save"});
    std::size_t rules = 0;
    for (std::size_t p = 0;
         (p = again.find("--match-set geoblock-v4 src -m comment --comment geoblock -j DROP", p)) !=
         std::string::npos;
         ++p) {
      ++rules;
    }
    EXPECT_EQ(rules, 2u) << again;
    EXPECT_EQ(again.find("-j f2b-http"), again.rfind("-j f2b-http")) << again;
  });
}

TEST(Safety, RefusesToBlockTheSshSessionsOwnAddressUnlessForced)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.ssh_connection = "198.51.100.5 50022 198.51.100.1 22";
    try {
      iptables().apply(k_old, o);
      ADD_FAILURE() << "no refusal";
    } catch (const SafetyError& e) {
      EXPECT_EQ(e.code(), ExitCode::Safety);
      EXPECT_STREQ(e.what(),
                   "refusing to apply: the SSH session's client address 198.51.100.5 would be blocked "
                   "(add it to the allowlist, or use --force)");
    }
    EXPECT_FALSE(set_exists("geoblock-v4"));
    // An address outside the list, or an IPv4-mapped one inside it.
    o.ssh_connection = "::ffff:198.51.100.5 50022 ::ffff:198.51.100.1 22";
    EXPECT_THROW(iptables().apply(k_old, o), SafetyError);
    o.ssh_connection = "192.0.2.1 50022 198.51.100.1 22";
    EXPECT_NO_THROW(iptables().apply(k_old, o));
    // Allow-only: the client must be in the allowed countries or allowlist.
    o.policy = Policy::AllowOnly;
    EXPECT_THROW(iptables().apply(k_old, o), SafetyError);
    o.allowlist = nets({"192.0.2.0/24"});
    EXPECT_NO_THROW(iptables().apply(k_old, o));
    o.allowlist = {};
    o.force = true;
    EXPECT_NO_THROW(iptables().apply(k_old, o));
  });
}

// max-shrink is no check of the sets (issue 18: removing a country shrank
// the set and was refused): each zone is compared with its last good copy
// before anything is planned (fetch/shrink_guard.hpp), so the applier
// applies a set of any size.
TEST(Safety, TheApplierAppliesASmallerSetMaxShrinkIsPerZoneBeforeIt)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.families = net::Families::V4;
    net::NetList big;
    for (std::uint32_t i = 0; i < 100; ++i) {
      big.v4.push_back(net::Prefix4{0x0a000000u + (i << 9), 24});
    }
    iptables().apply(big, o);
    net::NetList small;
    small.v4.assign(big.v4.begin(), big.v4.begin() + 1);
    EXPECT_NO_THROW(iptables().apply(small, o));
    EXPECT_EQ(live_v4().size(), 1u);
  });
}

TEST(Remove, DeletesGeoblockRulesAndSetsAndLeavesTheRestIntact)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.chains = {parse_hook("raw:PREROUTING"), parse_hook("INPUT")};
    run_checked({"ipset", "create", "other", "hash:ip"});
    run_checked({"iptables", "-w", "-A", "INPUT", "-m", "set", "--match-set", "other", "src", "-j", "DROP"});
    run_checked({"iptables", "-w", "-t", "raw", "-A", "PREROUTING", "-s", "192.0.2.1", "-j", "DROP"});
    run_checked({"ip6tables", "-w", "-A", "INPUT", "-s", "2001:db8::1", "-j", "DROP"});
    const std::string v4_before = run_checked({"iptables-save"});
    iptables().apply(k_old, o);
    const RemoveReport r = iptables().remove(o);
    EXPECT_EQ(r.rules_removed_v4, 2);
    // IPv6: the two jumps and, in raw and filter, geoblock-drop's five
    // neighbour discovery returns and its drop.
    EXPECT_EQ(r.rules_removed_v6, 2 + 2 * 6);
    EXPECT_EQ(r.sets_removed, (std::vector<std::string>{"geoblock-v4", "geoblock-v6"}));
    EXPECT_FALSE(set_exists("geoblock-v4"));
    EXPECT_FALSE(set_exists("geoblock-v6"));
    EXPECT_TRUE(set_exists("other"));
    const std::string v4_after = run_checked({"iptables-save"});
    EXPECT_EQ(v4_after.find("geoblock"), std::string::npos) << v4_after;
    EXPECT_NE(v4_after.find("-A INPUT -m set --match-set other src -j DROP"), std::string::npos);
    EXPECT_NE(v4_after.find("-A PREROUTING -s 192.0.2.1/32 -j DROP"), std::string::npos);
    EXPECT_NE(run_checked({"ip6tables-save"}).find("-A INPUT -s 2001:db8::1/128 -j DROP"), std::string::npos);
    // Removing again is not an error.
    const RemoveReport again = iptables().remove(o);
    EXPECT_TRUE(again.sets_removed.empty());
    EXPECT_EQ(again.rules_removed_v4, 0);
  });
}

TEST(Sizing, HalfAMillionEntriesFitBecauseMaxelemIsSizedFromTheList)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.families = net::Families::V4;
    net::NetList world;
    for (std::uint32_t i = 0; i < 500000; ++i) {
      world.v4.push_back(net::Prefix4{0x10000000u + (i << 1), 32}); // every other address: nothing merges
    }
    const ApplyReport r = iptables().apply(world, o);
    EXPECT_EQ(r.v4.entries, 500000u);
    const LiveState live = iptables().read(o, false);
    const SetState* set = live.state.set("geoblock-v4");
    ASSERT_NE(set, nullptr);
    EXPECT_EQ(set->entries, 500000u);
    EXPECT_GE(set->maxelem, 500000u);
    EXPECT_GT(set->maxelem, 65536u);
  });
}

TEST(Sizing, SlashZeroIsSplitIntoTwoHalves)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    const ApplyReport r = iptables().apply(nets({"0.0.0.0/0", "::/0"}), o);
    EXPECT_EQ(r.v4.entries, 2u);
    EXPECT_EQ(r.v6.entries, 2u);
    EXPECT_EQ(live_v4(), (std::vector<net::Prefix4>{{0u, 1}, {0x80000000u, 1}}));
  });
}

TEST(Lock, SecondRunWaitsThenExitsWithAClearMessageAndChangesNothing)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    ApplyOptions o = options_in(dir);
    o.lock_wait = std::chrono::milliseconds(400);
    util::FileLock held(o.lock_path, std::chrono::milliseconds(0));
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid == 0) {
      try {
        iptables().apply(k_old, o);
        ::_exit(1);
      } catch (const Error& e) {
        const std::string want =
            "another geoblock run holds the lock " + o.lock_path + "; gave up after waiting 0.4 s";
        ::_exit(e.what() == want ? 0 : 2);
      }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_FALSE(set_exists("geoblock-v4"));
  });
}

TEST(Faults, NoAccessToTheIpsetModuleIsAClearError)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    // Without CAP_NET_ADMIN the kernel refuses ipset's netlink messages just
    // as it does when the ip_set module is missing: the same one-line error.
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
        ::_exit(3);
      }
      try {
        IpsetSession session;
        ::_exit(1);
      } catch (const IpsetError& e) {
        std::printf("%s\n", e.what());
        std::fflush(stdout);
        const std::string want =
            "ipset: cannot talk to the kernel's ip_set module (is it loaded, are you root?): ";
        ::_exit(std::string(e.what()).rfind(want, 0) == 0 ? 0 : 2);
      }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  });
}
