// Choosing and switching backends in the command flow, against two
// in-memory backends named like the real ones: the chosen one gets the
// block, what geoblock left in the other is drift in status and check,
// shown by a dry run, removed by update only after the new backend holds
// the block, and by remove. The namespace suite (backend_suite_test.cpp)
// proves the same with the kernel.
#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "core/log.hpp"
#include "support/fake_backend.hpp"
#include "support/temp_dir.hpp"
#include "util/file.hpp"
#include "util/json.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace geoblock::test {
namespace {

constexpr std::int64_t k_now = 1'795'000'000;

class Switch : public ::testing::Test {
protected:
  Switch()
  {
    std::filesystem::create_directories(dir / "mirror/ipblocks/data/countries");
    std::ofstream(dir / "mirror/ipblocks/data/countries/cn.zone") << "198.51.100.0/25\n";
    log::set_level(log::Level::Quiet);
  }
  ~Switch() override { log::set_level(log::Level::Normal); }

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
    error.clear();
    ExitCode code = ExitCode::Runtime;
    testing::internal::CaptureStdout();
    try {
      const cli::Invocation inv = cli::parse_command_line(static_cast<int>(argv.size()), argv.data());
      cli::Environment env{iptables,
                           [] { return k_now; },
                           privileged,
                           cli::Isolation::InProcess,
                           {&iptables, &nftables},
                           [this] { return host; }};
      code = cli::run_configured(inv, env);
    } catch (const Error& e) {
      error = e.what();
      code = e.code();
    }
    out = testing::internal::GetCapturedStdout();
    return code;
  }

  std::string recorded() const
  {
    return util::Json::parse(util::read_file(dir / "state/state.json"), "state.json")
        .get("backend")
        .as_string();
  }

  TempDir dir;
  FakeBackend iptables{"iptables"};
  FakeBackend nftables{"nftables"};
  cli::HostFacts host; // nf_tables unusable: auto picks iptables unless told otherwise
  bool privileged = true;
  std::string out;
  std::string error;
};

TEST_F(Switch, SwitchingBothWaysLeavesOnlyTheChosenBackendsState)
{
  ASSERT_EQ(run({"update"}, "backend = iptables\n"), ExitCode::Ok) << error;
  ASSERT_NE(iptables.live.set("geoblock-v4"), nullptr);
  EXPECT_TRUE(nftables.live.sets.empty());
  EXPECT_EQ(recorded(), "iptables");

  ASSERT_EQ(run({"update"}, "backend = nftables\n"), ExitCode::Ok) << error;
  ASSERT_NE(nftables.live.set("geoblock-v4"), nullptr);
  EXPECT_TRUE(iptables.live.sets.empty());
  EXPECT_TRUE(iptables.live.chains.empty());
  EXPECT_EQ(iptables.removes, 1);
  EXPECT_EQ(recorded(), "nftables");
  EXPECT_EQ(run({"status"}, "backend = nftables\n"), ExitCode::Ok) << out;
  EXPECT_NE(out.find("backend: nftables (configured)\n"), std::string::npos) << out;

  ASSERT_EQ(run({"update"}, "backend = iptables\n"), ExitCode::Ok) << error;
  EXPECT_NE(iptables.live.set("geoblock-v4"), nullptr);
  EXPECT_TRUE(nftables.live.sets.empty());
  EXPECT_TRUE(nftables.live.chains.empty());
  EXPECT_EQ(recorded(), "iptables");
}

// What the chosen backend cannot express is refused by validation, dry
// runs included (exit 2, naming the key), before anything is fetched:
// `update --dry-run` once showed iptables rules "in ingress" and exited 0.
TEST_F(Switch, WhatTheChosenBackendCannotExpressIsRefusedByADryRunToo)
{
  iptables.can = apply::Capabilities{false, true};
  nftables.can = apply::Capabilities{true, false};
  EXPECT_EQ(run({"update", "--dry-run"}, "backend = iptables\nchain = ingress:eth0\n"), ExitCode::Usage);
  EXPECT_EQ(error.rfind("chain ingress:eth0 ", 0), 0u) << error;
  EXPECT_NE(error.find("nftables only"), std::string::npos) << error;
  EXPECT_EQ(run({"update"}, "backend = iptables\nchain = ingress:eth0\n"), ExitCode::Usage);
  EXPECT_EQ(iptables.applies, 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "cache")) << "refused before anything was fetched";
  EXPECT_EQ(run({"update", "--dry-run"}, "backend = nftables\nchain = DOCKER-USER\n"), ExitCode::Usage);
  EXPECT_EQ(error.rfind("chain DOCKER-USER ", 0), 0u) << error;
  EXPECT_EQ(run({"update", "--dry-run"}, "backend = nftables\nchain = ingress:eth0\n"), ExitCode::Ok)
      << error;
}

