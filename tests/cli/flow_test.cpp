// The command flow against fakes: the firewall is an in-memory backend, the
// clock is set, the mirror a file:// tree. These run unprivileged and in
// milliseconds, covering the branches of update, status, restore and remove
// that the namespace tests (e2e_test, converge_test) prove with the real
// kernel.
#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "core/log.hpp"
#include "support/fake_backend.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace geoblock::test {
namespace {

constexpr std::int64_t k_now = 1'795'000'000; // 2026-11-18

class Flow : public ::testing::Test {
protected:
  Flow()
  {
    std::filesystem::create_directories(dir / "mirror/ipblocks/data/countries");
    std::filesystem::create_directories(dir / "mirror/ipv6/ipaddresses/blocks");
    zone("cn", "198.51.100.0/25\n");
    log::set_level(log::Level::Quiet);
  }
  ~Flow() override { log::set_level(log::Level::Normal); }

  void zone(const std::string& cc, const std::string& body)
  {
    std::ofstream(dir / ("mirror/ipblocks/data/countries/" + cc + ".zone"), std::ios::trunc) << body;
  }

  // Runs a configured command with `extra` configuration; its output in
  // `out`.
  ExitCode run(std::vector<std::string> args, const std::string& extra = "")
  {
    const std::string conf = dir.write(
        "geoblock.conf", "countries = " + countries + "\nfamily = v4\nbase-url = file://" + dir / "mirror" +
                             "\ncache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                             "\nlock-file = " + dir / "lock" + "\n" + extra);
    args.insert(args.begin(), "geoblock");
    args.push_back("--config");
    args.push_back(conf);
    std::vector<const char*> argv;
    for (const auto& a : args) {
      argv.push_back(a.c_str());
    }
    const cli::Invocation inv = cli::parse_command_line(static_cast<int>(argv.size()), argv.data());
    cli::Environment env{backend, [] { return k_now; }, privileged};
    testing::internal::CaptureStdout();
    ExitCode code = ExitCode::Runtime;
    try {
      code = cli::run_configured(inv, env);
    } catch (const Error& e) {
      error = e.what();
      code = e.code();
    }
    out = testing::internal::GetCapturedStdout();
    return code;
  }

  // The zone's last good copy in the cache.
  std::string cached(const std::string& cc) const
  {
    std::ifstream in(dir / ("cache/v4/" + cc + ".zone"));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  TempDir dir;
  std::string countries = "cn";
  FakeBackend backend;
  bool privileged = true;
  std::string out;
  std::string error;
};

TEST_F(Flow, SecondUpdateAppliesNothingAndAChangedConfigurationAppliesAgain)
{
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.applies, 1);
  ASSERT_NE(backend.live.set("geoblock-v4"), nullptr);
  EXPECT_EQ(backend.live.set("geoblock-v4")->entries, 1u);
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.applies, 1) << "nothing differs, nothing applied";
  // A configuration change that leaves the data alone still applies.
  ASSERT_EQ(run({"update"}, "chain = INPUT\n"), ExitCode::Ok) << error;
  EXPECT_EQ(backend.applies, 2);
  EXPECT_NE(backend.live.chain(net::Family::V4, "filter", "INPUT"), nullptr);
  EXPECT_EQ(backend.live.chain(net::Family::V4, "raw", "PREROUTING"), nullptr);
}

TEST_F(Flow, StatusReportsDriftWithExitFiveAndUpdateRepairsIt)
{
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  ASSERT_EQ(run({"status"}), ExitCode::Ok) << error;
  EXPECT_NE(out.find("live firewall: in sync"), std::string::npos) << out;
  backend.live.chains.clear(); // the rule deleted by hand
  EXPECT_EQ(run({"status"}), ExitCode::Drift);
  EXPECT_NE(out.find("rule missing in raw:PREROUTING (IPv4)"), std::string::npos) << out;
  EXPECT_EQ(run({"status", "--json"}), ExitCode::Drift);
  EXPECT_NE(out.find("\"in_sync\": false"), std::string::npos) << out;
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.applies, 2);
  EXPECT_EQ(run({"status"}), ExitCode::Ok) << out;
}

TEST_F(Flow, DryRunListsTheChangesAndAppliesNothing)
{
  ASSERT_EQ(run({"update", "--dry-run"}, "chain = INPUT\n"), ExitCode::Ok) << error;
  EXPECT_EQ(backend.applies, 0);
  EXPECT_NE(out.find("live firewall: an update would change:"), std::string::npos) << out;
  EXPECT_NE(out.find("set geoblock-v4: missing"), std::string::npos) << out;
  EXPECT_NE(out.find("rule missing in INPUT (IPv4): in != lo, src in @geoblock-v4: drop"), std::string::npos)
      << out;
}

