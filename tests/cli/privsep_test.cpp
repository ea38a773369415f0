// Privilege separation as a user sees it (docs/security.md): `update` run
// as root downloads through a process that is the geoblock user with no
// capabilities, no_new_privs and a seccomp filter, while the root process
// holds no TCP or UDP socket; what the fetcher hands over is re-validated.
// Observed from outside, in /proc, while the mirror holds the request open.
#include "cli/separated_source.hpp"
#include "core/error.hpp"
#include "net/zone.hpp"
#include "support/geoblock_binary.hpp"
#include "support/http_fault.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"
#include "util/file.hpp"
#include "util/sandbox.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <dirent.h>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace geoblock {
namespace {

// The parent pid of `pid` (from /proc/PID/stat), or -1.
pid_t
parent_of(pid_t pid)
{
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) {
    return -1;
  }
  std::istringstream rest(text.substr(close + 2));
  char state = 0;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

std::vector<pid_t>
children_of(pid_t parent)
{
  std::vector<pid_t> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir("/proc"), ::closedir);
  while (const dirent* e = ::readdir(d.get())) {
    const std::string name = e->d_name;
    if (name.find_first_not_of("0123456789") == std::string::npos && parent_of(std::stoi(name)) == parent) {
      out.push_back(std::stoi(name));
    }
  }
  return out;
}

// Socket inodes the kernel lists in /proc/net/FILE for this namespace.
std::set<std::string>
inet_inodes(const std::vector<std::string>& files)
{
  std::set<std::string> out;
  for (const std::string& f : files) {
    std::ifstream in("/proc/net/" + f);
    std::string line;
    std::getline(in, line); // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string field;
      for (int i = 0; i < 10 && fields >> field; ++i) {
      }
      out.insert(field); // the 10th column: inode
    }
  }
  return out;
}

// Socket inodes among the open descriptors of `pid`.
std::set<std::string>
socket_inodes(pid_t pid)
{
  std::set<std::string> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) {
    return out;
  }
  while (const dirent* e = ::readdir(d.get())) {
    char target[256] = {};
    const ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
    const std::string t(target, n > 0 ? static_cast<std::size_t>(n) : 0);
    if (t.rfind("socket:[", 0) == 0) {
      out.insert(t.substr(8, t.size() - 9));
    }
  }
  return out;
}

// What the descriptors of `pid` point to (readlink of /proc/PID/fd/*).
std::set<std::string>
fd_targets(pid_t pid)
{
  std::set<std::string> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) {
    return out;
  }
  while (const dirent* e = ::readdir(d.get())) {
    char target[4096] = {};
    if (::readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1) > 0) {
      out.insert(target);
    }
  }
  return out;
}

bool
intersects(const std::set<std::string>& a, const std::set<std::string>& b)
{
  for (const std::string& x : a) {
    if (b.count(x)) {
      return true;
    }
  }
  return false;
}

