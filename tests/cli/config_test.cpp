// Bad configuration: every error path gives its one-line message naming the
// file, line and key, exits with 2, and changes nothing on disk.
#include "support/geoblock_binary.hpp"
#include "support/temp_dir.hpp"
#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

using geoblock::test::TempDir;

namespace {

class BadConfig : public ::testing::Test {
protected:
  // A config whose state and cache directories must stay absent: any
  // command that fails on configuration must not create them.
  std::string config(const std::string& extra)
  {
    return dir.write("geoblock.conf", "cache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                                          "\nlock-file = " + dir / "lock" + "\n" + extra);
  }
  void expect_usage_error(const std::vector<std::string>& args, const std::string& message)
  {
    const auto r = geoblock::test::run_geoblock(args, std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("geoblock: error: " + message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "cache"));
    EXPECT_FALSE(std::filesystem::exists(dir / "state"));
  }
  TempDir dir;
};

TEST_F(BadConfig, UnknownKeyNamesFileAndLine)
{
  const std::string conf = config("countries = cn\nfamly = v4\n");
  expect_usage_error({"update", "--dry-run", "--config", conf}, conf + ":5: unknown key 'famly'");
}

// Found by fuzz_config: Boost.Program_options makes its messages by
// replacing placeholders ("%value%") until none is left, which never ended
// when the input held one itself: geoblock hung instead of refusing it.
TEST_F(BadConfig, PlaceholdersInTheInputAreRefusedNotHungOn)
{
  const std::string value = config("countries = cn\nretries = %value%\n");
  expect_usage_error({"update", "--dry-run", "--config", value},
                     value + ":5: the argument for option 'retries' is invalid");
  const std::string key = config("countries = cn\nretries%original_token% = 1\n");
  expect_usage_error({"update", "--dry-run", "--config", key},
                     key + ":5: unknown key 'retries%original_token%'");
  const std::string line = config("countries = cn\n%invalid_line%\n");
  expect_usage_error({"update", "--dry-run", "--config", line}, line + ": invalid syntax");
  expect_usage_error({"update", "--dry-run", "--config", config("countries = cn\n"), "--parallel", "%value%"},
                     "update: the argument for option '--parallel' is invalid");
  // Without a '%', Boost's own words.
  const std::string plain = config("countries = cn\nretries = many\n");
  expect_usage_error({"update", "--dry-run", "--config", plain},
                     plain + ":5: the argument ('many') for option 'retries' is invalid");
}

TEST_F(BadConfig, BadFamilyNamesLineAndKey)
{
  const std::string conf = config("countries = cn\n\nfamily = v5\n");
  expect_usage_error({"update", "--dry-run", "--config", conf},
                     conf + ":6: key 'family': expected v4, v6 or both, got 'v5'");
}

TEST_F(BadConfig, BadNumberNamesLine)
{
  const std::string conf = config("countries = cn\nparallel = many\n");
  expect_usage_error({"update", "--dry-run", "--config", conf}, conf + ":5: ");
}

TEST_F(BadConfig, OutOfRangeNumber)
{
  const std::string conf = config("countries = cn\nmin-prefix-v4 = 40\n");
  expect_usage_error({"update", "--dry-run", "--config", conf},
                     conf + ":5: key 'min-prefix-v4': expected a number from 1 to 32, got 40");
}

TEST_F(BadConfig, UnknownCountryInConfig)
{
  const std::string conf = config("countries = cn xx\n");
  expect_usage_error({"update", "--dry-run", "--config", conf}, conf + ":4: key 'countries': ");
}

TEST_F(BadConfig, UnknownCountryInCountriesFileNamesItsLine)
{
  const std::string list = dir.write("countries.cfg", "# blocked\ncn\nru\nzz\n");
  const std::string conf = config("countries-file = " + list + "\n");
  expect_usage_error({"update", "--dry-run", "--config", conf}, list + ":4: ");
}

TEST_F(BadConfig, ABadActionOrRateInTheCountriesFileNamesItsLineAndValue)
{
  const std::string list = dir.write("countries.cfg", "# blocked\ncn reject\nru limit 5/fortnight\n");
  const std::string conf = config("countries-file = " + list + "\n");
  expect_usage_error({"update", "--dry-run", "--config", conf},
                     list + ":3: limit '5/fortnight': unknown unit 'fortnight'");
  const std::string word = dir.write("words.cfg", "cn\nru rejct\n");
  expect_usage_error({"update", "--dry-run", "--config", config("countries-file = " + word + "\n")},
                     word + ":2: 'rejct' is neither a country code nor an action");
}

TEST_F(BadConfig, AnActionInTheCountriesKeyNamesTheKey)
{
  const std::string conf = config("countries = cn count, ru limit\n");
  expect_usage_error({"update", "--dry-run", "--config", conf},
                     conf + ":4: key 'countries': 'limit' needs a rate after it");
}

TEST_F(BadConfig, ActionsNeedCountBySource)
{
  const std::string conf = config("countries = cn count\ncount-by-source = false\n");
  expect_usage_error(
      {"update", "--dry-run", "--config", conf},
      conf + ":5: key 'count-by-source': false, but the countries list gives cn the action 'count'");
}

TEST_F(BadConfig, AllowOnlyRefusesActionsOtherThanDrop)
{
  const std::string list = dir.write("countries.cfg", "nz\nau count\n");
  const std::string conf = config("policy = allow-only\ncountries-file = " + list + "\n");
  expect_usage_error({"update", "--dry-run", "--config", conf},
                     list +
                         ":2: 'count' after au: with policy allow-only the list names the allowed countries");
}

TEST_F(BadConfig, MissingCountriesFile)
{
  const std::string conf = config("countries-file = " + dir / "nope.cfg" + "\n");
  expect_usage_error({"update", "--dry-run", "--config", conf}, conf + ":4: key 'countries-file': ");
}

TEST_F(BadConfig, EmptyCountriesFile)
{
  const std::string list = dir.write("countries.cfg", "# nothing yet\n\n");
  const std::string conf = config("countries-file = " + list + "\n");
  expect_usage_error({"update", "--dry-run", "--config", conf}, list + ": no countries listed");
}

TEST_F(BadConfig, MissingConfigGivenExplicitly)
{
  expect_usage_error({"update", "--dry-run", "--config", dir / "missing.conf"},
                     dir / "missing.conf" + ": configuration file not found");
}

TEST_F(BadConfig, BadAllowNetwork)
{
  const std::string conf = config("countries = cn\nallow = 10.0.0.0/33\n");
  expect_usage_error({"update", "--dry-run", "--config", conf},
                     conf + ":5: key 'allow': invalid IPv4 prefix length");
}

TEST_F(BadConfig, BadAllowlistFileLine)
{
  const std::string list = dir.write("allow.txt", "198.51.100.0/24\nnot-a-net\n");
  const std::string conf = config("countries = cn\nallowlist-file = " + list + "\n");
  expect_usage_error({"update", "--dry-run", "--config", conf}, list + ":2: not a network: 'not-a-net'");
}

TEST_F(BadConfig, BadBlocklistLocation)
{
  expect_usage_error(
      {"update", "--dry-run", "--config", config("countries = cn\nblocklist = ftp://x/drop.txt\n")},
      dir / "geoblock.conf" + ":5: key 'blocklist': expected an http:// or https:// URL or a file");
  expect_usage_error({"mirror", "--output", dir / "out", "--config", config("countries = cn\nblocklist =\n")},
                     dir / "geoblock.conf" + ":5: key 'blocklist': ");
}

TEST_F(BadConfig, MirrorNeedsAnOutput)
{
  const auto r = geoblock::test::run_geoblock({"mirror", "--config", config("countries = cn\n")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("geoblock: error: mirror: --output DIR is required"), std::string::npos) << r.err;
}

TEST_F(BadConfig, BadSourceAndPolicyAndSetName)
{
  expect_usage_error({"update", "--dry-run", "--config", config("countries = cn\nsource = ftp://x\n")},
                     dir / "geoblock.conf" + ":5: key 'source': ");
  expect_usage_error({"update", "--dry-run", "--config", config("countries = cn\npolicy = deny\n")},
                     dir / "geoblock.conf" + ":5: key 'policy': ");
  expect_usage_error({"update", "--dry-run", "--config", config("countries = cn\nset-name = a b\n")},
                     dir / "geoblock.conf" + ":5: key 'set-name': ");
}

TEST_F(BadConfig, CommandLineOptionIsNamedAsSuch)
{
  const std::string conf = config("countries = cn\n");
  expect_usage_error({"update", "--dry-run", "--config", conf, "--family", "v7"},
                     "option '--family': expected v4, v6 or both");
}

TEST_F(BadConfig, ConfigWritableByOthersIsRefusedForRoot)
{
  if (geteuid() != 0) {
    GTEST_SKIP() << "the ownership check applies only when running as root";
  }
  const std::string conf = config("countries = cn\n");
  ::chmod(conf.c_str(), 0666);
  expect_usage_error({"update", "--dry-run", "--config", conf},
                     conf + ": refusing a configuration file writable");
}

TEST_F(BadConfig, CountriesFileWritableByOthersIsRefusedForRoot)
{
  if (geteuid() != 0) {
    GTEST_SKIP() << "the ownership check applies only when running as root";
  }
  const std::string list = dir.write("countries.cfg", "cn\n", 0664);
  const std::string conf = config("countries-file = " + list + "\n");
  expect_usage_error({"update", "--dry-run", "--config", conf},
                     list + ": refusing a countries file writable");
}

TEST(CommandLine, UsageErrorsExitWith2)
{
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"frobnicate"},
                                             {},
                                             {"update", "--no-such-option"},
                                             {"update", "--json"},
                                             {"check", "--config", "/dev/null"},
                                             {"aggregate", "--family", "v5"}}) {
    const auto r = geoblock::test::run_geoblock(args, std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 2) << testing::PrintToString(args) << r.err;
    EXPECT_EQ(r.err.rfind("geoblock: error: ", 0), 0u) << r.err;
  }
}

