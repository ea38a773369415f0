// geoblock beside a real firewalld (Debian 12: 1.3.3, its default nftables
// backend) with its own D-Bus system bus, in the test's namespaces
// (coexist/sandbox.hpp): the block holds across firewall-cmd --reload,
// a restart and a stop on the backend auto picks and on nftables chosen
// explicitly; iptables, whose rules firewalld deletes each time, is
// refused while firewalld is active (docs/operations.md, "firewalld").
#include "coexist/scene.hpp"
#include "support/geoblock_binary.hpp"
#include "util/file.hpp"

#include <gtest/gtest.h>

namespace geoblock::test {
namespace {

// firewalld as systemd runs it (Type=dbus: ready once it answers on the
// bus), started, stopped and restarted the way systemctl would.
class Firewalld {
public:
  explicit Firewalld(Scene& scene) : m_scene(scene)
  {
    m_scene.sandbox->run_checked({"dbus-daemon", "--system", "--fork", "--nopidfile"});
  }
  ~Firewalld()
  {
    if (m_pid > 0) {
      m_scene.sandbox->stop(m_pid);
    }
  }

  void start()
  {
    m_pid = m_scene.sandbox->start(
        {"firewalld", "--nofork", "--nopid", "--log-file", m_scene.dir / "firewalld.log"},
        m_scene.dir / "firewalld.out");
    const auto ready = time_until(
        [&] {
          return m_scene.sandbox->run({"firewall-cmd", "--state"}).out == "running\n";
        },
        std::chrono::seconds(60));
    ASSERT_TRUE(ready) << "firewalld did not start: " << util::read_file(m_scene.dir / "firewalld.out");
  }
  // SIGTERM, as systemctl stop does: firewalld removes its rules and exits.
  void stop()
  {
    EXPECT_TRUE(m_scene.sandbox->stop(m_pid));
    m_pid = -1;
  }
  std::string cmd(std::vector<std::string> args)
  {
    args.insert(args.begin(), "firewall-cmd");
    return m_scene.sandbox->run_checked(args);
  }

private:
  Scene& m_scene;
  pid_t m_pid = -1;
};

SandboxSpec
firewalld_spec()
{
  SandboxSpec spec;
  spec.copies = {"/etc/firewalld"};
  return spec;
}

bool
contains(const std::string& text, const std::string& part)
{
  return text.find(part) != std::string::npos;
}

// geoblock's `backend = auto` and `backend = nftables` beside firewalld's
// default nftables backend, and auto beside its iptables backend
// (FirewallBackend=iptables in firewalld.conf).
struct FirewalldSetup {
  std::string name;
  std::string backend;           // geoblock's
  std::string firewalld_backend; // firewalld's
  std::string seen;              // how status names it
};

void
PrintTo(const FirewalldSetup& s, std::ostream* os)
{
  *os << s.name;
}

class FirewalldBeside : public ::testing::TestWithParam<FirewalldSetup> {};

TEST_P(FirewalldBeside, TheBlockHoldsAcrossReloadRestartAndStop)
{
  GEOBLOCK_REQUIRE_MANAGER("firewalld", "firewall-cmd", "dbus-daemon", "nsenter");
  in_fresh_netns([] {
    const FirewalldSetup& setup = GetParam();
    const std::string& backend = setup.backend;
    Scene s(firewalld_spec());
    const std::string conf = s.sandbox->copy_of("/etc/firewalld/firewalld.conf");
    std::string text = util::read_file(conf);
    text.replace(text.find("FirewallBackend=nftables"), 24, "FirewallBackend=" + setup.firewalld_backend);
    s.dir.write("root/etc/firewalld/firewalld.conf", text);
    Firewalld fw(s);
    fw.start();
    fw.cmd({"--permanent", "--add-port=80/tcp"});
    fw.cmd({"--reload"});
    ASSERT_TRUE(s.reachable(k_listed));

    const util::RunResult up = s.geoblock("update", backend);
    ASSERT_EQ(up.exit_code, 0) << up.err;
    // auto sees firewalld and takes the backend it leaves alone.
    EXPECT_TRUE(
        contains(up.err, backend == "auto"
                             ? "geoblock: backend nftables (auto: firewalld is active (" + setup.seen + ")"
                             : "geoblock: backend nftables (configured)"))
        << up.err;
    EXPECT_TRUE(s.holds());
    const util::RunResult st = s.geoblock("status", backend);
    EXPECT_EQ(st.exit_code, 0) << st.out << st.err;
    EXPECT_TRUE(
        contains(st.out, "firewall managers:\n  firewalld: active: " + setup.seen + "; block protected: "))
        << st.out;
    EXPECT_FALSE(contains(st.err, "warning")) << st.err;

    s.through("firewall-cmd --reload", [&] { fw.cmd({"--reload"}); });
    s.through("firewalld restart", [&] {
      fw.stop();
      fw.start();
    });
    s.through("firewalld stop", [&] { fw.stop(); });
    const util::RunResult gone = s.geoblock("status", backend);
    EXPECT_EQ(gone.exit_code, 0) << gone.out << gone.err;
    EXPECT_TRUE(contains(gone.out, "firewall managers: none seen")) << gone.out;
    fw.start(); // its rules back: port 80 stays open (permanent)
    EXPECT_TRUE(s.holds());
    EXPECT_EQ(s.geoblock("status", backend).exit_code, 0);
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, FirewalldBeside,
                         ::testing::Values(FirewalldSetup{"auto", "auto", "nftables",
                                                          "table inet firewalld (its nftables backend)"},
                                           FirewalldSetup{"nftables", "nftables", "nftables",
                                                          "table inet firewalld (its nftables backend)"},
                                           FirewalldSetup{"auto_beside_its_iptables_backend", "auto",
                                                          "iptables",
                                                          "chain INPUT_direct (its iptables backend)"}),
                         [](const ::testing::TestParamInfo<FirewalldSetup>& p) { return p.param.name; });

TEST(Firewalld, IptablesIsRefusedWhileItIsActiveAndAutoMovesTheBlockToNftables)
{
  GEOBLOCK_REQUIRE_MANAGER("firewalld", "firewall-cmd", "dbus-daemon", "nsenter");
  in_fresh_netns([] {
    Scene s(firewalld_spec());
    // Before firewalld runs, iptables is the host's choice.
    const util::RunResult before = s.geoblock("update", "iptables");
    ASSERT_EQ(before.exit_code, 0) << before.err;
    EXPECT_TRUE(s.holds());

    // What firewalld 1.3 does to it: starting (as a reload) deletes the rules.
    Firewalld fw(s);
    fw.start();
    fw.cmd({"--permanent", "--add-port=80/tcp"});
    fw.cmd({"--reload"});
    EXPECT_TRUE(s.reachable(k_listed)) << "firewalld left geoblock's iptables rules in place";
    const util::RunResult st = s.geoblock("status", "iptables");
    EXPECT_EQ(st.exit_code, 5) << st.out << st.err;
    EXPECT_TRUE(contains(st.out,
                         "  firewalld: active: table inet firewalld (its nftables backend); block NOT "
                         "PROTECTED: its reload, restart and stop delete geoblock's iptables rules"))
        << st.out;
    EXPECT_TRUE(contains(st.err, "geoblock: warning: firewalld (active: table inet firewalld (its nftables "
                                 "backend)) can take geoblock's block away: "))
        << st.err;

    // update refuses iptables: exit 2, one line naming the setting, firewalld
    // and what to set instead; the dry run says it would.
    const util::RunResult refused = s.geoblock("update", "iptables");
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    const auto lines = lines_of(refused.err);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(),
              "geoblock: error: " + s.dir / "geoblock.conf" +
                  ":2: key 'backend': iptables is refused while firewalld is active (table "
                  "inet firewalld (its nftables backend)): its reload, restart and stop delete "
                  "geoblock's iptables rules; set backend = nftables (or auto), which firewalld "
                  "leaves alone");
    const util::RunResult dry = s.geoblock("update", "iptables", "", {"--dry-run"});
    EXPECT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_TRUE(contains(dry.err, "geoblock: warning: update would refuse: ")) << dry.err;
    EXPECT_TRUE(s.reachable(k_listed)); // nothing applied

    // auto, with state.json naming iptables: nftables now, and the iptables
    // sets go once the nftables block is in.
    const util::RunResult moved = s.geoblock("update", "auto");
    EXPECT_EQ(moved.exit_code, 0) << moved.err;
    EXPECT_TRUE(contains(moved.err, "geoblock: backend nftables (auto: firewalld is active")) << moved.err;
    EXPECT_TRUE(contains(moved.err, "removed geoblock's state from backend iptables")) << moved.err;
    EXPECT_TRUE(s.holds());
    EXPECT_EQ(s.sandbox->run_checked({"ipset", "list", "-n"}), "");
    s.through("firewall-cmd --reload", [&] { fw.cmd({"--reload"}); });
    const util::RunResult after = s.geoblock("status", "auto");
    EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
  });
}

} // namespace
} // namespace geoblock::test