TEST_F(Flow, UnreadableFirewallFailsAnUpdateButNotADryRun)
{
  backend.read_error = "ipset: kernel module missing";
  EXPECT_EQ(run({"update"}), ExitCode::Runtime);
  EXPECT_EQ(error, "ipset: kernel module missing");
  EXPECT_EQ(backend.applies, 0);
  EXPECT_EQ(run({"update", "--dry-run"}), ExitCode::Ok) << error;
  EXPECT_NE(out.find("live sets: not compared"), std::string::npos) << out;
}

// max-shrink counts the addresses a zone covers: the same addresses in
// fewer, larger networks (upstream aggregating) is no shrink, however much
// the set's entry count falls.
TEST_F(Flow, FewerNetworksCoveringTheSameAddressesAreNoShrink)
{
  std::string many;
  for (int i = 0; i < 8; ++i) {
    many += "198.51.100." + std::to_string(i * 16) + "/28\n"; // eight /28s: 198.51.100.0/25
  }
  std::string apart;
  for (int i = 0; i < 8; ++i) {
    apart += "203.0.113." + std::to_string(i * 32) + "/28\n"; // apart: nothing merges
  }
  zone("cn", apart);
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.live.set("geoblock-v4")->entries, 8u);
  // 8 entries to 1, 128 addresses to 128.
  zone("cn", "198.51.100.0/25\n");
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.live.set("geoblock-v4")->entries, 1u);
  // And split again: 1 network to 8, no question either.
  zone("cn", many);
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.applies, 2) << "the same addresses: the set is unchanged";
}

// Issue 18: `countries = nz,au` then `countries = nz` was refused as a
// shrink of the set (exit 3), every timer run, until --force.
TEST_F(Flow, RemovingACountryIsAConfigurationChangeNeverAShrink)
{
  std::string big;
  for (int i = 0; i < 64; ++i) {
    big += "20." + std::to_string(2 * i) + ".0.0/16\n"; // apart: nothing merges
  }
  zone("au", big);
  countries = "cn au";
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.live.set("geoblock-v4")->entries, 65u);
  countries = "cn";
  ASSERT_EQ(run({"update", "--dry-run"}), ExitCode::Ok) << error;
  EXPECT_EQ(out.find("refuse"), std::string::npos) << out;
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.live.set("geoblock-v4")->entries, 1u);
}

TEST_F(Flow, AGrownAllowlistIsAConfigurationChangeNeverAShrink)
{
  std::string big, allow;
  for (int i = 0; i < 64; ++i) {
    big += "20." + std::to_string(2 * i) + ".0.0/16\n"; // apart: 64 entries
    if (i > 0) {
      allow += "allow = 20." + std::to_string(2 * i) + ".0.0/16\n";
    }
  }
  zone("cn", big);
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.live.set("geoblock-v4")->entries, 64u);
  // The allowlist takes 63 of them out of the block: 64 entries to 1.
  ASSERT_EQ(run({"update"}, allow), ExitCode::Ok) << error;
  EXPECT_EQ(backend.live.set("geoblock-v4")->entries, 1u);
  // Policy allow-only then block again: the zone's data never changed.
  ASSERT_EQ(run({"update"}, "policy = allow-only\nallow = 192.0.2.0/24\n"), ExitCode::Ok) << error;
  ASSERT_EQ(run({"update"}, allow), ExitCode::Ok) << error;
}