TEST(CommandLine, HelpListsEveryCommandAndKey)
{
  const auto top = geoblock::test::run_geoblock({"--help"}, std::chrono::seconds(30));
  ASSERT_EQ(top.exit_code, 0);
  for (const char* cmd : {"update", "status", "restore", "remove", "check", "export", "aggregate"}) {
    EXPECT_NE(top.out.find(std::string("  ") + cmd), std::string::npos) << cmd;
  }
  const auto update = geoblock::test::run_geoblock({"update", "--help"}, std::chrono::seconds(30));
  ASSERT_EQ(update.exit_code, 0);
  for (const char* key :
       {"--countries",      "--countries-file", "--base-url",  "--family",     "--set-name",
        "--chain",          "--policy",         "--baseline",  "--baseline6",  "--allow",
        "--allowlist-file", "--cache-dir",      "--state-dir", "--max-shrink", "--min-prefix-v4",
        "--min-prefix-v6",  "--block-local",    "--parallel",  "--timeout",    "--retries",
        "--metrics-file",   "--dry-run",        "--json",      "--offline",    "--force",
        "--config"}) {
    EXPECT_NE(update.out.find(key), std::string::npos) << key;
  }
}

} // namespace

namespace {

TEST_F(BadConfig, RuleShapeValuesNameFileLineAndKey)
{
  struct Case {
    std::string line;
    std::string message; // after "<conf>:5: key '<key>': "
  };
  const std::vector<Case> cases = {
      {"ports = icmp:1", "key 'ports': 'icmp:1': unknown protocol 'icmp' (tcp, udp or sctp)"},
      {"ports = tcp:0", "key 'ports': 'tcp:0': port 0 is outside 1..65535"},
      {"ports = tcp:70000", "key 'ports': 'tcp:70000': port 70000 is outside 1..65535"},
      {"ports = tcp:90-80", "key 'ports': 'tcp:90-80': reversed range 90-80"},
      {"except-ports = 22", "key 'except-ports': '22': expected PROTO:PORT[-PORT], e.g. tcp:22"},
      {"log-rate = 10/fortnight", "key 'log-rate': '10/fortnight': unknown unit 'fortnight'"},
      {"log-rate = many", "key 'log-rate': 'many': expected N/second"},
      {"interface = eth0/1", "key 'interface': 'eth0/1' is not an interface name"},
      {"interface = averyveryverylongname",
       "key 'interface': 'averyveryverylongname' is not an interface name"},
      {"match = some", "key 'match': expected all or new, got 'some'"},
      {"direction = sideways", "key 'direction': expected in, out or both, got 'sideways'"},
      {"match = new\nchain = raw:PREROUTING", "key 'match': match new needs connection tracking"},
  };
  for (const Case& c : cases) {
    const std::string conf = config("countries = cn\n" + c.line + "\n");
    expect_usage_error({"update", "--dry-run", "--config", conf}, conf + ":5: " + c.message);
  }
  const std::string both = config("countries = cn\nports = tcp:22\nexcept-ports = tcp:80\n");
  expect_usage_error({"update", "--dry-run", "--config", both},
                     both + ":6: key 'except-ports': ports and except-ports exclude each other");
}

} // namespace
