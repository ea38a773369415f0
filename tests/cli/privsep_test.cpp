// Privilege separation as a user sees it (docs/security.md): `update` run
// as root downloads through a process that is the geoblock user with no
// capabilities, no_new_privs and a seccomp filter, while the root process
// holds no TCP or UDP socket; what the fetcher hands over is re-validated.
// Observed from outside, in /proc, while the mirror holds the request open.
#include "core/error.hpp"
#include "fetch/blocklist_fetch.hpp"
#include "net/zone.hpp"
#include "privsep/report.hpp"
#include "privsep/separated_source.hpp"
#include "support/geoblock_binary.hpp"
#include "support/http_fault.hpp"
#include "support/http_nginx.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"
#include "util/file.hpp"
#include "util/json.hpp"
#include "util/sandbox.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <dirent.h>
#include <filesystem>
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

// Issue 18: a file:// mirror's zone the fetch-user may not read was
// reported as "not found (HTTP 404)", a missing file. It is a failure that
// names the path, the reason and the user, and the zone's last good copy
// serves as for any failed download; a file that is really missing stays
// absent.
TEST(PrivilegeSeparation, AFileMirrorZoneTheFetchUserCannotReadIsNamedAsSuchNotAsMissing)
{
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root";
  }
  if (!util::lookup_account("geoblock")) {
    GTEST_SKIP() << "no user 'geoblock' (scripts/setup creates it)";
  }
  test::TempDir dir;
  const std::string nz = dir.write("mirror/ipblocks/data/countries/nz.zone", "203.0.113.0/24\n");
  dir.write("mirror/ipblocks/data/countries/cn.zone", "198.51.100.0/24\n");
  dir.write("mirror/ipv6/ipaddresses/blocks/cn.zone", "2001:db8:1::/48\n"); // nz has no IPv6 zone
  const std::string conf =
      dir.write("geoblock.conf", "countries = nz cn\nretries = 0\nbase-url = file://" + dir / "mirror" +
                                     "\ncache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                                     "\nlock-file = " + dir / "lock" + "\n");
  auto r = test::run_geoblock({"update", "--dry-run", "--config", conf});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(::chown(nz.c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod(nz.c_str(), 0600), 0);
  r = test::run_geoblock({"update", "--dry-run", "--json", "--config", conf});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("nz IPv4: cannot fetch file://" + nz + ": cannot read " + nz +
                       " as user geoblock: Permission denied; using the cached copy fetched "),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("404"), std::string::npos) << r.err;
  const util::Json doc = util::Json::parse(r.out, "geoblock output");
  const auto& rows = doc.get("countries").items();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].get("v4").get("source").as_string(), "stale cache");
  EXPECT_EQ(rows[0].get("v4").get("networks").as_int(), 1);
  EXPECT_EQ(rows[0].get("v6").get("source").as_string(), "absent"); // missing: still absent
}

