// The installed binary does the units' job inside an emulation of their
// sandbox: a network namespace of the test's own, a private mount namespace
// where everything is read-only except /var/cache/geoblock,
// /var/lib/geoblock (CacheDirectory=, StateDirectory=; bound to the test's
// directories) and /run (ReadWritePaths=, a private tmpfs here), and only
// the unit's CapabilityBoundingSet= with NoNewPrivileges= (setpriv), and
// the cache directories its tmpfiles.d file makes.
// `update` downloads a mirror made by scripts/make-zones (through a file://
// base-url: no server needed) into the cache and fills the sets; after a
// "reboot" (a fresh namespace) with the mirror gone, `restore` rebuilds them
// from the cache alone.
//
// Not emulated: SystemCallFilter=, RestrictAddressFamilies= and the other
// Protect*= settings, which need systemd itself; systemd-analyze checks
// those in systemd_test.cpp.
#include "ops/ops_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace geoblock::test::ops {
namespace {

// Constant; the paths and the command come in as arguments.
// Arguments: the directory bound to /var/cache/geoblock and the one bound
// to /var/lib/geoblock ("-": the unit does not make it writable), "rw" when
// the unit makes /run writable, then the command.
const char* const k_sandbox_script = R"(set -e
cache=$1 state=$2 run=$3; shift 3
mount -t tmpfs -o mode=0755 tmpfs /var/cache
if [ "$cache" != - ]; then mkdir /var/cache/geoblock; mount --bind "$cache" /var/cache/geoblock; fi
mount -t tmpfs -o mode=0755 tmpfs /var/lib
if [ "$state" != - ]; then mkdir /var/lib/geoblock; mount --bind "$state" /var/lib/geoblock; fi
mount -t tmpfs -o mode=0755 tmpfs /run
keep_run=/run
[ "$run" = rw ] || keep_run=/nonexistent
findmnt -rno TARGET | while read -r m; do
  case "$m" in
    /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/var/cache/geoblock|/var/lib/geoblock|"$keep_run") ;;
    *) mount -o remount,bind,ro "$m" 2>/dev/null || true ;;
  esac