// A switch of backend and of set name at once, the run stopped after the
// new backend holds the block but before the old one's state is removed
// (killed there, or the removal failed): the state file must keep the old
// set name as geoblock's until that state is gone, or nothing finds it
// again (status said "in sync" while the old block stayed). Found by the
// random walk.
TEST_F(Switch, AnInterruptedSwitchLeavesItsLeftoversFoundAndRemovedNextTime)
{
  ASSERT_EQ(run({"update"}, "backend = iptables\nset-name = first\n"), ExitCode::Ok) << error;
  ASSERT_NE(iptables.live.set("first-v4"), nullptr);
  iptables.remove_error = "killed";
  EXPECT_EQ(run({"update"}, "backend = nftables\nset-name = second\n"), ExitCode::Runtime);
  ASSERT_NE(nftables.live.set("second-v4"), nullptr);
  ASSERT_NE(iptables.live.set("first-v4"), nullptr);
  EXPECT_EQ(run({"status"}, "backend = nftables\nset-name = second\n"), ExitCode::Drift) << out;
  EXPECT_NE(out.find("leftover in backend iptables"), std::string::npos) << out;
  iptables.remove_error.clear();
  ASSERT_EQ(run({"update"}, "backend = nftables\nset-name = second\n"), ExitCode::Ok) << error;
  EXPECT_TRUE(iptables.live.sets.empty());
  EXPECT_EQ(run({"status"}, "backend = nftables\nset-name = second\n"), ExitCode::Ok) << out;
}

TEST_F(Switch, TheOldBackendKeepsTheBlockWhenTheNewOneFails)
{
  ASSERT_EQ(run({"update"}, "backend = iptables\n"), ExitCode::Ok) << error;
  nftables.apply_error = "nf_tables: Operation not permitted";
  EXPECT_EQ(run({"update"}, "backend = nftables\n"), ExitCode::Runtime);
  EXPECT_EQ(error, "nf_tables: Operation not permitted");
  EXPECT_NE(iptables.live.set("geoblock-v4"), nullptr) << "no moment without a block";
  EXPECT_EQ(iptables.removes, 0);
  EXPECT_EQ(recorded(), "iptables");
}

