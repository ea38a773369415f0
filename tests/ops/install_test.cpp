// "cmake --install" and the CPack Debian package put every file where an
// administrator (and systemd, cron, dpkg) expects it.
#include "ops/ops_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sys/stat.h>

namespace geoblock::test::ops {
namespace {

const std::string k_source = GEOBLOCK_SOURCE_DIR;

unsigned
mode_of(const std::string& path)
{
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return 0;
  }
  return st.st_mode & 07777;
}

TEST(Install, PutsEveryFileInPlace)
{
  const Installed inst;
  ASSERT_TRUE(inst.ok()) << inst.log();

  // What each file is, and where it has to be for its reader to find it.
  const std::vector<std::pair<std::string, unsigned>> expected = {
      {"/usr/sbin/geoblock", 0755},
      {"/usr/lib/systemd/system/geoblock.service", 0644},
      {"/usr/lib/systemd/system/geoblock.timer", 0644},
      {"/usr/lib/systemd/system/geoblock-restore.service", 0644},
      {"/usr/lib/systemd/system/geoblock-metrics.service", 0644},
      {"/usr/lib/systemd/system/geoblock-metrics.timer", 0644},
      {"/etc/cron.d/geoblock", 0644},
      {"/etc/geoblock/geoblock.conf", 0644},
      {"/usr/share/doc/geoblock/examples/geoblock.conf.example", 0644},
      {"/usr/share/doc/geoblock/examples/countries.cfg.example", 0644},
      {"/usr/share/doc/geoblock/operations.md", 0644},
      {"/usr/share/doc/geoblock/security.md", 0644},
      {"/usr/lib/sysusers.d/geoblock.conf", 0644},
      {"/usr/lib/tmpfiles.d/geoblock.conf", 0644},
      {"/usr/share/bash-completion/completions/geoblock", 0644},
  };
  for (const auto& [path, mode] : expected) {
    EXPECT_TRUE(exists(inst / path)) << path << " missing; install log:\n" << inst.log();
    EXPECT_EQ(mode_of(inst / path), mode) << path;
  }

  // The installed binary is the one that was built, and runs.
  const ProcResult v = run({inst / "/usr/sbin/geoblock", "--version"});
  EXPECT_EQ(v.status, 0) << v.both();
  EXPECT_NE(v.out.find("geoblock "), std::string::npos) << v.out;

  // The shipped configuration is the documented example (every key
  // commented out, so it changes no default) and the examples are copies.
  EXPECT_EQ(read_text(inst / "/etc/geoblock/geoblock.conf"), read_text(k_source + "/geoblock.conf.example"));
  EXPECT_EQ(read_text(inst / "/usr/share/doc/geoblock/examples/countries.cfg.example"),
            read_text(k_source + "/countries.cfg.example"));
  // The completion script is the one tests/ops/completion_test.cpp drives.
  EXPECT_EQ(read_text(inst / "/usr/share/bash-completion/completions/geoblock"),
            read_text(k_source + "/completion/geoblock"));
  // No countries list is installed: what to block is the administrator's call.
  EXPECT_FALSE(exists(inst / "/etc/geoblock/countries.cfg"));
}

TEST(Install, UnitsAndCronNameTheInstalledBinary)
{
  const Installed inst;
  ASSERT_TRUE(inst.ok()) << inst.log();
  for (const std::string unit : {"geoblock.service", "geoblock-restore.service"}) {
    const Unit u = parse_unit(read_text(inst / ("/usr/lib/systemd/system/" + unit)));
    const auto exec = words(unit_value(u, "Service", "ExecStart"));
    ASSERT_FALSE(exec.empty()) << unit;
    EXPECT_EQ(exec[0], "/usr/sbin/geoblock") << unit;
  }
  EXPECT_NE(read_text(inst / "/etc/cron.d/geoblock").find("/usr/sbin/geoblock update"), std::string::npos);
}

TEST(Install, PrefixIsFollowed)
{
  // A /usr/local install must not leave units that start /usr/sbin/geoblock.
  TempDir root;
  const ProcResult r =
      run({"cmake", "--install", GEOBLOCK_BUILD_DIR, "--prefix", "/usr/local"}, {"DESTDIR=" + root.path()});
  ASSERT_EQ(r.status, 0) << r.both();
  ASSERT_TRUE(exists(root / "usr/local/sbin/geoblock"));
  const Unit u = parse_unit(read_text(root / "usr/local/lib/systemd/system/geoblock.service"));
  EXPECT_EQ(words(unit_value(u, "Service", "ExecStart")).at(0), "/usr/local/sbin/geoblock");
  EXPECT_NE(read_text(root / "etc/cron.d/geoblock").find("/usr/local/sbin/geoblock update"),
            std::string::npos);
  // cron only reads /etc/cron.d, whatever the prefix.
  EXPECT_FALSE(exists(root / "usr/local/etc/cron.d/geoblock"));
}

// Builds the package once per test program run.
class Package : public ::testing::Test {
protected:
  static void SetUpTestSuite()
  {
    s_dir = new TempDir;
    const ProcResult r = run({"cpack", "-G", "DEB", "--config",
                              std::string(GEOBLOCK_BUILD_DIR) + "/CPackConfig.cmake", "-B", s_dir->path()});
    s_log = r.both();
    const ProcResult ls = run({"find", s_dir->path(), "-maxdepth", "1", "-name", "geoblock_*.deb"});
    s_deb = trim(ls.out);
  }
  static void TearDownTestSuite()
  {
    delete s_dir;
    s_dir = nullptr;
  }
  void SetUp() override
  {
    ASSERT_FALSE(s_deb.empty()) << "cpack made no geoblock_*.deb:\n" << s_log;
    ASSERT_EQ(s_deb.find('\n'), std::string::npos) << "several packages: " << s_deb;
  }
  static std::string field(const std::string& name) { return trim(run({"dpkg-deb", "-f", s_deb, name}).out); }