// The extra blocklists go through the fetcher too, in the same child as
// the zones: the root process, confined once the child runs, cannot open
// a TCP socket, so a list fetched fresh in a successful update came from
// the fetcher; its cached copy is the fetch-user's. A FILE list only root
// may read is handed over as a descriptor. A list with a bad line is
// refused by the fetcher with file and line, and the last good copy
// serves (exit 4); the root process reads the cache as untrusted files.
TEST(PrivilegeSeparation, BlocklistsAreFetchedByTheFetcherAndValidatedAgain)
{
  GEOBLOCK_REQUIRE_NETNS();
  if (!test::NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  const auto account = util::lookup_account("geoblock");
  if (!account) {
    GTEST_SKIP() << "no user 'geoblock' (scripts/setup creates it)";
  }
  test::in_fresh_netns([&account] {
    test::TempDir dir;
    const std::string www = dir / "www";
    std::filesystem::create_directories(www + "/ipblocks/data/countries");
    std::filesystem::create_directories(www + "/lists");
    std::filesystem::create_directories(dir / "nginx");
    const auto serve = [&](const std::string& rel, const std::string& body) {
      std::ofstream(www + "/" + rel, std::ios::trunc) << body;
    };
    serve("ipblocks/data/countries/cn.zone", "203.0.113.0/24\n");
    const std::string good = "; DROP\n198.51.100.0/28 ; SBL1\n192.0.2.0/25\n";
    serve("lists/drop.txt", good);
    // A list only root may read: the fetch-user gets it as a descriptor.
    const std::string secret = dir / "secret";
    ASSERT_EQ(::mkdir(secret.c_str(), 0700), 0);
    const std::string own = dir.write("secret/own.txt", "198.51.100.64/26\n", 0600);
    test::NginxServer nginx(www, dir / "nginx");
    const std::string url = nginx.base_url() + "/lists/drop.txt";
    const std::string conf =
        dir.write("geoblock.conf",
                  "countries = cn\nfamily = v4\nchain = INPUT\nretries = 0\nbase-url = " + nginx.base_url() +
                      "\nblocklist = " + url + "\nblocklist = " + own + "\ncache-dir = " + dir / "cache" +
                      "\nstate-dir = " + dir / "state" + "\nlock-file = " + dir / "lock" + "\n");
    const auto members = [] { return util::run({"ipset", "list", "geoblock-v4"}).out; };

    auto r = test::run_geoblock({"update", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* net : {"203.0.113.0/24", "198.51.100.0/28", "192.0.2.0/25", "198.51.100.64/26"}) {
      EXPECT_NE(members().find(net), std::string::npos) << net << "\n" << members();
    }
    std::size_t fetched = 0;
    for (const auto& e : nginx.access_log()) {
      fetched += e.uri == "/lists/drop.txt" && e.status == 200;
    }
    EXPECT_EQ(fetched, 1u) << "the list was not downloaded in this run";
    // The cached copies are the fetcher's; the state names both lists.
    std::vector<std::string> cached;
    for (const auto& e : std::filesystem::directory_iterator(dir / "cache/lists")) {
      struct stat st {};
      ASSERT_EQ(::lstat(e.path().c_str(), &st), 0);
      EXPECT_EQ(st.st_uid, account->uid) << e.path();
      if (e.path().extension() == ".list") {
        cached.push_back(e.path());
      }
    }
    ASSERT_EQ(cached.size(), 2u);
    const std::string state = util::read_file(dir / "state/state.json");
    EXPECT_NE(state.find("\"drop.txt\""), std::string::npos) << state;
    EXPECT_NE(state.find("\"own.txt\""), std::string::npos) << state;

    // A bad line: the fetcher refuses the list, naming file and line; the
    // last good copy serves, exit 4, and the set keeps the list.
    serve("lists/drop.txt", "; DROP\n198.51.100.0/28 ; SBL1\n192.0.2.0/25 SBL2\n");
    r = test::run_geoblock({"update", "--config", conf});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_NE(r.err.find("drop.txt " + url + ":3: more than one field on the line"), std::string::npos)
        << r.err;
    EXPECT_NE(members().find("192.0.2.0/25"), std::string::npos) << members();

    // Offline, the root process reads the lists' cache itself: a link the
    // fetcher planted there is refused, never followed.
    std::string drop_copy;
    for (const std::string& c : cached) {
      if (util::read_file(c) == good) {
        drop_copy = c;
      }
    }
    ASSERT_FALSE(drop_copy.empty());
    ASSERT_EQ(::unlink(drop_copy.c_str()), 0);
    ASSERT_EQ(::symlink("/etc/shadow", drop_copy.c_str()), 0);
    r = test::run_geoblock({"update", "--dry-run", "--offline", "--json", "--config", conf});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_NE(r.err.find("a symbolic link"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("root:"), std::string::npos);
    const util::Json doc = util::Json::parse(r.out, "geoblock output");
    ASSERT_EQ(doc.get("blocklists").items().size(), 2u);
    EXPECT_EQ(doc.get("blocklists").items()[0].get("v4").get("source").as_string(), "failed");
    EXPECT_EQ(doc.get("blocklists").items()[1].get("v4").get("source").as_string(), "not modified");
  });
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
  privsep::SeparationOptions o;
  if (::geteuid() == 0) {
    if (!util::lookup_account("geoblock")) {
      GTEST_SKIP() << "no user 'geoblock' (scripts/setup creates it)";
    }
    o.user = "geoblock";
  } // else the child keeps this identity, confined all the same
  o.guards = net::ZoneOptions{net::Families::V4, 8, 32};
  privsep::SeparatedSource source(o, {[](const privsep::Paths&) { return std::make_unique<LyingSource>(); }});
  const auto zones = net::load(source, {{"cn", "de"}, net::Families::V4, net::LoadMode::Refresh}).zones;
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
  const std::string good = privsep::format_child_report({b, a}); // any order
  const auto zones = privsep::parse_child_report(good, {"cn"}, net::Families::Both);
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
  // A zone whose new data max-shrink refused carries its last good copy.
  a.origin = net::Origin::Refused;
  a.error =
      "cn IPv4: 2 to 1 networks (-97% of the addresses, more than max-shrink 50%) against its last good "
      "copy of 2026-11-18 11:06 UTC";
  const auto kept =
      privsep::parse_child_report(privsep::format_child_report({a, b}), {"cn"}, net::Families::Both);
  EXPECT_EQ(kept[0].origin, net::Origin::Refused);
  EXPECT_EQ(kept[0].body, "198.51.100.0/25\n");
  EXPECT_EQ(kept[0].error, a.error);

  const auto refused = [](const std::string& text) {
    try {
      privsep::parse_child_report(text, {"cn"}, net::Families::Both);
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
  EXPECT_EQ(refused(privsep::format_child_error("cannot write /var/cache/geoblock/v4: disk full")),
            "cannot write /var/cache/geoblock/v4: disk full");
}

// The blocklists' records come after the zones, exactly the lists asked
// for, in order, named as asked: a forged record (another list, a name or
// location not asked for, an unknown origin, a bad digest, a body for a
// failed list, one list too many or too few) refuses the whole report.
TEST(ChildReport, ListRecordsRoundTripAndForgedOnesAreRefused)
{
  net::ZoneResult z;
  z.country = "cn";
  z.family = net::Family::V4;
  z.origin = net::Origin::Downloaded;
  z.nets.v4 = {net::Prefix4{*net::parse_v4("203.0.113.0"), 24}};
  net::BlocklistResult drop;
  drop.name = "drop.txt";
  drop.location = "https://www.spamhaus.org/drop/drop.txt";
  drop.origin = net::Origin::StaleCache;
  drop.bytes = 77;
  drop.fetched_at = 1700000000;
  drop.last_modified = 1690000000;
  drop.sha256 = std::string(64, 'a');
  drop.error = "drop.txt https://www.spamhaus.org/drop/drop.txt:3: more than one field\ton the line";
  drop.nets.v4 = {net::Prefix4{*net::parse_v4("198.51.100.0"), 28}};
  drop.nets.v6 = {net::Prefix6{*net::parse_v6("2001:db8:1::"), 48}};
  net::BlocklistResult own;
  own.name = "own.txt";
  own.location = "/etc/geoblock/own.txt";
  own.origin = net::Origin::Failed;
  own.error = "cannot read /etc/geoblock/own.txt (missing or unreadable); no cached copy";
  const std::vector<privsep::ExpectedList> lists = {{drop.name, drop.location}, {own.name, own.location}};

  const std::string good = privsep::format_child_report({z}, {drop, own});
  const privsep::ChildReport r = privsep::parse_child_report(good, {"cn"}, net::Families::V4, lists);
  ASSERT_EQ(r.zones.size(), 1u);
  ASSERT_EQ(r.lists.size(), 2u);
  EXPECT_EQ(r.lists[0].name, "drop.txt");
  EXPECT_EQ(r.lists[0].location, drop.location);
  EXPECT_EQ(r.lists[0].origin, net::Origin::StaleCache);
  EXPECT_EQ(r.lists[0].bytes, 77u);
  EXPECT_EQ(r.lists[0].fetched_at, 1700000000);
  EXPECT_EQ(r.lists[0].last_modified, 1690000000);
  EXPECT_EQ(r.lists[0].sha256, drop.sha256);
  EXPECT_EQ(r.lists[0].error,
            "drop.txt https://www.spamhaus.org/drop/drop.txt:3: more than one field?on the line");
  EXPECT_EQ(r.lists[0].body, "198.51.100.0/28\n2001:db8:1::/48\n");
  EXPECT_EQ(r.lists[1].origin, net::Origin::Failed);
  EXPECT_EQ(r.lists[1].body, "");

  const auto refused = [&lists](const std::string& text) {
    try {
      privsep::parse_child_report(text, {"cn"}, net::Families::V4, lists);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string zone = "zone\tcn\tv4\tdownloaded\t1\t0\t0\t0\tu\t\thttp\t15\n203.0.113.0/24\n";
  const std::string a =
      "list\tdrop.txt\thttps://www.spamhaus.org/drop/drop.txt\tdownloaded\t9\t0\t0\t\t\t16\n"
      "198.51.100.0/28\n";
  const std::string b = "list\town.txt\t/etc/geoblock/own.txt\tfailed\t0\t0\t0\t\tmissing\t0\n";
  EXPECT_EQ(refused(zone + a + b + "end\t3\n"), "accepted");
  EXPECT_NE(refused(zone + b + a + "end\t3\n"), "accepted");     // out of order
  EXPECT_NE(refused(zone + a + "end\t2\n"), "accepted");         // a list missing
  EXPECT_NE(refused(zone + a + b + b + "end\t4\n"), "accepted"); // one too many
  EXPECT_NE(refused(zone + a + b + "end\t2\n"), "accepted");     // a count that lies
  EXPECT_NE(refused(a + zone + b + "end\t3\n"), "accepted");     // lists before the zones
  // Another list, or the right name with another location.
  EXPECT_NE(
      refused(zone + "list\tevil.txt\thttps://evil/evil.txt\tdownloaded\t9\t0\t0\t\t\t0\n" + b + "end\t3\n"),
      "accepted");
  EXPECT_NE(
      refused(zone + "list\tdrop.txt\thttps://evil/drop.txt\tdownloaded\t9\t0\t0\t\t\t0\n" + b + "end\t3\n"),
      "accepted");
  const std::string drop_head = "list\tdrop.txt\thttps://www.spamhaus.org/drop/drop.txt\t";
  for (const std::string& forged : {
           drop_head + "absent\t0\t0\t0\t\t\t0\n",                                 // never for a list
           drop_head + "fetched\t0\t0\t0\t\t\t0\n",                                // unknown origin
           drop_head + "downloaded\t-1\t0\t0\t\t\t0\n",                            // not a count
           drop_head + "downloaded\t0\t0\t0\t" + std::string(64, 'G') + "\t\t0\n", // not a digest
           drop_head + "downloaded\t0\t0\t0\tabc\t\t0\n",                          // a short digest
           drop_head + "downloaded\t0\t0\t0\t\t\t0\textra\n",                      // a field too many
           drop_head + "downloaded\t0\t0\t0\t\tx\x1b[31m\t0\n",                    // a control byte
           drop_head + "failed\t0\t0\t0\t\t\t16\n198.51.100.0/28\n",               // a body for a failure
           drop_head + "downloaded\t0\t0\t0\t\t\t99\n198.51.100.0/28\n",           // cut short
       }) {
    EXPECT_NE(refused(zone + forged + b + "end\t3\n"), "accepted") << forged;
  }
  // A zones-only reader refuses list records it did not ask for.
  EXPECT_THROW(privsep::parse_child_report(zone + a + "end\t2\n", {"cn"}, net::Families::V4), Error);
}

// What a (lying) fetcher hands over for a list is parsed again here, with
// the guards: networks they refuse, or text that is no list, make that list
// Failed, naming the list and the line; an honest list passes whole.
TEST(ChildReport, ListNetworksAreValidatedAgainWithTheGuards)
{
  const auto reported = [](const std::string& name, const std::string& body) {
    privsep::ReportedList r;
    r.name = name;
    r.location = "https://lists.example/" + name;
    r.origin = net::Origin::Downloaded;
    r.body = body;
    return r;
  };
  const net::ZoneOptions guards{net::Families::V4, 8, 32};
  const auto lists = privsep::revalidate_lists({reported("honest.txt", "198.51.100.0/28\n2001:db8:1::/48\n"),
                                                reported("world.txt", "198.51.100.0/28\n0.0.0.0/0\n"),
                                                reported("wide.txt", "10.0.0.0/7\n"),
                                                reported("junk.txt", "198.51.100.0/28 SBL1\n")},
                                               guards);
  ASSERT_EQ(lists.size(), 4u);
  EXPECT_EQ(lists[0].origin, net::Origin::Downloaded);
  EXPECT_EQ(lists[0].nets.v4.size(), 1u);
  EXPECT_EQ(lists[0].nets.v6.size(), 1u);
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(lists[i].origin, net::Origin::Failed) << lists[i].name;
    EXPECT_TRUE(lists[i].nets.empty()) << lists[i].name;
    EXPECT_EQ(lists[i].error.rfind("refused on re-validation: " + lists[i].name + " " + lists[i].location +
                                       " (handed over):",
                                   0),
              0u)
        << lists[i].error;
  }
  EXPECT_NE(lists[1].error.find("(handed over):2"), std::string::npos) << lists[1].error;
  EXPECT_NE(lists[2].error.find("(handed over):1"), std::string::npos) << lists[2].error;
}

// Lists loaded through SeparatedSource: each list's result in order, a list
// the guards refuse is that list's failure named by its real path and line
// (not the descriptor copy the fetcher read as root), the good one arrives
// and its networks pass the strict parser here again.
class ZoneOnlySource final : public net::ZoneSource {
public:
  std::string describe() const override { return "liar"; }
  std::vector<net::ZoneResult> load(const std::vector<std::string>&, net::Families, Mode) override
  {
    net::ZoneResult cn;
    cn.country = "cn";
    cn.origin = net::Origin::Downloaded;
    cn.nets.v4 = {net::Prefix4{*net::parse_v4("203.0.113.0"), 24}};
    return {cn};
  }
};

TEST(PrivilegeSeparation, ListsComeBackInOrderWithTheirRealNames)
{
  test::TempDir dir;
  privsep::SeparationOptions o;
  if (::geteuid() == 0) {
    if (!util::lookup_account("geoblock")) {
      GTEST_SKIP() << "no user 'geoblock' (scripts/setup creates it)";
    }
    o.user = "geoblock";
  }
  o.guards = net::ZoneOptions{net::Families::V4, 8, 32};
  fetch::FetchOptions fo;
  fo.zone = o.guards;
  fo.retries = 0;
  o.dir = dir / "cache";
  const std::string honest = dir.write("honest.txt", "198.51.100.0/28\n");
  const std::string wide = dir.write("wide.txt", "198.51.100.0/28\n0.0.0.0/1\n");
  // The blocklists are a source like the zones': a part of its own.
  const privsep::Part blocklists = [fo, honest, wide](const privsep::Paths& paths) {
    fetch::FetchOptions in_cache = fo;
    in_cache.cache_dir = paths.cache_dir;
    auto lists = std::make_unique<fetch::BlocklistSource>(std::vector<std::string>{honest, wide}, in_cache);
    for (const std::string& location : lists->files()) {
      if (paths.file(location) != location) {
        lists->read_from(location, paths.file(location));
      }
    }
    return lists;
  };
  privsep::SeparatedSource source(
      o, {[](const privsep::Paths&) { return std::make_unique<ZoneOnlySource>(); }, blocklists});
  const net::SourceData got = net::load(source, {{"cn"}, net::Families::V4, net::LoadMode::Refresh});
  ASSERT_EQ(got.zones.size(), 1u);
  const auto& lists = got.lists;
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(lists[0].name, "honest.txt");
  EXPECT_EQ(lists[0].origin, net::Origin::Local);
  ASSERT_EQ(lists[0].nets.v4.size(), 1u);
  EXPECT_EQ(net::to_string(lists[0].nets.v4[0]), "198.51.100.0/28");
  EXPECT_EQ(lists[1].origin, net::Origin::Failed);
  EXPECT_TRUE(lists[1].nets.empty());
  EXPECT_NE(lists[1].error.find("wide.txt " + wide + ":2"), std::string::npos) << lists[1].error;
}

} // namespace
} // namespace geoblock
