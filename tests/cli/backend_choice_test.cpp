// The rule `backend = auto` follows (cli/backend_choice.hpp), one test per
// branch, over facts as the commands and the host probe gather them.
#include "cli/backend_choice.hpp"

#include <gtest/gtest.h>

namespace geoblock::cli {
namespace {

// A native nftables host with iptables installed and no geoblock state.
BackendFacts
native_host()
{
  BackendFacts f;
  f.state_path = "/var/lib/geoblock/state.json";
  f.host.nft_usable = true;
  f.host.tables = {"inet filter"};
  f.host.iptables_installed = true;
  f.own_tables = {"inet geoblock", "netdev geoblock"};
  return f;
}

TEST(BackendChoice, AnExplicitSettingWinsOverEveryFact)
{
  BackendFacts f = native_host();
  f.recorded = "nftables";
  EXPECT_EQ(decide_backend(BackendSetting::Iptables, f).name, "iptables");
  EXPECT_EQ(decide_backend(BackendSetting::Iptables, f).reason, "configured");
  f.recorded = "iptables";
  f.host.nft_usable = false;
  EXPECT_EQ(decide_backend(BackendSetting::Nftables, f).describe(), "nftables (configured)");
}

TEST(BackendChoice, AutoKeepsTheBackendTheLastUpdateRecorded)
{
  BackendFacts f = native_host();
  f.recorded = "iptables";
  f.live = {{"nftables", "set geoblock-v4"}}; // even against live state elsewhere
  const BackendChoice c = decide_backend(BackendSetting::Auto, f);
  EXPECT_EQ(c.name, "iptables");
  EXPECT_EQ(c.reason, "auto: the last update used it, /var/lib/geoblock/state.json");
  f = BackendFacts{};
  f.recorded = "nftables"; // after a reboot: nothing live, nf_tables not even probed
  EXPECT_EQ(decide_backend(BackendSetting::Auto, f).name, "nftables");
}

TEST(BackendChoice, AStateFileFromBeforeTheChoiceMeansIptables)
{
  BackendFacts f = native_host();
  f.legacy_state = true;
  const BackendChoice c = decide_backend(BackendSetting::Auto, f);
  EXPECT_EQ(c.name, "iptables");
  EXPECT_NE(c.reason.find("written by a geoblock with iptables only"), std::string::npos) << c.reason;
}

TEST(BackendChoice, AnUnrecordedRecordIsNoRecord)
{
  BackendFacts f = native_host();
  f.recorded = "fake"; // a name no backend has: the host decides
  EXPECT_EQ(decide_backend(BackendSetting::Auto, f).name, "nftables");
}

TEST(BackendChoice, AutoKeepsTheOneBackendHoldingGeoblocksLiveState)
{
  BackendFacts f = native_host();
  f.live = {{"iptables", "sets geoblock-v4, geoblock-v6 and 2 rules"}};
  BackendChoice c = decide_backend(BackendSetting::Auto, f);
  EXPECT_EQ(c.name, "iptables");
  EXPECT_EQ(c.reason, "auto: geoblock's iptables state exists (sets geoblock-v4, geoblock-v6 and 2 rules)");
  f = native_host();
  f.host.tables = {"ip filter"};
  f.live = {{"nftables", "set geoblock-v4 and 1 rule"}};
  c = decide_backend(BackendSetting::Auto, f);
  EXPECT_EQ(c.name, "nftables");
  EXPECT_EQ(c.reason, "auto: geoblock's nftables state exists (set geoblock-v4 and 1 rule)");
}

TEST(BackendChoice, StateInBothBackendsLeavesTheChoiceToTheHost)
{
  BackendFacts f = native_host();
  f.live = {{"iptables", "set geoblock-v4"}, {"nftables", "set geoblock-v4"}};
  const BackendChoice c = decide_backend(BackendSetting::Auto, f);
  EXPECT_EQ(c.name, "nftables");
  EXPECT_NE(c.reason.find("geoblock's state is in both backends"), std::string::npos) << c.reason;
}

TEST(BackendChoice, NativeNftablesHostGetsNftables)
{
  const BackendChoice c = decide_backend(BackendSetting::Auto, native_host());
  EXPECT_EQ(c.describe(), "nftables (auto: nf_tables works and the host's ruleset is native nftables "
                          "(table inet filter))");
}

TEST(BackendChoice, IptablesNftCompatTablesAndGeoblocksOwnAreNotANativeRuleset)
{
  BackendFacts f = native_host();
  f.host.tables = {"ip filter",  "ip6 filter",    "ip nat",        "ip6 nat",        "ip raw",
                   "ip6 raw",    "ip mangle",     "ip security",   "arp filter",     "bridge filter",
                   "bridge nat", "bridge broute", "inet geoblock", "netdev geoblock"};
  const BackendChoice c = decide_backend(BackendSetting::Auto, f);
  EXPECT_EQ(c.name, "iptables");
  EXPECT_EQ(c.reason, "auto: the host's ruleset has no native nftables table and iptables is installed");
  // An empty ruleset says nothing either.
  f.host.tables.clear();
  EXPECT_EQ(decide_backend(BackendSetting::Auto, f).name, "iptables");
  // fail2ban's nftables table is native.
  f.host.tables = {"ip filter", "inet f2b-table"};
  EXPECT_EQ(decide_backend(BackendSetting::Auto, f).name, "nftables");
}

TEST(BackendChoice, NoIptablesMeansNftablesWhereNfTablesWorks)
{
  BackendFacts f = native_host();
  f.host.tables.clear();
  f.host.iptables_installed = false;
  const BackendChoice c = decide_backend(BackendSetting::Auto, f);
  EXPECT_EQ(c.describe(), "nftables (auto: nf_tables works and iptables is not installed)");
}

TEST(BackendChoice, UnusableNfTablesMeansIptablesWithTheReason)
{
  BackendFacts f = native_host();
  f.host.nft_usable = false;
  f.host.nft_error = "Protocol not supported";
  f.host.iptables_installed = false;
  const BackendChoice c = decide_backend(BackendSetting::Auto, f);
  EXPECT_EQ(c.describe(), "iptables (auto: nf_tables is not usable (Protocol not supported))");
}

TEST(BackendChoice, CompatTablesAreKnownByFamilyAndName)
{
  EXPECT_TRUE(is_compat_table("ip filter"));
  EXPECT_TRUE(is_compat_table("ip6 mangle"));
  EXPECT_FALSE(is_compat_table("inet filter")); // Debian's /etc/nftables.conf
  EXPECT_FALSE(is_compat_table("ip firewalld"));
  EXPECT_FALSE(is_compat_table("filter"));
  EXPECT_EQ(native_tables({"ip nat", "inet filter", "inet geoblock"}, {"inet geoblock"}),
            std::vector<std::string>{"inet filter"});
}

TEST(BackendChoice, ParsesTheSettingAndDescribesState)
{
  EXPECT_EQ(parse_backend_setting("auto"), BackendSetting::Auto);
  EXPECT_EQ(parse_backend_setting("nftables"), BackendSetting::Nftables);
  EXPECT_EQ(parse_backend_setting("iptables"), BackendSetting::Iptables);
  EXPECT_FALSE(parse_backend_setting("nft"));
  EXPECT_FALSE(parse_backend_setting("Auto"));
  apply::FirewallState s;
  EXPECT_EQ(describe_state(s), "");
  s.sets.push_back(apply::SetState{});
  s.sets.back().name = "geoblock-v4";
  EXPECT_EQ(describe_state(s), "set geoblock-v4");
  apply::ChainState c;
  c.rules = {apply::Rule{}, apply::Rule{}};
  s.chains.push_back(c);
  EXPECT_EQ(describe_state(s), "set geoblock-v4 and 2 rules");
}

// A backend is absent when the kernel interface its state would live in
// does not answer; then it holds nothing. Everything else that fails to
// read is unknown (the commands' test: Switch.AnUnreadableBackendIs*).
TEST(BackendChoice, ABackendIsAbsentWhereItsKernelInterfaceDoesNotAnswer)
{
  HostFacts host;
  EXPECT_TRUE(backend_absent(k_nftables, host));
  EXPECT_TRUE(backend_absent(k_iptables, host));
  host.nft_usable = true;
  EXPECT_FALSE(backend_absent(k_nftables, host));
  EXPECT_TRUE(backend_absent(k_iptables, host));
  host.iptables_installed = true; // a program is not the interface the sets live in
  EXPECT_TRUE(backend_absent(k_iptables, host));
  host.ipset_usable = true;
  EXPECT_FALSE(backend_absent(k_iptables, host));
  EXPECT_FALSE(backend_absent("fake", host));
}

} // namespace
} // namespace geoblock::cli