  static TempDir* s_dir;
  static std::string s_log;
  static std::string s_deb;
};
TempDir* Package::s_dir = nullptr;
std::string Package::s_log;
std::string Package::s_deb;

TEST_F(Package, ListsEveryFileOwnedByRoot)
{
  const ProcResult c = run({"dpkg-deb", "-c", s_deb});
  ASSERT_EQ(c.status, 0) << c.both();
  std::map<std::string, std::string> listed; // path -> "mode owner"
  for (const auto& line : lines_of(c.out)) {
    const auto w = words(line);
    ASSERT_GE(w.size(), 6u) << line;
    listed[w[5]] = w[0] + " " + w[1];
  }
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"./usr/sbin/geoblock", "-rwxr-xr-x root/root"},
      {"./usr/lib/systemd/system/geoblock.service", "-rw-r--r-- root/root"},
      {"./usr/lib/systemd/system/geoblock.timer", "-rw-r--r-- root/root"},
      {"./usr/lib/systemd/system/geoblock-restore.service", "-rw-r--r-- root/root"},
      {"./usr/lib/systemd/system/geoblock-metrics.service", "-rw-r--r-- root/root"},
      {"./usr/lib/systemd/system/geoblock-metrics.timer", "-rw-r--r-- root/root"},
      {"./etc/cron.d/geoblock", "-rw-r--r-- root/root"},
      {"./etc/geoblock/geoblock.conf", "-rw-r--r-- root/root"},
      {"./usr/share/doc/geoblock/examples/geoblock.conf.example", "-rw-r--r-- root/root"},
      {"./usr/share/doc/geoblock/examples/countries.cfg.example", "-rw-r--r-- root/root"},
      {"./usr/share/doc/geoblock/operations.md", "-rw-r--r-- root/root"},
      {"./usr/share/doc/geoblock/security.md", "-rw-r--r-- root/root"},
      {"./usr/lib/sysusers.d/geoblock.conf", "-rw-r--r-- root/root"},
      {"./usr/lib/tmpfiles.d/geoblock.conf", "-rw-r--r-- root/root"},
      {"./usr/share/bash-completion/completions/geoblock", "-rw-r--r-- root/root"},
  };
  for (const auto& [path, attrs] : expected) {
    ASSERT_TRUE(listed.count(path)) << path << " not in the package:\n" << c.out;
    EXPECT_EQ(listed[path], attrs) << path;
  }
  // Debian packages never install into /usr/local.
  for (const auto& [path, attrs] : listed) {
    EXPECT_NE(path.rfind("./usr/local", 0), 0u) << path;
  }
}

