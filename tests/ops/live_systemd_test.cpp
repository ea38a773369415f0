// The installed units under a live systemd: a container (systemd-nspawn,
// see nspawn.hpp) boots the host's /usr with the install tree laid over
// it, in a network namespace of its own. There `systemctl start
// geoblock.service` runs the real sandbox of the unit (seccomp, capability
// bounding set, read-only file system, ProtectProc=...) against a mirror
// made by scripts/make-zones and bound into the container (file://
// base-url); the timer is enabled; a reboot with saved iptables rules that
// name geoblock's sets comes up with the sets restored before the rules
// load; a failed update is a failed unit with geoblock's one-line error in
// the journal.
//
// netfilter-persistent: the host's package when it is installed (it is not
// installed by scripts/setup: its postinst enables the host's own boot-time
// loader and, by default, saves the host's running rules for it); else its
// unit, emulated in the container's /etc with the package's [Unit] and
// [Install] sections verbatim (that is what orders it) and an ExecStart=
// doing what its iptables plugins do.
//
// Skips only where no container can be booted (not root, no
// systemd-nspawn, or a bare boot fails on this machine).
#include "ops/nspawn.hpp"
#include "ops/ops_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <iostream>
#include <map>
#include <memory>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace geoblock::test::ops {
namespace {

using namespace std::chrono_literals;

// Capability numbers (linux/capability.h) of the names a unit may list.
const std::map<std::string, int> k_cap_numbers = {
    {"CAP_CHOWN", 0},           {"CAP_DAC_OVERRIDE", 1},
    {"CAP_DAC_READ_SEARCH", 2}, {"CAP_FOWNER", 3},
    {"CAP_FSETID", 4},          {"CAP_KILL", 5},
    {"CAP_SETGID", 6},          {"CAP_SETUID", 7},
    {"CAP_SETPCAP", 8},         {"CAP_NET_BIND_SERVICE", 10},
    {"CAP_NET_BROADCAST", 11},  {"CAP_NET_ADMIN", 12},
    {"CAP_NET_RAW", 13},        {"CAP_IPC_LOCK", 14},
    {"CAP_SYS_CHROOT", 18},     {"CAP_SYS_PTRACE", 19},
    {"CAP_SYS_ADMIN", 21},      {"CAP_SYS_RESOURCE", 24},
};

std::uint64_t
cap_mask(const std::vector<std::string>& names)
{
  std::uint64_t mask = 0;
  for (const auto& n : names) {
    const auto it = k_cap_numbers.find(n);
    if (it == k_cap_numbers.end()) {
      ADD_FAILURE() << "capability " << n << " unknown to the test";
      continue;
    }
    mask |= std::uint64_t{1} << it->second;
  }
  return mask;
}

// One thread of a process of a unit, as the kernel reports it.
struct Task {
  std::string pid, tid, name;
  std::vector<std::string> uids; // real, effective, saved, file system
  std::uint64_t cap_eff = 0, cap_prm = 0, cap_bnd = 0;
  std::string no_new_privs, seccomp;
  bool holds_file = false; // its process has the file asked about open
  std::string describe() const
  {
    char caps[160];
    std::snprintf(caps, sizeof caps, "CapEff=%016" PRIx64 " CapPrm=%016" PRIx64 " CapBnd=%016" PRIx64,
                  cap_eff, cap_prm, cap_bnd);
    std::string uid;
    for (const auto& u : uids) {
      uid += (uid.empty() ? "" : ",") + u;
    }
    return "pid " + pid + " tid " + tid + " " + name + " uid=" + uid + " " + caps +
           " NoNewPrivs=" + no_new_privs + " Seccomp=" + seccomp + (holds_file ? " (has the zone open)" : "");
  }
};

std::string
read_or_empty(const std::string& path)
{
  try {
    return read_text(path);
  } catch (const std::exception&) {
    return {};
  }
}

std::vector<std::string>
numeric_entries(const std::string& dir)
{
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
        out.emplace_back(e->d_name);
      }
    }
    closedir(d);
  }
  return out;
}