done
exec "$@"
)";
class Sandbox : public ::testing::Test {
protected:
  void SetUp() override
  {
    if (const std::string why = netns_unavailable(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    if (run({"unshare", "--mount", "--propagation", "private", "true"}).status != 0) {
      GTEST_SKIP() << "cannot create a mount namespace (unshare --mount)";
    }
    ASSERT_TRUE(m_inst.ok()) << m_inst.log();
    const Unit unit = parse_unit(read_text(m_inst / "/usr/lib/systemd/system/geoblock.service"));
    m_caps = unit_words(unit, "Service", "CapabilityBoundingSet");
    // What the unit makes writable, as systemd would.
    m_cache_arg = unit_value(unit, "Service", "CacheDirectory") == "geoblock" ? m_cache.path() : "-";
    m_state_arg = unit_value(unit, "Service", "StateDirectory") == "geoblock" ? m_state.path() : "-";
    const auto rw = unit_words(unit, "Service", "ReadWritePaths");
    m_run_arg = std::find(rw.begin(), rw.end(), "/run") != rw.end() ? "rw" : "ro";
    ASSERT_FALSE(m_caps.empty());
    if (run({"getent", "passwd", "geoblock"}).status != 0) {
      GTEST_SKIP() << "no user 'geoblock' (scripts/setup creates it)";
    }
    // What systemd-tmpfiles makes at boot from the installed tmpfiles.d
    // file: the fetch user's v4 and v6 in the cache (the units have no
    // CAP_CHOWN to make them so).
    for (const auto& line : lines_of(read_text(m_inst / "/usr/lib/tmpfiles.d/geoblock.conf"))) {
      const auto w = words(line);
      const std::string prefix = "/var/cache/geoblock/";
      if (w.size() >= 5 && w[0] == "d" && w[1].rfind(prefix, 0) == 0) {
        ASSERT_EQ(
            run({"install", "-d", "-m", w[2], "-o", w[3], "-g", w[4], m_cache / w[1].substr(prefix.size())})
                .status,
            0)
            << line;
      }
    }
    // Every path (cache, state, lock) left at its default.
    m_conf = m_etc.write("geoblock.conf", "countries = li mt\nbase-url = file://" + m_mirror.path() + "\n");
  }

  void make_mirror()
  {
    const ProcResult r = run(
        {std::string(GEOBLOCK_SOURCE_DIR) + "/scripts/make-zones", m_mirror.path(), "--countries", "li,mt"});
    ASSERT_EQ(r.status, 0) << r.both();
  }

  // argv run as the unit would run it, inside `ns`.
  ProcResult sandboxed(const Netns& ns, const std::vector<std::string>& argv)
  {
    std::string list = "-all";
    for (std::string c : m_caps) {
      std::transform(c.begin(), c.end(), c.begin(), [](unsigned char ch) { return std::tolower(ch); });
      list += ",+" + c.substr(4);
    }
    std::vector<std::string> a{"unshare",
                               "--mount",
                               "--propagation",
                               "private",
                               "--",
                               "/bin/sh",
                               "-c",
                               k_sandbox_script,
                               "sandbox",
                               m_cache_arg,
                               m_state_arg,
                               m_run_arg,
                               "setpriv",
                               "--bounding-set=" + list,
                               "--inh-caps=" + list,
                               "--no-new-privs",
                               "--"};
    a.insert(a.end(), argv.begin(), argv.end());
    // LeakSanitizer (sanitizer builds) cannot trace itself without privileges.
    return run(ns.in(a), {"ASAN_OPTIONS=detect_leaks=0"});
  }

  std::vector<std::string> geoblock(const std::string& command) const
  {
    return {m_inst / "/usr/sbin/geoblock", command, "--config", m_conf};
  }

  static std::size_t entries(const Netns& ns, const std::string& set)
  {
    const ProcResult r = run(ns.in({"ipset", "list", "-t", set}));
    const auto at = r.out.find("Number of entries: ");
    return at == std::string::npos ? 0 : std::stoul(r.out.substr(at + 19));
  }

  Installed m_inst;
  TempDir m_cache, m_state, m_etc, m_mirror;
  std::string m_conf;
  std::vector<std::string> m_caps;
  std::string m_cache_arg, m_state_arg, m_run_arg;
};

TEST_F(Sandbox, EmulationIsReadOnlyOutsideTheWritablePaths)
{
  // Proves the emulation below is real: /etc is read-only, the cache is not.
  Netns ns;
  EXPECT_NE(sandboxed(ns, {"touch", "/etc/geoblock-sandbox-probe"}).status, 0);
  EXPECT_FALSE(exists("/etc/geoblock-sandbox-probe"));
  const ProcResult ok = sandboxed(ns, {"touch", "/var/cache/geoblock/probe"});
  EXPECT_EQ(ok.status, 0) << ok.both();
  EXPECT_TRUE(exists(m_cache / "probe"));
}

TEST_F(Sandbox, UpdateThenRestoreAfterReboot)
{
  make_mirror();
  std::size_t v4 = 0;
  std::size_t v6 = 0;
  {
    Netns ns;
    const ProcResult up = sandboxed(ns, geoblock("update"));
    ASSERT_EQ(up.status, 0) << up.both();
    v4 = entries(ns, "geoblock-v4");
    v6 = entries(ns, "geoblock-v6");
    EXPECT_GT(v4, 0u) << up.both();
    EXPECT_GT(v6, 0u) << up.both();
    const ProcResult rules = run(ns.in({"iptables-save"}));
    EXPECT_NE(rules.out.find("--match-set geoblock-v4"), std::string::npos) << rules.both();

    // The timer's next run on an unchanged source changes nothing.
    const ProcResult again = sandboxed(ns, geoblock("update"));
    EXPECT_EQ(again.status, 0) << again.both();
    EXPECT_EQ(entries(ns, "geoblock-v4"), v4);
  }
  // What the writable directories hold is all a reboot keeps; the source
  // is gone.
  EXPECT_NE(run({"find", m_cache.path(), "-type", "f"}).out, "");
  EXPECT_NE(run({"find", m_state.path(), "-type", "f"}).out, "");
  ASSERT_EQ(run({"rm", "-rf", m_mirror / "ipblocks", m_mirror / "ipv6"}).status, 0);

  Netns rebooted; // no sets, no rules
  ASSERT_EQ(entries(rebooted, "geoblock-v4"), 0u);
  const ProcResult restore = sandboxed(rebooted, geoblock("restore"));
  ASSERT_EQ(restore.status, 0) << restore.both();
  EXPECT_EQ(entries(rebooted, "geoblock-v4"), v4) << restore.both();
  EXPECT_EQ(entries(rebooted, "geoblock-v6"), v6) << restore.both();
  const ProcResult rules = run(rebooted.in({"ip6tables-save"}));
  EXPECT_NE(rules.out.find("--match-set geoblock-v6"), std::string::npos) << rules.both();
}

} // namespace
} // namespace geoblock::test::ops
