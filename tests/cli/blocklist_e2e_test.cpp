// Extra blocklists and the fleet mirror, end to end: the real geoblock
// binary, real nginx on 127.0.0.1, real ipset/iptables and packets, all in
// network namespaces the tests create. Only test addresses: clients in
// 198.51.100.0/24 and 2001:db8::/32, zones in 203.0.113.0/24 and 192.0.2.0/24.
#include "support/geoblock_binary.hpp"
#include "support/http_nginx.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"
#include "util/digest.hpp"
#include "util/json.hpp"
#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <sys/stat.h>

namespace {

using namespace geoblock;
using test::run_geoblock;

constexpr const char* k_server_v4 = "198.51.100.1";
constexpr const char* k_listed_v4 = "198.51.100.10";    // in the blocklist's 198.51.100.0/28
constexpr const char* k_unlisted_v4 = "198.51.100.200"; // in no list
constexpr const char* k_server_v6 = "2001:db8:ffff::1";
constexpr const char* k_listed_v6 = "2001:db8:1::10"; // in the blocklist's 2001:db8:1::/48
constexpr const char* k_unlisted_v6 = "2001:db8:2::10";

std::string
read(const std::string& path)
{
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::int64_t
mtime_of(const std::string& path)
{
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw std::runtime_error("cannot stat " + path);
  }
  return st.st_mtime;
}

// Writes `body` to `path` with its own mtime, a minute after the previous
// file's (set, not waited for): every version is a new Last-Modified.
class Files {
public:
  void write(const std::string& path, const std::string& body)
  {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::trunc) << body;
    m_mtime += 60;
    const timespec times[2] = {{m_mtime, 0}, {m_mtime, 0}};
    if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
      throw std::runtime_error("cannot set the mtime of " + path);
    }
  }

  // An ipdeny-style zone and its directory's MD5SUM.
  void zone(const std::string& root, const std::string& family, const std::string& cc,
            const std::string& body)
  {
    const std::string dir = root + (family == "v4" ? "/ipblocks/data/countries" : "/ipv6/ipaddresses/blocks");
    write(dir + "/" + cc + ".zone", body);
    std::string sums;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() == ".zone") {
        sums += util::md5_hex(read(e.path())) + "  " + e.path().filename().string() + "\n";
      }
    }
    write(dir + "/MD5SUM", sums);
  }

  std::int64_t last() const { return m_mtime; }

private:
  std::int64_t m_mtime = ::time(nullptr) - 86400; // a day ago: fresh data, never in the future
};

std::string
config(const test::TempDir& dir, const std::string& name, const std::string& base_url,
       const std::string& extra)
{
  return dir.write(name + ".conf", "base-url = " + base_url + "\ncache-dir = " + dir / (name + "-cache") +
                                       "\nstate-dir = " + dir / (name + "-state") + "\nlock-file = " +
                                       dir / (name + ".lock") + "\nretries = 0\ntimeout = 10\n" + extra);
}

util::Json
json_of(const util::RunResult& r)
{
  return util::Json::parse(r.out, "geoblock output");
}