// Every thread of every process that systemd runs in `unit` inside the
// container whose init is `init` (seen from the host's /proc: the process
// descends from that init and sits in the unit's control group); marks
// those whose process has `file` open.
std::vector<Task>
unit_tasks(pid_t init, const std::string& unit, const std::string& file)
{
  struct stat wanted {};
  if (::stat(file.c_str(), &wanted) != 0) {
    ADD_FAILURE() << "cannot stat " << file;
  }
  std::vector<Task> tasks;
  for (const auto& pid : numeric_entries("/proc")) {
    const std::string cgroup = read_or_empty("/proc/" + pid + "/cgroup");
    if (cgroup.find("/" + unit + "\n") == std::string::npos) {
      continue;
    }
    bool ours = false;
    std::string p = pid;
    for (int depth = 0; depth < 64 && !ours; ++depth) {
      const std::string stat = read_or_empty("/proc/" + p + "/stat");
      const auto close = stat.rfind(')');
      if (close == std::string::npos) {
        break;
      }
      const auto w = words(stat.substr(close + 1)); // state, ppid, ...
      if (w.size() < 2 || w[1] == "0") {
        break;
      }
      p = w[1];
      ours = p == std::to_string(init);
    }
    if (!ours) {
      continue;
    }
    bool holds = false;
    for (const auto& fd : numeric_entries("/proc/" + pid + "/fd")) {
      struct stat st {};
      if (::stat(("/proc/" + pid + "/fd/" + fd).c_str(), &st) == 0 && st.st_dev == wanted.st_dev &&
          st.st_ino == wanted.st_ino) {
        holds = true;
      }
    }
    for (const auto& tid : numeric_entries("/proc/" + pid + "/task")) {
      const std::string base = "/proc/" + pid + "/task/" + tid + "/";
      Task t;
      t.pid = pid;
      t.tid = tid;
      for (const auto& line : lines_of(read_or_empty(base + "status"))) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) {
          continue;
        }
        const std::string key = line.substr(0, colon);
        const std::string value = trim(line.substr(colon + 1));
        if (key == "Name") {
          t.name = value;
        } else if (key == "Uid") {
          t.uids = words(value);
        } else if (key == "CapEff") {
          t.cap_eff = std::stoull(value, nullptr, 16);
        } else if (key == "CapPrm") {
          t.cap_prm = std::stoull(value, nullptr, 16);
        } else if (key == "CapBnd") {
          t.cap_bnd = std::stoull(value, nullptr, 16);
        } else if (key == "NoNewPrivs") {
          t.no_new_privs = value;
        } else if (key == "Seccomp") {
          t.seccomp = value;
        }
      }
      t.holds_file = holds;
      if (!t.uids.empty()) {
        tasks.push_back(t);
      }
    }
  }
  return tasks;
}

// The Debian 12 unit of netfilter-persistent 1.0.20 with the drop-in of
// iptables-persistent; [Unit] and [Install] as the packages ship them,
// ExecStart= as "netfilter-persistent start" runs the 15-ip4tables and
// 25-ip6tables plugins (iptables-restore of the saved files; a failed
// restore fails the unit).
const char* const k_netfilter_persistent_unit = R"([Unit]
Description=netfilter persistent configuration
DefaultDependencies=no
Wants=network-pre.target systemd-modules-load.service local-fs.target
Before=network-pre.target shutdown.target
After=systemd-modules-load.service local-fs.target
Conflicts=shutdown.target
Documentation=man:netfilter-persistent(8)

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -ec 'if [ -f /etc/iptables/rules.v4 ]; then iptables-restore < /etc/iptables/rules.v4; fi; if [ -f /etc/iptables/rules.v6 ]; then ip6tables-restore < /etc/iptables/rules.v6; fi'

[Install]
WantedBy=multi-user.target
Alias=iptables.service ip6tables.service
)";

