// geoblock beside a real fail2ban (Debian 12: 1.0.2) in the test's
// namespaces (coexist/sandbox.hpp), with a jail on a log file the test
// writes: on iptables (iptables-multiport, with a baseline restore in
// force) and on nftables (nftables-multiport), a ban survives geoblock's
// update, fail2ban still unbans and bans after it, and fail2ban-client
// reload leaves geoblock's block in place (docs/operations.md, "fail2ban").
#include "coexist/scene.hpp"
#include "support/geoblock_binary.hpp"
#include "util/file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace geoblock::test {
namespace {

constexpr const char* k_offender = "198.51.100.150"; // in no zone; fail2ban bans it

// fail2ban-server in the foreground with one jail, `gbtest`, watching
// DIR/auth.log for "login failed from <HOST>" and banning port 80 with
// `banaction`.
class Fail2ban {
public:
  Fail2ban(Scene& scene, const std::string& banaction) : m_scene(scene), m_sock(scene.dir / "f2b.sock")
  {
    const std::string conf = scene.sandbox->copy_of("/etc/fail2ban");
    std::filesystem::remove_all(conf + "/jail.d");
    m_scene.dir.write("root/etc/fail2ban/filter.d/gbtest.conf",
                      "[Definition]\nfailregex = ^login failed from <HOST>$\n");
    m_scene.dir.write("root/etc/fail2ban/jail.d/gbtest.local",
                      "[gbtest]\nenabled = true\nfilter = gbtest\nlogpath = " + scene.dir / "auth.log" +
                          "\nbackend = polling\ndatepattern = {NONE}\nmaxretry = 1\nfindtime = 1h\nbantime = "
                          "1h\nport = 80\nprotocol = tcp\nbanaction = " +
                          banaction + "\n");
    m_scene.dir.write("auth.log", "");
    m_pid = m_scene.sandbox->start({"fail2ban-server", "-f", "-x", "-s", m_sock, "-p", scene.dir / "f2b.pid"},
                                   scene.dir / "fail2ban.out");
    const auto ready = time_until([&] { return client({"ping"}).find("pong") != std::string::npos; },
                                  std::chrono::seconds(60));
    EXPECT_TRUE(ready) << "fail2ban did not start: " << util::read_file(scene.dir / "fail2ban.out");
  }
  ~Fail2ban() { m_scene.sandbox->stop(m_pid); }

  std::string client(std::vector<std::string> args) const
  {
    args.insert(args.begin(), {"fail2ban-client", "-s", m_sock});
    return m_scene.sandbox->run(args).out;
  }
  // What an attacker leaves in the log; fail2ban bans on the first line.
  void fail_login(const std::string& from) const
  {
    std::ofstream(m_scene.dir / "auth.log", std::ios::app) << "login failed from " << from << "\n";
  }
  // The jail lists `address` and its action has run: a connection from it
  // to port 80 fails (the listing comes before the action).
  bool bans(const std::string& address) const
  {
    return time_until(
               [&] {
                 return client({"status", "gbtest"}).find(address) != std::string::npos &&
                        m_scene.blocked(address.c_str());
               },
               std::chrono::seconds(30))
        .has_value();
  }

private:
  Scene& m_scene;
  std::string m_sock;
  pid_t m_pid = -1;
};

SandboxSpec
fail2ban_spec()
{
  SandboxSpec spec;
  spec.copies = {"/etc/fail2ban"};
  spec.tmpfs = {"/var/lib/fail2ban"};
  return spec;
}

bool
contains(const std::string& text, const std::string& part)
{
  return text.find(part) != std::string::npos;
}

struct Fail2banSetup {
  std::string backend;
  std::string banaction;
  std::string seen; // what status names
};

void
PrintTo(const Fail2banSetup& s, std::ostream* os)
{
  *os << s.backend;
}

class Fail2banBeside : public ::testing::TestWithParam<Fail2banSetup> {};

TEST_P(Fail2banBeside, BansSurviveUpdatesAndTheBlockSurvivesItsReload)
{
  GEOBLOCK_REQUIRE_MANAGER("fail2ban-server", "fail2ban-client", "nsenter");
  in_fresh_netns([] {
    const Fail2banSetup& setup = GetParam();
    Scene s(fail2ban_spec());
    s.client.exec({"ip", "addr", "add", std::string(k_offender) + "/24", "dev", "gbc"});
    // On iptables a baseline restore rewrites the filter table; fail2ban's
    // chains and jumps are kept (keep-chain f2b-*).
    const std::string extra =
        setup.backend == "iptables"
            ? "baseline = " +
                  s.dir.write("baseline.rules", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT "
                                                "[0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp "
                                                "--dport 22 -j ACCEPT\nCOMMIT\n") +
                  "\n"
            : "";
    Fail2ban f2b(s, setup.banaction);
    ASSERT_TRUE(s.reachable(k_offender));
    f2b.fail_login(k_offender);
    ASSERT_TRUE(f2b.bans(k_offender));

    // geoblock's update (on iptables: the baseline restore) keeps the ban.
    const util::RunResult up = s.geoblock("update", setup.backend, extra);
    ASSERT_EQ(up.exit_code, 0) << up.err;
    EXPECT_TRUE(s.holds());
    EXPECT_TRUE(s.blocked(k_offender)) << "geoblock's update lifted fail2ban's ban";
    if (!extra.empty()) {
      EXPECT_TRUE(contains(s.sandbox->run_checked({"iptables-save", "-t", "filter"}),
                           "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"))
          << "the baseline was not restored";
    }
    const util::RunResult st = s.geoblock("status", setup.backend, extra);
    EXPECT_EQ(st.exit_code, 0) << st.out << st.err;
    EXPECT_TRUE(contains(st.out, "  fail2ban: " + setup.seen + "; block protected: ")) << st.out;

    // fail2ban still unbans and bans.
    f2b.client({"set", "gbtest", "unbanip", k_offender});
    EXPECT_TRUE(s.reachable(k_offender));
    f2b.fail_login(k_offender);
    EXPECT_TRUE(f2b.bans(k_offender));

    s.through("fail2ban-client reload", [&] { EXPECT_TRUE(contains(f2b.client({"reload"}), "OK")); });
    s.through("fail2ban-client reload --restart (every jail stopped and started)", [&] {
      EXPECT_TRUE(contains(f2b.client({"reload", "--restart"}), "OK"));
    });
    const util::RunResult after = s.geoblock("status", setup.backend, extra);
    EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
    // And one more update with fail2ban's current rules in place.
    EXPECT_EQ(s.geoblock("update", setup.backend, extra).exit_code, 0);
    EXPECT_TRUE(time_until([&] { return s.blocked(k_offender); }, std::chrono::seconds(30)))
        << "the ban is gone after fail2ban's reload and geoblock's update";
    EXPECT_TRUE(s.holds());
  });
}

INSTANTIATE_TEST_SUITE_P(
    Backends, Fail2banBeside,
    ::testing::Values(Fail2banSetup{"iptables", "iptables-multiport", "chain f2b-gbtest"},
                      Fail2banSetup{"nftables", "nftables-multiport", "table inet f2b-table"}),
    [](const ::testing::TestParamInfo<Fail2banSetup>& p) { return p.param.backend; });

} // namespace
} // namespace geoblock::test