// Upstream data that suddenly covers far fewer addresses: refused in one
// line naming the zone, before anything is applied, and the cache keeps
// the last good copy, so the next run refuses again; --force takes it.
TEST_F(Flow, AZoneThatShrinksUpstreamIsRefusedAndItsLastGoodCopyStays)
{
  const std::string good = "198.51.100.0/24\n203.0.113.0/24\n";
  zone("cn", good);
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  const auto applied = backend.live.set("geoblock-v4")->members.v4;
  zone("cn", "198.51.100.0/28\n"); // 512 addresses to 16
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(run({"update"}), ExitCode::Safety) << error;
    EXPECT_EQ(error.rfind("refusing cn IPv4: 2 to 1 networks (-97% of the addresses, more than max-shrink "
                          "50%) against its last good copy of ",
                          0),
              0u)
        << error;
    EXPECT_NE(error.find(" UTC; use --force if this is intended"), std::string::npos) << error;
    EXPECT_EQ(backend.applies, 1);
    EXPECT_EQ(backend.live.set("geoblock-v4")->members.v4, applied);
    EXPECT_EQ(cached("cn"), good);
  }
  // The dry run names it, and leaves the cache alone; --json lists it.
  ASSERT_EQ(run({"update", "--dry-run"}), ExitCode::Ok) << error;
  EXPECT_NE(out.find("update would refuse cn IPv4: 2 to 1 networks (-97% of the addresses"),
            std::string::npos)
      << out;
  ASSERT_EQ(run({"update", "--dry-run", "--force"}), ExitCode::Ok) << error;
  EXPECT_NE(out.find("update --force would accept cn IPv4: 2 to 1 networks"), std::string::npos) << out;
  EXPECT_EQ(cached("cn"), good);
  ASSERT_EQ(run({"update", "--dry-run", "--json"}), ExitCode::Ok) << error;
  EXPECT_NE(out.find("\"refused\": [\n    \"cn IPv4: 2 to 1 networks"), std::string::npos) << out;
  EXPECT_EQ(backend.applies, 1);
  // A smaller shrink passes.
  zone("cn", "198.51.100.0/24\n203.0.113.0/25\n");
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.applies, 2);
  zone("cn", "198.51.100.0/28\n");
  ASSERT_EQ(run({"update", "--force"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.applies, 3);
  EXPECT_EQ(backend.live.set("geoblock-v4")->members.v4.size(), 1u);
  EXPECT_EQ(cached("cn"), "198.51.100.0/28\n");
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
}

// Where the source has no last good copy (here the cache was lost), the
// zone is still compared with what the last update applied.
TEST_F(Flow, AZoneIsComparedWithWhatTheLastUpdateAppliedToo)
{
  zone("cn", "198.51.100.0/24\n203.0.113.0/24\n");
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  std::filesystem::remove_all(dir / "cache");
  zone("cn", "198.51.100.0/28\n");
  ASSERT_EQ(run({"update"}), ExitCode::Safety) << error;
  EXPECT_EQ(error.rfind("refusing cn IPv4: 2 to 1 networks (-97% of the addresses, more than max-shrink 50%) "
                        "against what the update of ",
                        0),
            0u)
      << error;
  EXPECT_EQ(backend.applies, 1);
  ASSERT_EQ(run({"update"}), ExitCode::Safety) << "the next run too";
  ASSERT_EQ(run({"update"}, "max-shrink = 1\n"), ExitCode::Ok) << error;
  EXPECT_EQ(backend.applies, 2);
}

// A bundle (or GeoLite2 zip) keeps no copy of its own: its zones are
// compared with what the last update applied.
TEST_F(Flow, ABundleZoneIsComparedWithWhatTheLastUpdateApplied)
{
  zone("cn", "198.51.100.0/24\n203.0.113.0/24\n");
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  ASSERT_EQ(run({"export", "--output", dir / "big.zip"}), ExitCode::Ok) << error;
  // A bundle of the shrunk zone, from a cache of its own.
  zone("cn", "198.51.100.0/28\n");
  ASSERT_EQ(run({"update", "--dry-run", "--cache-dir", dir / "other"}), ExitCode::Ok) << error;
  ASSERT_EQ(run({"export", "--cache-dir", dir / "other", "--output", dir / "small.zip"}), ExitCode::Ok)
      << error;

  ASSERT_EQ(run({"update"}, "source = bundle:" + dir / "small.zip" + "\n"), ExitCode::Safety) << error;
  EXPECT_EQ(error.rfind("refusing cn IPv4: 2 to 1 networks (-97% of the addresses, more than max-shrink 50%) "
                        "against what the update of ",
                        0),
            0u)
      << error;
  EXPECT_EQ(backend.applies, 1);
  ASSERT_EQ(run({"update"}, "source = bundle:" + dir / "big.zip" + "\n"), ExitCode::Ok) << error;
  ASSERT_EQ(run({"update", "--force"}, "source = bundle:" + dir / "small.zip" + "\n"), ExitCode::Ok) << error;
  EXPECT_EQ(backend.applies, 2);
  EXPECT_EQ(backend.live.set("geoblock-v4")->members.v4.size(), 1u);
}

TEST_F(Flow, APreviousSetNameIsHandedToTheBackendToClearAway)
{
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  ASSERT_EQ(run({"update"}, "set-name = other\n"), ExitCode::Ok) << error;
  EXPECT_EQ(backend.last_options.set_name, "other");
  EXPECT_EQ(backend.last_options.previous_set_names, std::vector<std::string>{"geoblock"});
  ASSERT_EQ(run({"remove"}, "set-name = other\n"), ExitCode::Ok) << error;
  EXPECT_EQ(backend.removes, 1);
  EXPECT_TRUE(backend.live.sets.empty());
}

TEST_F(Flow, ChangingTheFirewallNeedsPrivilegeButADryRunDoesNot)
{
  privileged = false;
  EXPECT_EQ(run({"update"}), ExitCode::Usage);
  EXPECT_NE(error.find("needs root"), std::string::npos) << error;
  EXPECT_EQ(run({"remove"}), ExitCode::Usage);
  EXPECT_EQ(run({"update", "--dry-run"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.applies + backend.removes, 0);
}

TEST_F(Flow, RestoreUsesTheCacheOnly)
{
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  std::filesystem::remove_all(dir / "mirror");
  backend.live = {}; // as after a reboot
  ASSERT_EQ(run({"restore"}), ExitCode::Ok) << error;
  ASSERT_NE(backend.live.set("geoblock-v4"), nullptr);
  EXPECT_EQ(backend.live.set("geoblock-v4")->members.v4.size(), 1u);
}

} // namespace
} // namespace geoblock::test