TEST_F(Switch, LeftoversAreDriftShownByADryRunAndCheckAndRepairedByUpdate)
{
  ASSERT_EQ(run({"update"}, "backend = nftables\n"), ExitCode::Ok) << error;
  iptables.live = nftables.live; // what a failed removal, or a hand, left there
  EXPECT_EQ(run({"status"}, "backend = nftables\n"), ExitCode::Drift);
  EXPECT_NE(out.find("leftover in backend iptables (geoblock now uses nftables): set geoblock-v4 and 1 rule"),
            std::string::npos)
      << out;
  EXPECT_EQ(run({"status", "--json"}, "backend = nftables\n"), ExitCode::Drift);
  EXPECT_NE(out.find("\"backend\": \"nftables\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"in_sync\": false"), std::string::npos) << out;

  ASSERT_EQ(run({"update", "--dry-run"}, "backend = nftables\n"), ExitCode::Ok) << error;
  EXPECT_NE(out.find("backend: nftables (configured)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("live firewall: an update would change:\n  leftover in backend iptables"),
            std::string::npos)
      << out;
  EXPECT_EQ(iptables.removes, 0);
  ASSERT_EQ(run({"update", "--dry-run", "--json"}, "backend = nftables\n"), ExitCode::Ok) << error;
  const util::Json report = util::Json::parse(out, "dry run");
  EXPECT_EQ(report.get("backend").as_string(), "nftables");
  EXPECT_EQ(report.get("backend_reason").as_string(), "configured");
  ASSERT_EQ(report.get("changes").items().size(), 1u) << out;
  EXPECT_EQ(report.get("changes").items()[0].as_string(),
            "leftover in backend iptables (geoblock now uses nftables): set geoblock-v4 and 1 rule");

  ASSERT_EQ(run({"check", "198.51.100.7"}, "backend = nftables\n"), ExitCode::Ok) << error;
  EXPECT_NE(out.find("198.51.100.7: blocked by cn (198.51.100.0/25)\nbackend: nftables (configured)\n"
                     "live firewall: DIFFERS from the configuration ('geoblock update' repairs it):\n"
                     "  leftover in backend iptables"),
            std::string::npos)
      << out;

  // Nothing differs in nftables: update applies nothing there, and removes
  // the leftover.
  const int applies = nftables.applies;
  ASSERT_EQ(run({"update"}, "backend = nftables\n"), ExitCode::Ok) << error;
  EXPECT_EQ(nftables.applies, applies);
  EXPECT_TRUE(iptables.live.sets.empty());
  EXPECT_EQ(run({"status"}, "backend = nftables\n"), ExitCode::Ok) << out;
  ASSERT_EQ(run({"check", "198.51.100.7"}, "backend = nftables\n"), ExitCode::Ok) << error;
  EXPECT_NE(out.find("live firewall: in sync with the configuration\n"), std::string::npos) << out;
}

TEST_F(Switch, RemoveTakesGeoblocksStateFromEveryBackend)
{
  ASSERT_EQ(run({"update"}, "backend = nftables\n"), ExitCode::Ok) << error;
  iptables.live = nftables.live;
  ASSERT_EQ(run({"remove"}, "backend = nftables\n"), ExitCode::Ok) << error;
  EXPECT_TRUE(nftables.live.sets.empty());
  EXPECT_TRUE(iptables.live.sets.empty());
  EXPECT_EQ(iptables.removes + nftables.removes, 2);
}

// max-shrink compares zones, not sets: switching backends neither hides a
// shrink (the new backend has no set yet) nor makes one.
TEST_F(Switch, AZoneThatShrinksIsRefusedWhenSwitchingBackendsToo)
{
  std::ofstream(dir / "mirror/ipblocks/data/countries/cn.zone", std::ios::trunc) << "203.0.113.0/24\n";
  ASSERT_EQ(run({"update"}, "backend = iptables\n"), ExitCode::Ok) << error;
  std::ofstream(dir / "mirror/ipblocks/data/countries/cn.zone", std::ios::trunc) << "203.0.113.0/28\n";
  EXPECT_EQ(run({"update"}, "backend = nftables\n"), ExitCode::Safety);
  EXPECT_EQ(error.rfind("refusing cn IPv4: 1 to 1 networks (-94% of the addresses", 0), 0u) << error;
  EXPECT_EQ(nftables.applies, 0);
  EXPECT_EQ(iptables.live.set("geoblock-v4")->members.v4.size(), 1u);
  ASSERT_EQ(run({"update", "--force"}, "backend = nftables\n"), ExitCode::Ok) << error;
  EXPECT_EQ(nftables.applies, 1);
  EXPECT_TRUE(iptables.live.sets.empty());
}

TEST_F(Switch, AutoKeepsWhatTheLastUpdateUsedThenWhatIsLiveThenAsksTheHost)
{
  // Nothing recorded, nothing live: the host decides (native nftables).
  host.nft_usable = true;
  host.tables = {"inet filter"};
  host.iptables_installed = true;
  ASSERT_EQ(run({"update", "--dry-run"}), ExitCode::Ok) << error;
  EXPECT_NE(out.find("backend: nftables (auto: nf_tables works and the host's ruleset is native nftables "
                     "(table inet filter))"),
            std::string::npos)
      << out;
  // The last update used iptables: auto keeps it, whatever the host.
  ASSERT_EQ(run({"update"}, "backend = iptables\n"), ExitCode::Ok) << error;
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  EXPECT_EQ(nftables.applies, 0);
  EXPECT_EQ(run({"status"}), ExitCode::Ok) << out;
  EXPECT_NE(out.find("backend: iptables (auto: the last update used it, " + dir / "state/state.json" + ")"),
            std::string::npos)
      << out;
  // No state file, geoblock's state live in iptables: kept.
  std::filesystem::remove(dir / "state/state.json");
  EXPECT_EQ(run({"status"}), ExitCode::Ok) << out;
  EXPECT_NE(
      out.find("backend: iptables (auto: geoblock's iptables state exists (set geoblock-v4 and 1 rule))"),
      std::string::npos)
      << out;
  // A state file of a geoblock from before the choice: iptables.
  std::filesystem::create_directories(dir / "state");
  std::ofstream(dir / "state/state.json") << "{\"set_names\": [\"geoblock\"]}\n";
  iptables.live = {};
  ASSERT_EQ(run({"restore"}), ExitCode::Ok) << error;
  EXPECT_NE(iptables.live.set("geoblock-v4"), nullptr);
  EXPECT_EQ(recorded(), "iptables");
}

TEST_F(Switch, AnUnprivilegedDryRunSaysItsChoiceMayDifferFromRoots)
{
  privileged = false;
  ASSERT_EQ(run({"update", "--dry-run"}), ExitCode::Ok) << error;
  EXPECT_NE(
      out.find("backend: iptables (auto: nf_tables is not usable (no reason given); not root: the probe "
               "could not read the firewall, as root it may decide otherwise)\n"),
      std::string::npos)
      << out;
  // A recorded backend needs no probe: nothing to qualify.
  privileged = true;
  ASSERT_EQ(run({"update"}, "backend = nftables\n"), ExitCode::Ok) << error;
  privileged = false;
  ASSERT_EQ(run({"update", "--dry-run"}), ExitCode::Ok) << error;
  EXPECT_NE(out.find("backend: nftables (auto: the last update used it, " + dir / "state/state.json" + ")\n"),
            std::string::npos)
      << out;
}

TEST_F(Switch, TheSettingIsValidatedWithFileAndLine)
{
  EXPECT_EQ(run({"update", "--dry-run"}, "backend = nft\n"), ExitCode::Usage);
  EXPECT_NE(error.find("geoblock.conf:7: key 'backend': expected auto, iptables or nftables, got 'nft'"),
            std::string::npos)
      << error;
  EXPECT_EQ(run({"update", "--dry-run", "--backend", "ipset"}), ExitCode::Usage);
  EXPECT_NE(error.find("option '--backend': expected auto, iptables or nftables, got 'ipset'"),
            std::string::npos)
      << error;
  EXPECT_EQ(iptables.applies + nftables.applies, 0);
}

// A backend that cannot be read is not "nothing there". Where its kernel
// interface does not answer (no nf_tables) it holds nothing and nothing is
// said; where it answers but the read fails, a leftover of geoblock's may
// be there, enforcing an old block: update applies and says so (exit 4),
// status and check cannot say "in sync", the dry run warns, and remove
// tries it too, failing by name when that fails.
TEST_F(Switch, AnUnreadableBackendIsSaidNeverTakenForEmpty)
{
  ASSERT_EQ(run({"update"}, "backend = iptables\n"), ExitCode::Ok) << error;
  nftables.read_error = "nftables: reading from the kernel failed: Input/output error";

  // Absent (nf_tables does not answer): nothing there, nothing said.
  host.nft_usable = false;
  EXPECT_EQ(run({"update"}, "backend = iptables\n"), ExitCode::Ok) << error;
  EXPECT_EQ(run({"status"}, "backend = iptables\n"), ExitCode::Ok) << out;
  EXPECT_EQ(out.find("nftables"), std::string::npos) << out;

  // There, but unreadable.
  host.nft_usable = true;
  const std::string said = "backend nftables (geoblock now uses iptables) cannot be read, a leftover of "
                           "geoblock's there is unknown: nftables: reading from the kernel failed: "
                           "Input/output error";
  log::set_level(log::Level::Normal);
  testing::internal::CaptureStderr();
  const ExitCode updated = run({"update"}, "backend = iptables\n");
  const std::string err = testing::internal::GetCapturedStderr();
  log::set_level(log::Level::Quiet);
  EXPECT_EQ(updated, ExitCode::Partial) << error;
  EXPECT_NE(err.find("geoblock: warning: " + said + "; not removed"), std::string::npos) << err;
  EXPECT_NE(iptables.live.set("geoblock-v4"), nullptr) << "applied all the same";
  EXPECT_EQ(nftables.removes, 0);

  ASSERT_EQ(run({"update", "--dry-run", "--json"}, "backend = iptables\n"), ExitCode::Ok) << error;
  const util::Json report = util::Json::parse(out, "dry run");
  ASSERT_EQ(report.get("warnings").items().size(), 1u) << out;
  EXPECT_EQ(report.get("warnings").items()[0].as_string(), said);
  EXPECT_TRUE(report.get("changes").items().empty()) << out;

  EXPECT_EQ(run({"status"}, "backend = iptables\n"), ExitCode::Drift);
  EXPECT_NE(out.find(said), std::string::npos) << out;
  ASSERT_EQ(run({"check", "198.51.100.7"}, "backend = iptables\n"), ExitCode::Ok) << error;
  EXPECT_NE(
      out.find("live firewall: DIFFERS from the configuration ('geoblock update' repairs it):\n  " + said),
      std::string::npos)
      << out;

  // A user without root reads no backend: unknown, and a dry run says
  // that of the live firewall already.
  privileged = false;
  ASSERT_EQ(run({"update", "--dry-run", "--json"}, "backend = iptables\n"), ExitCode::Ok) << error;
  EXPECT_TRUE(util::Json::parse(out, "dry run").get("warnings").items().empty()) << out;
  privileged = true;

  // remove asks it too: removal goes by name.
  ASSERT_EQ(run({"remove"}, "backend = iptables\n"), ExitCode::Ok) << error;
  EXPECT_EQ(nftables.removes, 1);
  EXPECT_TRUE(iptables.live.sets.empty());
  // And fails naming it when that fails too, the other backend done.
  ASSERT_EQ(run({"update"}, "backend = iptables\n"), ExitCode::Partial) << error;
  nftables.remove_error = "nftables: Operation not permitted";
  EXPECT_EQ(run({"remove"}, "backend = iptables\n"), ExitCode::Runtime);
  EXPECT_EQ(error,
            "geoblock's state may be left: cannot remove it from backend nftables: nftables: Operation "
            "not permitted (nor can it be read: nftables: reading from the kernel failed: Input/output "
            "error)");
  EXPECT_TRUE(iptables.live.sets.empty());
}

} // namespace
} // namespace geoblock::test
