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
    const std::string conf =
        dir.write("geoblock.conf", "countries = cn\nfamily = v4\nbase-url = file://" + dir / "mirror" +
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

  TempDir dir;
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
  EXPECT_NE(
      out.find(
          "rule missing in INPUT (IPv4): -m set --match-set geoblock-v4 src -m comment --comment geoblock "
          "-j DROP"),
      std::string::npos)
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

TEST_F(Flow, ASuspiciousShrinkIsRefusedBeforeAnyBackendChange)
{
  std::string many;
  for (int i = 0; i < 8; ++i) {
    many += "203.0.113." + std::to_string(i * 32) + "/28\n"; // apart: nothing merges
  }
  zone("cn", many);
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.live.set("geoblock-v4")->entries, 8u);
  zone("cn", "198.51.100.0/25\n");
  EXPECT_EQ(run({"update"}), ExitCode::Safety);
  EXPECT_NE(error.find("refusing to shrink set geoblock-v4 from 8 to 1 entries"), std::string::npos) << error;
  EXPECT_EQ(backend.applies, 1);
  EXPECT_EQ(run({"update", "--force"}), ExitCode::Ok) << error;
  EXPECT_EQ(backend.live.set("geoblock-v4")->entries, 1u);
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