class LiveSystemd : public ::testing::Test {
protected:
  void SetUp() override
  {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to boot a container (systemd-nspawn)";
    }
    if (run({"systemd-nspawn", "--version"}).status != 0) {
      GTEST_SKIP() << "systemd-nspawn is not installed (Debian package systemd-container)";
    }
    // A FIFO writer whose reader went away must fail, not kill the test.
    std::signal(SIGPIPE, SIG_IGN);
    ASSERT_TRUE(m_inst.ok()) << m_inst.log();
    for (const std::string d : {"etc", "etc/geoblock", "units", "cache", "state"}) {
      ASSERT_EQ(::mkdir((m_dir / d).c_str(), 0755), 0) << d;
    }
    // A sanitizer build's binary: LeakSanitizer stops the process with
    // ptrace, which the units' system call filter forbids, as it should.
    if (cmake_cache("GEOBLOCK_SANITIZE") == "ON") {
      for (const std::string unit : {"geoblock.service", "geoblock-restore.service"}) {
        m_dir.write("units/" + unit + ".d/sanitizer.conf",
                    "[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n");
      }
    }
    // The mirror is read by whoever fetches, maybe an unprivileged user.
    ASSERT_EQ(::chmod(m_mirror.path().c_str(), 0755), 0);
    m_unit = parse_unit(read_text(m_inst / "/usr/lib/systemd/system/geoblock.service"));
    configure("countries = li mt\nbase-url = file:///srv/mirror\n");
  }

  // /etc/geoblock/geoblock.conf as the container sees it (written into the
  // writable layer of its /etc while no container runs).
  void configure(const std::string& text) const { m_dir.write("etc/geoblock/geoblock.conf", text, 0644); }

  void make_mirror() const
  {
    const ProcResult r = run(
        {std::string(GEOBLOCK_SOURCE_DIR) + "/scripts/make-zones", m_mirror.path(), "--countries", "li,mt"});
    ASSERT_EQ(r.status, 0) << r.both();
    ASSERT_EQ(run({"chmod", "-R", "a+rX", m_mirror.path()}).status, 0);
  }

  BootSpec spec() const
  {
    BootSpec s;
    s.usr_layers = {m_inst / "/usr"};
    s.etc_layers = {m_inst / "/etc"};
    s.etc_upper = m_dir / "etc";
    s.unit_dir = m_dir / "units";
    s.binds = {{m_dir / "cache", "/var/cache/geoblock"}, {m_dir / "state", "/var/lib/geoblock"}};
    s.binds_ro = {{m_mirror.path(), "/srv/mirror"}};
    return s;
  }

  // A booted container, or null after skipping (this machine cannot boot
  // one at all) or failing (it can, but not with the test's setup).
  std::unique_ptr<Container> boot() const
  {
    auto c = std::make_unique<Container>(spec());
    if (c->booted()) {
      return c;
    }
    const std::string state = c->state();
    c.reset();
    if (const std::string why = nspawn_unavailable(); !why.empty()) {
      [&] { GTEST_SKIP() << why; }();
    } else {
      ADD_FAILURE() << "a bare container boots, the test's does not: " << state;
    }
    return nullptr;
  }

  static std::string property(const Container& c, const std::string& unit, const std::string& name)
  {
    return trim(c.exec({"systemctl", "show", "--property=" + name, "--value", unit}).out);
  }

  // Waits (bounded) until a started oneshot unit is no longer activating.
  static void wait_until_settled(const Container& c, const std::string& unit)
  {
    for (int i = 0; i < 1200 && property(c, unit, "ActiveState") == "activating"; ++i) {
      std::this_thread::sleep_for(100ms);
    }
  }

  static std::size_t entries(const Container& c, const std::string& set)
  {
    const ProcResult r = c.exec({"ipset", "list", "-t", set});
    const auto at = r.out.find("Number of entries: ");
    return at == std::string::npos ? 0 : std::stoul(r.out.substr(at + 19));
  }

  static std::size_t count(const std::string& text, const std::string& what)
  {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
      ++n;
    }
    return n;
  }

  // Privilege separation (issue 13) lets geoblock.service switch users.
  bool privilege_separated() const
  {
    const auto caps = unit_words(m_unit, "Service", "CapabilityBoundingSet");
    return std::find(caps.begin(), caps.end(), "CAP_SETUID") != caps.end();
  }

  Installed m_inst;
  TempDir m_dir, m_mirror;
  Unit m_unit;
};