TEST(BlocklistEndToEnd, AFileWithCommentsBlocksItsNetworksAndAllowOnlyTakesThemOut)
{
  GEOBLOCK_REQUIRE_NETNS();
  test::in_fresh_netns([] {
    test::TempDir dir;
    Files files;
    const std::string zones = dir / "zones";
    files.zone(zones, "v4", "ru", "203.0.113.0/24\n");
    files.zone(zones, "v6", "ru", "2001:db8:f000::/36\n");
    files.zone(zones, "v4", "cn", "198.51.100.0/24\n");
    files.zone(zones, "v6", "cn", "2001:db8::/32\n");
    const std::string list = dir.write("extra.list", "# extra networks to block\n"
                                                     "; a Spamhaus-style header\n"
                                                     "198.51.100.0/28 ; SBL123 (trailing comment)\n"
                                                     "\n"
                                                     "  2001:db8:1::/48   # trailing hash comment\n"
                                                     "203.0.113.77\n");
    test::NamedNetns client;
    test::link_veth(nullptr, "gbh", {std::string(k_server_v4) + "/24", std::string(k_server_v6) + "/32"},
                    &client, "gbc",
                    {std::string(k_listed_v4) + "/24", std::string(k_unlisted_v4) + "/24",
                     std::string(k_listed_v6) + "/32", std::string(k_unlisted_v6) + "/32"});
    test::TcpServer web4(nullptr, "0.0.0.0", 80);
    test::TcpServer web6(nullptr, "::", 80);
    const auto blocked = [&](const char* from, const char* to) {
      return !test::tcp_connect(&client, from, to, 80, std::chrono::milliseconds(700));
    };
    const auto allowed = [&](const char* from, const char* to) {
      return test::eventually_connects(&client, from, to, 80);
    };
    EXPECT_TRUE(allowed(k_listed_v4, k_server_v4));

    // Block ru, plus the list: its networks are blocked, others pass.
    const std::string conf =
        config(dir, "host", "file://" + zones, "countries = ru\nblocklist = " + list + "\n");
    auto r = run_geoblock({"update", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(blocked(k_listed_v4, k_server_v4)) << "198.51.100.0/28 is in the blocklist";
    EXPECT_TRUE(blocked(k_listed_v6, k_server_v6)) << "2001:db8:1::/48 is in the blocklist";
    EXPECT_TRUE(allowed(k_unlisted_v4, k_server_v4));
    EXPECT_TRUE(allowed(k_unlisted_v6, k_server_v6));
    const std::string members = test::run_checked({"ipset", "list", "geoblock-v4"});
    EXPECT_NE(members.find("198.51.100.0/28"), std::string::npos) << members;
    EXPECT_NE(members.find("203.0.113.0/24"), std::string::npos) << members; // .77 is inside ru's /24

    // check names the list; status is in sync (it knows the list from the cache).
    r = run_geoblock({"check", "--config", conf, k_listed_v4, k_unlisted_v4});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(std::string(k_listed_v4) + ": blocked by blocklist extra.list (198.51.100.0/28)"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find(std::string(k_unlisted_v4) + ": not blocked"), std::string::npos) << r.out;
    r = run_geoblock({"status", "--config", conf});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("in sync"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("blocklist extra.list  v4 2 networks (local)  v6 1 networks (local)"),
              std::string::npos)
        << r.out;

    // Allow only cn (all of 198.51.100.0/24 and 2001:db8::/32): the list's
    // networks are taken out of what is allowed.
    const std::string allow_only =
        config(dir, "host", "file://" + zones,
               "countries = cn\npolicy = allow-only\nchain = INPUT\nblocklist = " + list + "\n");
    r = run_geoblock({"update", "--config", allow_only});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(blocked(k_listed_v4, k_server_v4)) << "in cn, but also in the blocklist";
    EXPECT_TRUE(blocked(k_listed_v6, k_server_v6)) << "in cn, but also in the blocklist";
    EXPECT_TRUE(allowed(k_unlisted_v4, k_server_v4)) << "in cn only";
    EXPECT_TRUE(allowed(k_unlisted_v6, k_server_v6)) << "in cn only";
    r = run_geoblock({"check", "--config", allow_only, k_listed_v4});
    EXPECT_NE(r.out.find("blocked by blocklist extra.list"), std::string::npos) << r.out;
  });
}

TEST(BlocklistEndToEnd, AUrlIsFetchedConditionallyAndABrokenListKeepsTheLastGoodCopy)
{
  GEOBLOCK_REQUIRE_NETNS();
  if (!test::NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  test::in_fresh_netns([] {
    test::TempDir dir;
    Files files;
    const std::string root = dir / "www";
    files.zone(root, "v4", "ru", "203.0.113.0/24\n");
    files.zone(root, "v6", "ru", "2001:db8:f000::/36\n");
    const std::string good =
        "; Spamhaus DROP List\n198.51.100.0/28 ; SBL1\n192.0.2.0/25 ; SBL2\n2001:db8:1::/48 ; SBL3\n";
    files.write(root + "/lists/drop.txt", good);
    std::filesystem::create_directories(dir / "nginx");
    test::NginxServer nginx(root, dir / "nginx");
    const std::string conf = config(dir, "host", nginx.base_url(),
                                    "countries = ru\nblocklist = " + nginx.base_url() + "/lists/drop.txt\n");
    const auto list_requests = [&] {
      std::vector<int> statuses;
      for (const auto& e : nginx.access_log()) {
        if (e.uri == "/lists/drop.txt") {
          statuses.push_back(e.status);
        }
      }
      nginx.clear_access_log();
      return statuses;
    };

    // First run: downloaded, a row of its own named after the file.
    auto r = run_geoblock({"update", "--dry-run", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(
        r.out.find("drop.txt          2        2  downloaded                      1        1  downloaded"),
        std::string::npos)
        << r.out;
    EXPECT_EQ(list_requests(), std::vector<int>{200});

    // Second run: a conditional GET, 304, the cached copy serves.
    r = run_geoblock({"update", "--dry-run", "--json", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    util::Json doc = json_of(r);
    ASSERT_EQ(doc.get("blocklists").items().size(), 1u);
    const util::Json& row = doc.get("blocklists").items()[0];
    EXPECT_EQ(row.get("name").as_string(), "drop.txt");
    EXPECT_EQ(row.get("location").as_string(), nginx.base_url() + "/lists/drop.txt");
    EXPECT_EQ(row.get("v4").get("source").as_string(), "not modified");
    EXPECT_EQ(row.get("v4").get("networks").as_int(), 2);
    EXPECT_EQ(doc.get("totals").get("v4").get("entries").as_int(), 3);
    EXPECT_EQ(list_requests(), std::vector<int>{304});

    // A broken list (a line that is not a network): refused whole, named
    // by file and line; the last good copy serves, exit 4, cache unchanged.
    std::string cached;
    for (const auto& e : std::filesystem::directory_iterator(dir / "host-cache/lists")) {
      if (e.path().extension() == ".list") {
        cached = e.path();
      }
    }
    ASSERT_FALSE(cached.empty());
    EXPECT_EQ(read(cached), good);
    files.write(root + "/lists/drop.txt",
                "; Spamhaus DROP List\n198.51.100.0/28 ; SBL1\n192.0.2.0/25 SBL2\n");
    r = run_geoblock({"update", "--dry-run", "--json", "--config", conf});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_NE(
        r.err.find("drop.txt " + nginx.base_url() + "/lists/drop.txt:3: more than one field on the line"),
        std::string::npos)
        << r.err;
    doc = json_of(r);
    EXPECT_EQ(doc.get("blocklists").items()[0].get("v4").get("source").as_string(), "stale cache");
    EXPECT_EQ(doc.get("blocklists").items()[0].get("v4").get("networks").as_int(), 2);
    EXPECT_EQ(doc.get("totals").get("v4").get("entries").as_int(), 3);
    EXPECT_EQ(read(cached), good);

    // Emptied after it had networks: suspicious, kept out the same way.
    files.write(root + "/lists/drop.txt", "; Spamhaus DROP List (empty)\n");
    r = run_geoblock({"update", "--dry-run", "--json", "--config", conf});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_NE(r.err.find("suspicious"), std::string::npos) << r.err;
    EXPECT_EQ(json_of(r).get("totals").get("v4").get("entries").as_int(), 3);
    EXPECT_EQ(read(cached), good);

    // Mended: downloaded again.
    files.write(root + "/lists/drop.txt", good + "203.0.113.0/24 ; SBL4\n");
    r = run_geoblock({"update", "--dry-run", "--json", "--config", conf});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json_of(r).get("blocklists").items()[0].get("v4").get("source").as_string(), "downloaded");
  });
}

// The fleet: host A fetches from "the internet" (nginx U) and publishes
// its mirror tree; host B's base-url is nginx M serving that tree.
TEST(Fleet, HostBPullsFromHostAsMirrorThroughNginx)
{
  GEOBLOCK_REQUIRE_NETNS();
  if (!test::NginxServer::available()) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup installs nginx-light)";
  }
  test::in_fresh_netns([] {
    test::TempDir dir;
    Files files;
    const std::string upstream = dir / "upstream";
    files.zone(upstream, "v4", "cn", "198.51.100.0/26\n198.51.100.64/26\n192.0.2.0/24\n");
    files.zone(upstream, "v6", "cn", "2001:db8:1::/48\n2001:db8:2::/48\n");
    files.zone(upstream, "v4", "ru", "203.0.113.0/24\n");
    const std::int64_t ru_v4_time = files.last() - 60; // the zone's own mtime, before MD5SUM's
    files.zone(upstream, "v6", "ru", "2001:db8:f000::/36\n");
    const std::string tree = dir / "tree";
    std::filesystem::create_directories(dir / "nginx-u");
    std::filesystem::create_directories(dir / "nginx-m");
    std::filesystem::create_directories(tree);
    test::NginxServer u(upstream, dir / "nginx-u");
    test::NginxServer m(tree, dir / "nginx-m");
    const std::string a = config(dir, "a", u.base_url(), "countries = cn ru\n");
    const std::string b = config(dir, "b", m.base_url(), "countries = cn ru\n");

    // Before anything is cached, the mirror says so and writes nothing.
    auto r = run_geoblock({"mirror", "--offline", "--output", tree, "--config", a});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("geoblock: error: mirror: no cached zones in " + dir / "a-cache"), std::string::npos)
        << r.err;
    EXPECT_TRUE(std::filesystem::is_empty(tree));

    // A fetches and mirrors (as the cache's owner it refreshes first).
    r = run_geoblock({"mirror", "--verbose", "--output", tree, "--config", a});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Every MD5SUM comes after every zone file of the run.
    std::vector<std::string> wrote;
    for (const std::string& line : test::lines_of(r.err)) {
      if (const auto at = line.find("mirror: wrote "); at != std::string::npos) {
        wrote.push_back(line.substr(at + 14));
      }
    }
    ASSERT_EQ(wrote.size(), 6u) << r.err;
    for (std::size_t i = 0; i < 4; ++i) {
      EXPECT_EQ(wrote[i].find("MD5SUM"), std::string::npos) << wrote[i];
    }
    EXPECT_EQ(wrote[4], tree + "/ipblocks/data/countries/MD5SUM");
    EXPECT_EQ(wrote[5], tree + "/ipv6/ipaddresses/blocks/MD5SUM");
    // Each zone carries its upstream Last-Modified as mtime.
    EXPECT_EQ(mtime_of(tree + "/ipblocks/data/countries/ru.zone"), ru_v4_time);
    EXPECT_EQ(mtime_of(tree + "/ipblocks/data/countries/cn.zone"),
              mtime_of(upstream + "/ipblocks/data/countries/cn.zone"));

    // It needs no root: as nobody, who cannot write A's cache, it publishes
    // that cache as it is, file for file the same tree.
    const std::vector<std::string> as_nobody = {"setpriv", "--reuid=nobody", "--regid=nogroup",
                                                "--clear-groups"};
    const auto nobody_runs = [&] {
      std::vector<std::string> argv = as_nobody;
      argv.insert(argv.end(), {GEOBLOCK_BINARY, "--version"});
      return util::program_exists("setpriv") && util::run(argv, {}, std::chrono::seconds(30)).exit_code == 0;
    };
    if (!nobody_runs()) {
      std::printf("skipped the unprivileged mirror: nobody cannot run %s here\n", GEOBLOCK_BINARY);
    } else {
      std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
      const std::string nobody_tree = dir / "tree-nobody";
      std::filesystem::create_directories(nobody_tree);
      test::run_checked({"chown", "nobody", nobody_tree});
      std::vector<std::string> argv = as_nobody;
      argv.insert(argv.end(), {GEOBLOCK_BINARY, "mirror", "--output", nobody_tree, "--config", a});
      const auto n = util::run(argv, {}, std::chrono::seconds(60));
      EXPECT_EQ(n.exit_code, 0) << n.err;
      EXPECT_NE(n.err.find("is not writable: mirroring its contents without fetching"), std::string::npos)
          << n.err;
      for (const char* f : {"/ipblocks/data/countries/cn.zone", "/ipblocks/data/countries/MD5SUM",
                            "/ipv6/ipaddresses/blocks/ru.zone", "/ipv6/ipaddresses/blocks/MD5SUM"}) {
        EXPECT_EQ(read(nobody_tree + f), read(tree + f)) << f;
      }
    }

    // B fetches from A's tree: the same zones, entry for entry.
    const auto a_run = run_geoblock({"update", "--dry-run", "--json", "--offline", "--config", a});
    ASSERT_EQ(a_run.exit_code, 0) << a_run.err;
    r = run_geoblock({"update", "--dry-run", "--json", "--config", b});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const util::Json da = json_of(a_run);
    const util::Json db = json_of(r);
    ASSERT_EQ(db.get("countries").items().size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
      for (const char* f : {"v4", "v6"}) {
        const util::Json& za = da.get("countries").items()[i].get(f);
        const util::Json& zb = db.get("countries").items()[i].get(f);
        EXPECT_EQ(zb.get("source").as_string(), "downloaded");
        EXPECT_EQ(za.get("networks").as_int(), zb.get("networks").as_int()) << i << f;
        EXPECT_EQ(za.get("aggregated").as_int(), zb.get("aggregated").as_int()) << i << f;
      }
    }
    EXPECT_EQ(da.get("totals").dump(), db.get("totals").dump());
    for (const char* sub : {"/v4/cn.zone", "/v4/ru.zone", "/v6/cn.zone", "/v6/ru.zone"}) {
      EXPECT_EQ(read(dir / "b-cache" + sub), read(dir / "a-cache" + sub)) << sub;
    }

    // A mirrors again: nothing changed, no file is replaced (same mtimes).
    const std::int64_t md5_time = mtime_of(tree + "/ipblocks/data/countries/MD5SUM");
    r = run_geoblock({"mirror", "--verbose", "--output", tree, "--config", a});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find("mirror: wrote"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("0 written, 4 unchanged"), std::string::npos) << r.err;
    EXPECT_EQ(mtime_of(tree + "/ipblocks/data/countries/MD5SUM"), md5_time);

    // B's second run is all 304: MD5SUMs and zones.
    m.clear_access_log();
    r = run_geoblock({"update", "--dry-run", "--json", "--config", b});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto log = m.access_log();
    EXPECT_EQ(log.size(), 6u);
    for (const auto& e : log) {
      EXPECT_EQ(e.status, 304) << e.uri;
    }
    const util::Json again = json_of(r);
    for (const util::Json& c : again.get("countries").items()) {
      EXPECT_EQ(c.get("v4").get("source").as_string(), "not modified");
      EXPECT_EQ(c.get("v6").get("source").as_string(), "not modified");
    }

    // Upstream changes one zone: A's mirror replaces it and the MD5SUM, B
    // downloads only that one.
    files.zone(upstream, "v4", "ru", "203.0.113.0/25\n");
    r = run_geoblock({"mirror", "--verbose", "--output", tree, "--config", a});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("1 written, 3 unchanged"), std::string::npos) << r.err;
    m.clear_access_log();
    r = run_geoblock({"update", "--dry-run", "--json", "--config", b});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> downloaded;
    for (const auto& e : m.access_log()) {
      if (e.status == 200) {
        downloaded.push_back(e.uri);
      }
    }
    std::sort(downloaded.begin(), downloaded.end());
    EXPECT_EQ(downloaded, (std::vector<std::string>{"/ipblocks/data/countries/MD5SUM",
                                                    "/ipblocks/data/countries/ru.zone"}));
    EXPECT_EQ(read(dir / "b-cache/v4/ru.zone"), "203.0.113.0/25\n");
  });
}

} // namespace
