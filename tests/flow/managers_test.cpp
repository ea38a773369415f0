// The host's firewall managers as geoblock sees them in the live firewall,
// and whether its block is protected from each (cli/managers.hpp), over
// facts shaped as the real daemons leave them (tests/coexist runs the
// daemons); and `backend = auto` beside firewalld.
#include "apply/rules.hpp"
#include "core/error.hpp"
#include "flow/backend_choice.hpp"
#include "flow/managers.hpp"

#include <gtest/gtest.h>

namespace geoblock::flow {
namespace {

using Chain = FirewallFacts::Chain;

FirewallFacts
facts(std::vector<std::string> tables, std::vector<Chain> chains)
{
  FirewallFacts f;
  f.nft_usable = true;
  f.nft_tables = std::move(tables);
  f.chains = std::move(chains);
  return f;
}

// What dockerd 20.10 leaves in IPv4's filter table.
const std::vector<Chain> k_docker = {
    {net::Family::V4, "filter", "FORWARD", 6},     {net::Family::V4, "filter", "DOCKER", 1},
    {net::Family::V4, "filter", "DOCKER-USER", 1}, {net::Family::V4, "filter", "DOCKER-ISOLATION-STAGE-1", 2},
    {net::Family::V4, "nat", "DOCKER", 2},
};

apply::RulesConfig
rules(std::vector<std::string> chains, net::Families families = net::Families::Both)
{
  apply::RulesConfig r;
  r.families = families;
  for (const std::string& c : chains) {
    r.chains.push_back(apply::parse_hook(c));
  }
  return r;
}

Manager
only(const std::vector<Manager>& managers)
{
  EXPECT_EQ(managers.size(), 1u);
  return managers.empty() ? Manager{} : managers.front();
}

TEST(Managers, NoneOnAFirewallOfGeoblocksAlone)
{
  const FirewallFacts f = facts({"inet geoblock", "ip raw"}, {{net::Family::V4, "raw", "PREROUTING", 1}});
  EXPECT_TRUE(managers_beside(f, "iptables", rules({})).empty());
  EXPECT_EQ(firewalld_seen(f), "");
}

TEST(Managers, FirewalldTakesTheIptablesBlockAwayAndLeavesTheNftablesOne)
{
  const FirewallFacts f = facts({"inet firewalld", "inet geoblock"}, {});
  EXPECT_EQ(firewalld_seen(f), "table inet firewalld (its nftables backend)");
  const Manager on_nft = only(managers_beside(f, "nftables", rules({})));
  EXPECT_EQ(on_nft.name, "firewalld");
  EXPECT_EQ(on_nft.seen, "active: table inet firewalld (its nftables backend)");
  EXPECT_TRUE(on_nft.protects);
  const Manager on_ipt = only(managers_beside(f, "iptables", rules({})));
  EXPECT_FALSE(on_ipt.protects);
  EXPECT_NE(on_ipt.why.find("set backend = nftables"), std::string::npos) << on_ipt.why;

  // Its iptables backend shows in iptables' filter table.
  const FirewallFacts ipt = facts({"ip filter"}, {{net::Family::V6, "filter", "INPUT_direct", 0}});
  EXPECT_EQ(firewalld_seen(ipt), "chain INPUT_direct (its iptables backend)");
}

TEST(Managers, IptablesIsRefusedBesideFirewalldWhereNftablesWorks)
{
  FirewallFacts f = facts({"inet firewalld"}, {});
  try {
    refuse_unprotected_backend(f, "iptables", "/etc/geoblock/geoblock.conf:3: key 'backend'");
    FAIL() << "iptables beside firewalld was not refused";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/etc/geoblock/geoblock.conf:3: key 'backend': iptables is refused while firewalld is active "
              "(table inet firewalld (its nftables backend)): its reload, restart and stop delete geoblock's "
              "iptables rules; set backend = nftables (or auto), which firewalld leaves alone");
    EXPECT_EQ(e.code(), ExitCode::Usage);
  }
  EXPECT_NO_THROW(refuse_unprotected_backend(f, "nftables", "k"));
  EXPECT_NO_THROW(refuse_unprotected_backend(facts({}, {}), "iptables", "k"));
  // Without nf_tables there is nothing better to set: the block stays, with
  // the warning of status.
  f.nft_usable = false;
  f.nft_tables.clear();
  f.chains = {{net::Family::V4, "filter", "INPUT_direct", 0}};
  EXPECT_NO_THROW(refuse_unprotected_backend(f, "iptables", "k"));
}

TEST(Managers, DockerIsSeenByItsChainNotByADockerUserGeoblockMade)
{
  EXPECT_TRUE(
      managers_beside(facts({}, {{net::Family::V4, "filter", "DOCKER-USER", 1}}), "iptables", rules({}))
          .empty());
  const Manager m = only(managers_beside(facts({}, k_docker), "iptables", rules({})));
  EXPECT_EQ(m.name, "Docker");
  EXPECT_EQ(m.seen, "chains DOCKER and DOCKER-USER (iptables)");
}

TEST(Managers, DockerLeavesABlockBeforeItsNatOrInDockerUserWithInput)
{
  const FirewallFacts f = facts({}, k_docker);
  auto judge = [&](const std::string& backend, const apply::RulesConfig& r) {
    return only(managers_beside(f, backend, r));
  };
  // The default raw:PREROUTING, and mangle, on both backends.
  EXPECT_TRUE(judge("iptables", rules({})).protects);
  EXPECT_TRUE(judge("nftables", rules({})).protects);
  EXPECT_TRUE(judge("iptables", rules({"mangle:PREROUTING"})).protects);
  // DOCKER-USER, with INPUT for docker-proxy's IPv6 connections.
  EXPECT_TRUE(judge("iptables", rules({"DOCKER-USER", "INPUT"})).protects);
  EXPECT_TRUE(judge("iptables", rules({"DOCKER-USER"}, net::Families::V4)).protects);
  const Manager no_input = judge("iptables", rules({"DOCKER-USER"}));
  EXPECT_FALSE(no_input.protects);
  EXPECT_NE(no_input.why.find("docker-proxy"), std::string::npos) << no_input.why;
  // FORWARD: Docker puts its rules above geoblock's whenever it starts.
  const Manager forward = judge("iptables", rules({"FORWARD", "INPUT"}));
  EXPECT_FALSE(forward.protects);
  EXPECT_NE(forward.why.find("chain = DOCKER-USER"), std::string::npos) << forward.why;
  // nftables' FORWARD: Docker cannot touch it, and a drop is final.
  EXPECT_TRUE(judge("nftables", rules({"FORWARD", "INPUT"})).protects);
  // INPUT alone never sees forwarded connections.
  EXPECT_FALSE(judge("iptables", rules({"INPUT"})).protects);
  EXPECT_FALSE(judge("nftables", rules({"INPUT"})).protects);
}

TEST(Managers, UfwIsSeenEnabledOnlyWhileItsChainsHoldRules)
{
  const std::vector<Chain> disabled = {{net::Family::V4, "filter", "ufw-before-input", 0},
                                       {net::Family::V6, "filter", "ufw6-before-input", 0}};
  EXPECT_TRUE(managers_beside(facts({}, disabled), "iptables", rules({})).empty());
  std::vector<Chain> enabled = disabled;
  enabled[1].rules = 12;
  const Manager m = only(managers_beside(facts({}, enabled), "nftables", rules({})));
  EXPECT_EQ(m.name, "ufw");
  EXPECT_EQ(m.seen, "enabled: its chains ufw-* hold rules");
  EXPECT_TRUE(m.protects);
}

TEST(Managers, Fail2banIsSeenByItsChainsOrItsTable)
{
  const Manager chains = only(managers_beside(facts({}, {{net::Family::V4, "filter", "f2b-sshd", 2},
                                                         {net::Family::V6, "filter", "f2b-sshd", 1},
                                                         {net::Family::V4, "filter", "f2b-web", 1}}),
                                              "iptables", rules({})));
  EXPECT_EQ(chains.seen, "chains f2b-sshd and f2b-web");
  EXPECT_TRUE(chains.protects);
  const Manager table = only(managers_beside(facts({"inet f2b-table"}, {}), "nftables", rules({})));
  EXPECT_EQ(table.seen, "table inet f2b-table");
}

TEST(Managers, AllFourInOrder)
{
  std::vector<Chain> chains = k_docker;
  chains.push_back({net::Family::V4, "filter", "ufw-user-input", 3});
  chains.push_back({net::Family::V4, "filter", "f2b-sshd", 1});
  const auto all = managers_beside(facts({"inet firewalld"}, chains), "nftables", rules({}));
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].name, "firewalld");
  EXPECT_EQ(all[1].name, "Docker");
  EXPECT_EQ(all[2].name, "ufw");
  EXPECT_EQ(all[3].name, "fail2ban");
}

TEST(BackendChoice, AutoPicksNftablesBesideFirewalldOverTheRecordedBackend)
{
  BackendFacts f;
  f.state_path = "/var/lib/geoblock/state.json";
  f.recorded = "iptables";
  f.firewalld = "table inet firewalld (its nftables backend)";
  const BackendChoice c = decide_backend(BackendSetting::Auto, f);
  EXPECT_EQ(c.name, "nftables");
  EXPECT_EQ(c.reason, "auto: firewalld is active (table inet firewalld (its nftables backend)) and deletes "
                      "iptables rules on every reload, restart and stop");
  // An explicit setting still wins (update then refuses it, see above).
  EXPECT_EQ(decide_backend(BackendSetting::Iptables, f).name, "iptables");
}

} // namespace
} // namespace geoblock::flow