TEST_F(Package, ControlFieldsAndConffiles)
{
  EXPECT_EQ(field("Package"), "geoblock");
  EXPECT_EQ(field("Section"), "net");
  EXPECT_FALSE(field("Version").empty());
  EXPECT_FALSE(field("Maintainer").empty());
  EXPECT_FALSE(field("Description").empty());

  // Every file under /etc is a conffile, so an upgrade keeps the
  // administrator's edits.
  TempDir control;
  ASSERT_EQ(run({"dpkg-deb", "-e", s_deb, control / "DEBIAN"}).status, 0);
  std::set<std::string> conffiles;
  for (const auto& line : lines_of(read_text(control / "DEBIAN/conffiles"))) {
    if (!trim(line).empty()) {
      conffiles.insert(trim(line));
    }
  }
  for (const auto& line : lines_of(run({"dpkg-deb", "-c", s_deb}).out)) {
    const auto w = words(line);
    if (w.size() >= 6 && w[0][0] == '-' && w[5].rfind("./etc/", 0) == 0) {
      EXPECT_TRUE(conffiles.count(w[5].substr(1))) << w[5] << " is not a conffile";
    }
  }
  EXPECT_TRUE(conffiles.count("/etc/cron.d/geoblock"));
  EXPECT_TRUE(conffiles.count("/etc/geoblock/geoblock.conf"));

  // The package creates the unprivileged user the downloads run as, with
  // the tool it depends on (docs/security.md).
  const std::string postinst = read_text(control / "DEBIAN/postinst");
  EXPECT_NE(postinst.find("adduser --system --group --no-create-home"), std::string::npos) << postinst;
  EXPECT_NE(field("Depends").find("adduser"), std::string::npos) << field("Depends");

  // Maintainer scripts are valid sh and never enable anything by themselves.
  for (const std::string script : {"postinst", "postrm"}) {
    const std::string path = control / ("DEBIAN/" + script);
    ASSERT_TRUE(exists(path)) << script;
    EXPECT_EQ(mode_of(path) & 0111, 0111u) << script << " is not executable";
    const ProcResult n = run({"sh", "-n", path});
    EXPECT_EQ(n.status, 0) << script << ": " << n.both();
    const std::string text = read_text(path);
    for (const std::string verb : {"systemctl enable", "systemctl start", "--now", "deb-systemd-invoke"}) {
      EXPECT_EQ(text.find(verb), std::string::npos) << script << " runs " << verb;
    }
  }
}

TEST_F(Package, DependsOnTheToolsAndLibraries)
{
  std::set<std::string> depends;
  std::istringstream in(field("Depends"));
  for (std::string item; std::getline(in, item, ',');) {
    depends.insert(words(item).at(0)); // drop any "(>= version)"
  }
  // The tools the applier runs and the libraries of the issue.
  for (const std::string pkg :
       {"ipset", "iptables", "libcurl4", "libzip4", "libboost-program-options1.74.0", "libipset13"}) {
    EXPECT_TRUE(depends.count(pkg)) << "Depends lacks " << pkg << ": " << field("Depends");
  }

  // Every shared library the packaged binary needs comes from a package the
  // Depends line names (catches a new link dependency nobody declared).
  TempDir tree;
  ASSERT_EQ(run({"dpkg-deb", "-x", s_deb, tree.path()}).status, 0);
  const ProcResult needed = run({"readelf", "-d", tree / "usr/sbin/geoblock"});
  ASSERT_EQ(needed.status, 0) << needed.both();
  const std::string ldconfig = run({"/sbin/ldconfig", "-p"}).out;
  int checked = 0;
  for (const auto& line : lines_of(needed.out)) {
    const auto open = line.find("(NEEDED)");
    if (open == std::string::npos) {
      continue;
    }
    const auto b = line.find('[');
    const std::string soname = line.substr(b + 1, line.find(']') - b - 1);
    if (soname.find("asan") != std::string::npos || soname.find("ubsan") != std::string::npos) {
      continue; // sanitizer builds only
    }
    std::string path;
    for (const auto& l : lines_of(ldconfig)) {
      if (words(l).size() >= 4 && words(l)[0] == soname) {
        path = words(l).back();
        break;
      }
    }
    ASSERT_FALSE(path.empty()) << soname << " not known to ldconfig";
    // dpkg knows a file by the path its package ships (/lib or /usr/lib).
    const std::string real = trim(run({"readlink", "-f", path}).out);
    std::string owner;
    for (const std::string& p :
         {real, path, replace_all(real, "/usr/lib/", "/lib/"), replace_all(path, "/usr/lib/", "/lib/")}) {
      const ProcResult s = run({"dpkg", "-S", p});
      if (s.status == 0) {
        owner = s.out.substr(0, s.out.find(':'));
        break;
      }
    }
    ASSERT_FALSE(owner.empty()) << "no package owns " << path;
    EXPECT_TRUE(depends.count(owner)) << soname << " comes from " << owner << ", which Depends lacks";
    ++checked;
  }
  EXPECT_GT(checked, 0) << needed.out;
}

TEST_F(Package, UnitsNameThePackagedBinary)
{
  TempDir tree;
  ASSERT_EQ(run({"dpkg-deb", "-x", s_deb, tree.path()}).status, 0);
  for (const std::string unit : {"geoblock.service", "geoblock-restore.service"}) {
    const Unit u = parse_unit(read_text(tree / ("usr/lib/systemd/system/" + unit)));
    const std::string bin = words(unit_value(u, "Service", "ExecStart")).at(0);
    EXPECT_EQ(bin, "/usr/sbin/geoblock") << unit;
    EXPECT_TRUE(exists(tree.path() + bin)) << unit << " starts " << bin << ", which the package lacks";
  }
}

} // namespace
} // namespace geoblock::test::ops