TEST(PrivilegeSeparation, RootUpdateFetchesAsGeoblockWithoutCapabilitiesAndRootOpensNoInetSocket)
{
  GEOBLOCK_REQUIRE_NETNS();
  const auto account = util::lookup_account("geoblock");
  if (!account) {
    GTEST_SKIP() << "no user 'geoblock' (scripts/setup creates it)";
  }
  test::in_fresh_netns([&account] {
    test::TempDir dir;
    std::mutex m;
    std::condition_variable cv;
    bool held = false, released = false;
    test::FaultServer server([&](const test::FaultRequest& req) {
      test::FaultReply r;
      if (req.path != "/ipblocks/data/countries/cn.zone") {
        r.status = 404;
        return r;
      }
      std::unique_lock lock(m);
      held = true;
      cv.notify_all();
      cv.wait_for(lock, std::chrono::seconds(30), [&] { return released; });
      r.body = "198.51.100.0/25\n";
      return r;
    });
    const std::string conf =
        dir.write("geoblock.conf",
                  "countries = cn\nfamily = v4\nchain = INPUT\nretries = 0\nbase-url = " + server.base_url() +
                      "\ncache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                      "\nlock-file = " + dir / "lock" + "\n");
    util::RunResult result;
    std::thread runner([&] { result = test::run_geoblock({"update", "--config", conf}); });
    {
      std::unique_lock lock(m);
      cv.wait_for(lock, std::chrono::seconds(30), [&] { return held; });
    }
    ASSERT_TRUE(held) << "the zone was never requested";

    // The two processes of the update: geoblock (our child) and its fetcher.
    std::vector<pid_t> updates = children_of(::getpid());
    ASSERT_EQ(updates.size(), 1u);
    const pid_t root_pid = updates[0];
    const std::vector<pid_t> fetchers = children_of(root_pid);
    ASSERT_EQ(fetchers.size(), 1u);
    const pid_t fetcher_pid = fetchers[0];

    const util::ProcessPrivileges fetcher = util::process_privileges(fetcher_pid);
    EXPECT_EQ(fetcher.uid, account->uid);
    EXPECT_EQ(fetcher.euid, account->uid);
    EXPECT_EQ(fetcher.gid, account->gid);
    EXPECT_EQ(fetcher.groups, "");
    EXPECT_EQ(fetcher.cap_eff, 0u);
    EXPECT_EQ(fetcher.cap_prm, 0u);
    EXPECT_EQ(fetcher.cap_inh, 0u);
    EXPECT_EQ(fetcher.cap_amb, 0u);
    EXPECT_EQ(fetcher.no_new_privs, 1);
    EXPECT_EQ(fetcher.seccomp, 2);

    const util::ProcessPrivileges privileged = util::process_privileges(root_pid);
    EXPECT_EQ(privileged.euid, 0u);
    EXPECT_NE(privileged.cap_eff, 0u);
    EXPECT_EQ(privileged.seccomp, 2) << "the root process is not confined to non-network sockets";

    // The fetcher holds the TCP connection (so the check below can see
    // one); the root process holds no TCP or UDP socket at all.
    const std::set<std::string> inet = inet_inodes({"tcp", "tcp6", "udp", "udp6"});
    EXPECT_TRUE(intersects(socket_inodes(fetcher_pid), inet)) << "the fetcher's connection is not visible";
    EXPECT_FALSE(intersects(socket_inodes(root_pid), inet)) << "the root process holds an AF_INET socket";
    // Nothing of the root process reaches the fetcher: not the lock it
    // holds (nor a netlink socket it may have opened).
    EXPECT_TRUE(fd_targets(root_pid).count(dir / "lock")) << "the lock is not visible";
    EXPECT_FALSE(fd_targets(fetcher_pid).count(dir / "lock")) << "the fetcher inherited the lock";
    {
      std::lock_guard lock(m);
      released = true;
    }
    cv.notify_all();
    runner.join();
    EXPECT_EQ(result.exit_code, 0) << result.err;

    // The fetcher owns what it wrote; the cache directory stays root's.
    struct stat st {};
    ASSERT_EQ(::stat((dir / "cache/v4/cn.zone").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, account->uid);
    ASSERT_EQ(::stat((dir / "cache").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
    const auto list = util::run({"ipset", "list", "geoblock-v4"});
    EXPECT_NE(list.out.find("198.51.100.0/25"), std::string::npos) << list.out;

    // What the fetcher left is untrusted: a link it planted to a file it
    // could not read itself is refused, never read by root.
    const std::string zone = dir / "cache/v4/cn.zone";
    ASSERT_EQ(::unlink(zone.c_str()), 0);
    ASSERT_EQ(::symlink("/etc/shadow", zone.c_str()), 0);
    const auto offline = test::run_geoblock({"update", "--dry-run", "--offline", "--config", conf});
    EXPECT_NE(offline.exit_code, 0);
    EXPECT_NE(offline.err.find("a symbolic link"), std::string::npos) << offline.err;
    EXPECT_EQ(offline.out.find("root:"), std::string::npos);
  });
}

// A bundle only root may read is parsed by the fetcher all the same: root
// opens it and hands over the descriptor; the zones come back through a
// scratch directory and are re-validated.
TEST(PrivilegeSeparation, RootReadableBundleIsParsedByTheFetcher)
{
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root";
  }
  if (!util::lookup_account("geoblock")) {
    GTEST_SKIP() << "no user 'geoblock' (scripts/setup creates it)";
  }
  test::TempDir dir;
  const std::string secret = dir / "secret";
  ASSERT_EQ(::mkdir(secret.c_str(), 0700), 0);
  const std::string zip =
      dir.write("secret/zones.zip",
                util::read_file(std::string(GEOBLOCK_SOURCE_DIR) + "/tests/data/sample/zones.zip"), 0600);
  const std::string conf = dir.write(
      "geoblock.conf", "countries = li mt\nsource = bundle:" + zip + "\ncache-dir = " + dir / "cache" +
                           "\nstate-dir = " + dir / "state" + "\nlock-file = " + dir / "lock" + "\n");
  const auto r = test::run_geoblock({"update", "--dry-run", "--config", conf});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto lines = test::lines_of(r.out);
  ASSERT_GE(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[1].substr(0, 2), "li") << r.out;
  EXPECT_NE(lines[1].find("local"), std::string::npos) << r.out;
  EXPECT_EQ(lines[2].substr(0, 2), "mt") << r.out;

  // And a bundle that is not there is one error line naming it.
  const std::string missing =
      dir.write("missing.conf", "countries = li\nsource = bundle:" + dir / "none.zip" +
                                    "\ncache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                                    "\nlock-file = " + dir / "lock" + "\n");
  const auto m = test::run_geoblock({"update", "--dry-run", "--config", missing});
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.err.find(dir / "none.zip"), std::string::npos) << m.err;
}

// A fetcher that lies (here: a source that returns what the validators
// would never let through) gets nothing past the re-validation: its zone
// becomes a failure, the honest one's data arrives.
class LyingSource final : public net::ZoneSource {
public:
  std::string describe() const override { return "liar"; }
  std::vector<net::ZoneResult> load(const std::vector<std::string>&, net::Families, Mode) override
  {
    net::ZoneResult cn;
    cn.country = "cn";
    cn.origin = net::Origin::Downloaded;
    cn.nets.v4 = {net::Prefix4{0, 0}}; // the whole Internet
    net::ZoneResult de;
    de.country = "de";
    de.origin = net::Origin::Downloaded;
    de.nets.v4 = {net::Prefix4{*net::parse_v4("198.51.100.0"), 24}};
    return {cn, de};
  }
};

TEST(PrivilegeSeparation, WhatTheFetcherHandsOverIsValidatedAgain)
{
  cli::SeparationOptions o;
  if (::geteuid() == 0) {
    if (!util::lookup_account("geoblock")) {
      GTEST_SKIP() << "no user 'geoblock' (scripts/setup creates it)";
    }
    o.user = "geoblock";
  } // else the child keeps this identity, confined all the same
  o.reread.zone = net::ZoneOptions{net::Families::V4, 8, 32};
  cli::SeparatedSource source(
      o, [](const std::string&, const std::string&) { return std::make_unique<LyingSource>(); });
  const auto zones = source.load({"cn", "de"}, net::Families::V4, net::ZoneSource::Mode::Refresh);
  ASSERT_EQ(zones.size(), 2u);
  EXPECT_EQ(zones[0].origin, net::Origin::Failed);
  EXPECT_TRUE(zones[0].nets.empty());
  EXPECT_NE(zones[0].error.find("refused on re-validation"), std::string::npos) << zones[0].error;
  EXPECT_EQ(zones[1].origin, net::Origin::Downloaded);
  ASSERT_EQ(zones[1].nets.v4.size(), 1u);
  EXPECT_EQ(net::to_string(zones[1].nets.v4[0]), "198.51.100.0/24");
}

// The report the fetcher writes is parsed strictly: anything but the
// zones asked for, each once, with known origins, printable fields and
// bodies of the length announced, is an error and nothing is applied.
TEST(ChildReport, RoundTripsAndRefusesAnythingElse)
{
  net::ZoneResult a;
  a.country = "cn";
  a.family = net::Family::V4;
  a.origin = net::Origin::Downloaded;
  a.bytes = 1234;
  a.fetched_at = 1700000000;
  a.location = "https://mirror/cn.zone";
  a.nets.v4 = {net::Prefix4{*net::parse_v4("198.51.100.0"), 25}};
  net::ZoneResult b;
  b.country = "cn";
  b.family = net::Family::V6;
  b.origin = net::Origin::Failed;
  b.error = "HTTP 503\tfrom \x1b[31mmirror\n";
  b.stale = true;
  const std::string good = cli::format_child_report({b, a}); // any order
  const auto zones = cli::parse_child_report(good, {"cn"}, net::Families::Both);
  ASSERT_EQ(zones.size(), 2u);
  EXPECT_EQ(zones[0].family, net::Family::V4);
  EXPECT_EQ(zones[0].origin, net::Origin::Downloaded);
  EXPECT_EQ(zones[0].bytes, 1234u);
  EXPECT_EQ(zones[0].fetched_at, 1700000000);
  EXPECT_EQ(zones[0].body, "198.51.100.0/25\n");
  EXPECT_EQ(zones[1].origin, net::Origin::Failed);
  EXPECT_TRUE(zones[1].stale);
  EXPECT_EQ(zones[1].body, "");
  EXPECT_EQ(zones[1].error, "HTTP 503?from ?[31mmirror?"); // control characters never pass

  const auto refused = [](const std::string& text) {
    try {
      cli::parse_child_report(text, {"cn"}, net::Families::Both);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string v4 = "zone\tcn\tv4\tdownloaded\t1\t0\t0\t0\tu\t\thttp\t11\n1.0.0.0/24\n";
  const std::string v6 = "zone\tcn\tv6\tabsent\t0\t0\t0\t0\tu\t\thttp\t0\n";
  EXPECT_EQ(refused(v4 + v6 + "end\t2\n"), "accepted");
  EXPECT_NE(refused(v4 + "end\t1\n"), "accepted");      // a zone missing
  EXPECT_NE(refused(v4 + v4 + "end\t2\n"), "accepted"); // twice
  EXPECT_NE(refused(v4 + "zone\tus\tv6\tabsent\t0\t0\t0\t0\tu\t\thttp\t0\nend\t2\n"),
            "accepted"); // not asked for
  EXPECT_NE(refused(v4 + v6 + "end\t3\n"), "accepted");
  EXPECT_NE(refused(v4 + v6 + "end\t2"), "accepted"); // truncated
  EXPECT_NE(refused(v4 + v6 + "end\t2\nzone\n"), "accepted");
  EXPECT_NE(refused("zone\tcn\tv4\tfetched\t1\t0\t0\t0\tu\t\thttp\t0\n" + v6 + "end\t2\n"), "accepted");
  EXPECT_NE(refused("zone\tcn\tv4\tdownloaded\t-1\t0\t0\t0\tu\t\thttp\t0\n" + v6 + "end\t2\n"), "accepted");
  EXPECT_NE(refused("zone\tcn\tv4\tdownloaded\t1\t0\t0\t0\tu\x1b\t\thttp\t0\n" + v6 + "end\t2\n"),
            "accepted");
  EXPECT_NE(refused("zone\tcn\tv4\tdownloaded\t1\t0\t0\t0\tu\t\thttp\t0\textra\n" + v6 + "end\t2\n"),
            "accepted");
  EXPECT_NE(refused("zone\tcn\tv4\tdownloaded\t1\t0\t0\t0\tu\t\tftp\t0\n" + v6 + "end\t2\n"),
            "accepted"); // unknown source
  // Bodies: exactly as long as announced, and only for zones with data.
  EXPECT_NE(refused("zone\tcn\tv4\tdownloaded\t1\t0\t0\t0\tu\t\thttp\t99\n1.0.0.0/24\n" + v6 + "end\t2\n"),
            "accepted");
  EXPECT_NE(refused(v4 + "zone\tcn\tv6\tabsent\t0\t0\t0\t0\tu\t\thttp\t4\n::/0" + "end\t2\n"), "accepted");
  EXPECT_NE(refused(""), "accepted");
  EXPECT_EQ(refused(cli::format_child_error("cannot write /var/cache/geoblock/v4: disk full")),
            "cannot write /var/cache/geoblock/v4: disk full");
}

} // namespace
} // namespace geoblock