TEST_F(LiveSystemd, UpdateAppliesTheBlockUnderTheRealSandbox)
{
  make_mirror();
  // The IPv4 zone of li becomes a FIFO: whoever fetches it blocks opening
  // it until the test writes, so the fetching process can be looked at.
  const std::string fifo = m_mirror / "ipblocks/data/countries/li.zone";
  const std::string zone = read_text(fifo);
  ASSERT_EQ(::unlink(fifo.c_str()), 0);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  const std::string first_network = lines_of(zone).at(0);
  const std::string first_address = first_network.substr(0, first_network.find('/'));

  const auto box = boot();
  if (!box) {
    return;
  }
  const Container& c = *box;
  std::string fetch_user = "root";
  if (privilege_separated()) {
    fetch_user = "geoblock";
    // The documented install step when the package did not create it.
    if (c.exec({"getent", "passwd", "geoblock"}).status != 0) {
      const ProcResult add = c.exec({"useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                                     "--shell", "/usr/sbin/nologin", "geoblock"});
      ASSERT_EQ(add.status, 0) << add.both();
    }
    // The package's postinst step: the cache's v4, v6 and lists become the
    // fetch user's (the units hold no CAP_CHOWN to do it themselves).
    const ProcResult tmpfiles = c.exec({"systemd-tmpfiles", "--create", "geoblock.conf"});
    ASSERT_EQ(tmpfiles.status, 0) << tmpfiles.both();
  }
  const auto pw = [&] {
    std::vector<std::string> f;
    std::istringstream in(trim(c.exec({"getent", "passwd", fetch_user}).out));
    for (std::string x; std::getline(in, x, ':');) {
      f.push_back(x);
    }
    return f;
  }();
  ASSERT_GE(pw.size(), 3u) << "no user " << fetch_user << " in the container";
  const std::string fetch_uid = pw[2];

  const ProcResult start = c.exec({"systemctl", "start", "--no-block", "geoblock.service"});
  ASSERT_EQ(start.status, 0) << start.both();

  // A non-blocking open for writing succeeds once a reader waits in open();
  // the reader then waits for the data, with the FIFO open.
  int fd = -1;
  for (int i = 0; i < 600 && fd < 0; ++i) {
    fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      if (i % 10 == 9 && property(c, "geoblock.service", "ActiveState") != "activating") {
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_GE(fd, 0) << "nothing opened " << fifo << ":\n" << c.journal("geoblock.service");
  // The reader's open() returns once the writer is there; it then waits
  // for data with the FIFO among its descriptors.
  std::vector<Task> tasks;
  auto holds = [](const Task& t) { return t.holds_file; };
  for (int i = 0; i < 200 && std::none_of(tasks.begin(), tasks.end(), holds); ++i) {
    if (i > 0) {
      std::this_thread::sleep_for(50ms);
    }
    tasks = unit_tasks(c.init_pid(), "geoblock.service", fifo);
  }
  ASSERT_EQ(::fcntl(fd, F_SETFL, 0), 0);
  const bool written = ::write(fd, zone.data(), zone.size()) == static_cast<ssize_t>(zone.size());
  ::close(fd);
  EXPECT_TRUE(written);
  wait_until_settled(c, "geoblock.service");

  // The run succeeded and the block is in the container's firewall.
  EXPECT_EQ(property(c, "geoblock.service", "Result"), "success") << c.journal("geoblock.service");
  EXPECT_EQ(property(c, "geoblock.service", "ExecMainStatus"), "0");
  EXPECT_GT(entries(c, "geoblock-v4"), 0u) << c.journal("geoblock.service");
  EXPECT_GT(entries(c, "geoblock-v6"), 0u);
  const ProcResult member = c.exec({"ipset", "test", "geoblock-v4", first_address});
  EXPECT_EQ(member.status, 0) << first_address << " of li's " << first_network << ": " << member.both();
  EXPECT_EQ(count(c.exec({"iptables-save"}).out, "--match-set geoblock-v4 src"), 1u);
  EXPECT_EQ(count(c.exec({"ip6tables-save"}).out, "--match-set geoblock-v6 src"), 1u);
  EXPECT_NE(run({"find", m_dir / "cache", "-type", "f"}).out, "") << "nothing cached";

  // The sandbox as the kernel applied it to every thread of the unit,
  // and who fetched.
  ASSERT_FALSE(tasks.empty());
  const std::uint64_t bounding = cap_mask(unit_words(m_unit, "Service", "CapabilityBoundingSet"));
  std::string table;
  const Task* fetcher = nullptr;
  for (const auto& t : tasks) {
    table += "  " + t.describe() + "\n";
    EXPECT_EQ(t.cap_bnd, bounding) << t.describe();
    EXPECT_EQ(t.cap_eff & ~bounding, 0u) << t.describe();
    EXPECT_EQ(t.no_new_privs, "1") << t.describe(); // NoNewPrivileges=yes
    EXPECT_EQ(t.seccomp, "2") << t.describe();      // SystemCallFilter=
    if (t.holds_file && fetcher == nullptr) {
      fetcher = &t;
    }
  }
  std::cout << "geoblock.service while fetching:\n" << table;
  ASSERT_NE(fetcher, nullptr) << "no process of geoblock.service has the zone open:\n" << table;
  for (const auto& t : tasks) {
    if (!t.holds_file) {
      continue;
    }
    for (const auto& u : t.uids) {
      EXPECT_EQ(u, fetch_uid) << "the fetching process runs as " << t.describe();
    }
    if (privilege_separated()) {
      // Untrusted input never meets root: no capability at all.
      EXPECT_EQ(t.cap_eff, 0u) << t.describe();
      EXPECT_EQ(t.cap_prm, 0u) << t.describe();
    } else {
      // One process does everything, with the unit's capabilities only.
      EXPECT_EQ(t.cap_eff, bounding) << t.describe();
    }
  }
}

TEST_F(LiveSystemd, TimerIsEnabledForAMonthlyRandomizedRun)
{
  const auto box = boot();
  if (!box) {
    return;
  }
  const Container& c = *box;
  const ProcResult enable = c.exec({"systemctl", "enable", "--now", "geoblock.timer"});
  ASSERT_EQ(enable.status, 0) << enable.both();
  EXPECT_EQ(trim(c.exec({"systemctl", "is-enabled", "geoblock.timer"}).out), "enabled");
  EXPECT_EQ(trim(c.exec({"systemctl", "is-active", "geoblock.timer"}).out), "active");
  // Enabling wrote into the container's /etc (the test's directory).
  struct stat link {};
  EXPECT_EQ(::lstat((m_dir / "units/timers.target.wants/geoblock.timer").c_str(), &link), 0);

  const ProcResult list = c.exec({"systemctl", "list-timers", "--all", "--no-pager", "geoblock.timer"});
  std::cout << list.out;
  ASSERT_EQ(list.status, 0) << list.both();
  std::string row;
  for (const auto& line : lines_of(list.out)) {
    if (line.find("geoblock.timer") != std::string::npos) {
      row = line;
    }
  }
  ASSERT_NE(row, "") << list.out;
  EXPECT_NE(row.find("geoblock.service"), std::string::npos) << row;
  EXPECT_EQ(row.find("n/a"), std::string::npos) << "no next run: " << row;

  // Next run: the 1st of a month, at most a month away, at an offset into
  // the day (RandomizedDelaySec=1d, fixed per host).
  EXPECT_EQ(property(c, "geoblock.timer", "RandomizedDelayUSec"), "1d");
  EXPECT_EQ(property(c, "geoblock.timer", "FixedRandomDelay"), "yes");
  EXPECT_EQ(property(c, "geoblock.timer", "Persistent"), "yes");
  const std::string next =
      property(c, "geoblock.timer", "NextElapseUSecRealtime"); // "Fri 2027-01-01 05:12:33 UTC"
  const auto w = words(next);
  ASSERT_GE(w.size(), 3u) << next;
  EXPECT_EQ(w[1].substr(8), "01") << "not on the 1st: " << next;
  EXPECT_NE(w[2], "00:00:00") << "no randomized delay: " << next;
  const long long at = std::stoll(trim(c.exec({"date", "-d", next, "+%s"}).out));
  const long long now = std::stoll(trim(c.exec({"date", "+%s"}).out));
  EXPECT_GT(at, now) << next;
  EXPECT_LE(at - now, 32LL * 86400) << "more than a month away: " << next;
}

TEST_F(LiveSystemd, BootRestoresTheSetsBeforeTheSavedRulesLoad)
{
  make_mirror();
  const bool real_package = exists("/usr/lib/systemd/system/netfilter-persistent.service") &&
                            exists("/usr/share/netfilter-persistent/plugins.d/15-ip4tables");
  if (!real_package) {
    m_dir.write("units/netfilter-persistent.service", k_netfilter_persistent_unit);
  }
  std::cout << "netfilter-persistent: " << (real_package ? "the host's package" : "emulated unit") << "\n";
  std::size_t v4 = 0;
  std::size_t v6 = 0;
  {
    // First boot: an update, then the administrator saves the firewall.
    const auto box = boot();
    if (!box) {
      return;
    }
    const Container& c = *box;
    const ProcResult enable =
        c.exec({"systemctl", "enable", "geoblock-restore.service", "netfilter-persistent.service"});
    ASSERT_EQ(enable.status, 0) << enable.both();
    const ProcResult up = c.exec({"systemctl", "start", "geoblock.service"});
    ASSERT_EQ(up.status, 0) << up.both() << c.journal("geoblock.service");
    v4 = entries(c, "geoblock-v4");
    v6 = entries(c, "geoblock-v6");
    ASSERT_GT(v4, 0u);
    ASSERT_GT(v6, 0u);
    const ProcResult save = real_package
                                ? c.exec({"netfilter-persistent", "save"})
                                : c.exec({"sh", "-ec",
                                          "mkdir -p /etc/iptables; iptables-save > /etc/iptables/rules.v4; "
                                          "ip6tables-save > /etc/iptables/rules.v6"});
    ASSERT_EQ(save.status, 0) << save.both();
  }
  const std::string saved = read_text(m_dir / "etc/iptables/rules.v4");
  ASSERT_NE(saved.find("--match-set geoblock-v4 src"), std::string::npos) << saved;
  // The source is gone: what comes back comes from the cache.
  ASSERT_EQ(run({"rm", "-rf", m_mirror / "ipblocks", m_mirror / "ipv6"}).status, 0);

  {
    // Reboot: the sets first, then the saved rules, which load.
    const auto box = boot();
    if (!box) {
      return;
    }
    const Container& c = *box;
    EXPECT_EQ(property(c, "geoblock-restore.service", "ActiveState"), "active")
        << c.journal("geoblock-restore.service");
    EXPECT_EQ(property(c, "netfilter-persistent.service", "ActiveState"), "active")
        << c.journal("netfilter-persistent.service");
    const std::string log = c.journal("netfilter-persistent.service");
    EXPECT_EQ(log.find("doesn't exist"), std::string::npos) << log;
    const long long restored =
        std::stoll(property(c, "geoblock-restore.service", "ExecMainExitTimestampMonotonic"));
    const long long loaded =
        std::stoll(property(c, "netfilter-persistent.service", "ExecMainStartTimestampMonotonic"));
    EXPECT_GT(restored, 0);
    EXPECT_LE(restored, loaded) << "the saved rules loaded before the sets were restored:\n" << c.journal();
    EXPECT_EQ(entries(c, "geoblock-v4"), v4);
    EXPECT_EQ(entries(c, "geoblock-v6"), v6);
    // Exactly the saved rule: restored by geoblock, then replaced by the
    // saved table that holds it too.
    EXPECT_EQ(count(c.exec({"iptables-save"}).out, "--match-set geoblock-v4 src"), 1u);
    EXPECT_EQ(count(c.exec({"ip6tables-save"}).out, "--match-set geoblock-v6 src"), 1u);
    ASSERT_EQ(c.exec({"systemctl", "disable", "geoblock-restore.service"}).status, 0);
  }
  {
    // Without geoblock-restore.service the same boot fails to load the
    // saved rules: the bug the unit exists for, and proof that the checks
    // above can fail.
    const auto box = boot();
    if (!box) {
      return;
    }
    const Container& c = *box;
    EXPECT_EQ(property(c, "netfilter-persistent.service", "ActiveState"), "failed");
    const std::string log = c.journal("netfilter-persistent.service");
    EXPECT_NE(log.find("doesn't exist"), std::string::npos) << log;
    EXPECT_EQ(count(c.exec({"iptables-save"}).out, "--match-set geoblock-v4 src"), 0u);
  }
}

TEST_F(LiveSystemd, FailedUpdateIsAFailedUnitWithTheErrorInTheJournal)
{
  // The mirror is down (nothing listens in the container's own network
  // namespace) and there is no cache.
  configure("countries = li mt\nbase-url = http://127.0.0.1:9\nretries = 0\n");
  const auto box = boot();
  if (!box) {
    return;
  }
  const Container& c = *box;
  const ProcResult start = c.exec({"systemctl", "start", "geoblock.service"});
  EXPECT_NE(start.status, 0) << start.both();
  const ProcResult failed = c.exec({"systemctl", "is-failed", "geoblock.service"});
  EXPECT_EQ(failed.status, 0) << failed.both();
  EXPECT_EQ(trim(failed.out), "failed");
  EXPECT_EQ(property(c, "geoblock.service", "Result"), "exit-code");
  EXPECT_EQ(property(c, "geoblock.service", "ExecMainStatus"), "1");

  const std::string log = c.exec({"journalctl", "--no-pager", "-o", "cat", "-u", "geoblock.service"}).out;
  std::cout << log;
  std::vector<std::string> errors;
  for (const auto& line : lines_of(log)) {
    if (line.rfind("geoblock: error: ", 0) == 0) {
      errors.push_back(line);
    }
  }
  // One error line (what went wrong in the end); the warnings before it
  // name what failed.
  EXPECT_EQ(errors.size(), 1u) << log;
  EXPECT_NE(log.find("cannot fetch http://127.0.0.1:9/"), std::string::npos) << log;
  // Nothing was applied.
  EXPECT_NE(c.exec({"ipset", "list", "-n", "geoblock-v4"}).status, 0);
}

} // namespace
} // namespace geoblock::test::ops
