// The README's first command: `geoblock update --dry-run` on the bundled
// sample, offline, and without root.
#include "flow/config.hpp"
#include "util/file.hpp"
#include "util/json.hpp"
#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

namespace {

using namespace geoblock;

std::vector<std::string>
sample_countries()
{
  const std::string path = std::string(GEOBLOCK_SOURCE_DIR) + "/tests/data/sample/countries.cfg";
  return flow::parse_countries_file(util::read_file(path), path);
}

// True when user `nobody` can run the binary and read the sample (a
// checkout under a private home directory is not reachable for it).
bool
nobody_can_reach_the_checkout()
{
  const auto r =
      util::run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "test", "-x", GEOBLOCK_BINARY,
                 "-a", "-r", std::string(GEOBLOCK_SOURCE_DIR) + "/tests/data/sample/zones.zip"},
                {}, std::chrono::seconds(10));
  return r.exit_code == 0;
}

util::RunResult
run_from_source_dir(std::vector<std::string> argv)
{
  // The sample configuration uses paths relative to the repository.
  if (::chdir(GEOBLOCK_SOURCE_DIR) != 0) {
    ADD_FAILURE() << "cannot enter " << GEOBLOCK_SOURCE_DIR;
  }
  return util::run(argv, {}, std::chrono::seconds(60));
}

TEST(Sample, DryRunPrintsEveryCountryOfTheSample)
{
  const auto countries = sample_countries();
  ASSERT_GE(countries.size(), 3u);
  const auto r = run_from_source_dir(
      {GEOBLOCK_BINARY, "update", "--dry-run", "--config", "tests/data/sample/geoblock.conf"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& cc : countries) {
    EXPECT_NE(r.out.find("\n" + cc + " "), std::string::npos) << cc << " missing from\n" << r.out;
  }
  EXPECT_NE(r.out.find("\ntotal "), std::string::npos) << r.out;
}

TEST(Sample, ConfigBeforeTheCommandGivesTheSameReport)
{
  // What a new user types first; it used to say "unknown option '--config'".
  const auto before = run_from_source_dir(
      {GEOBLOCK_BINARY, "--config", "tests/data/sample/geoblock.conf", "update", "--dry-run", "--json"});
  const auto after = run_from_source_dir(
      {GEOBLOCK_BINARY, "update", "--dry-run", "--json", "--config", "tests/data/sample/geoblock.conf"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  ASSERT_EQ(after.exit_code, 0) << after.err;
  const util::Json a = util::Json::parse(before.out, "dry-run output");
  const util::Json b = util::Json::parse(after.out, "dry-run output");
  EXPECT_EQ(a.get("countries").items().size(), sample_countries().size());
  EXPECT_EQ(a.get("totals").get("v4").get("entries").as_int(),
            b.get("totals").get("v4").get("entries").as_int());
  EXPECT_EQ(a.get("totals").get("v6").get("entries").as_int(),
            b.get("totals").get("v6").get("entries").as_int());
}

TEST(Sample, DryRunNeedsNoRoot)
{
  if (geteuid() != 0) {
    // Already unprivileged: the test above proved it.
    GTEST_SKIP() << "running unprivileged already; DryRunPrintsEveryCountryOfTheSample covers this";
  }
  if (!util::program_exists("setpriv")) {
    GTEST_SKIP() << "setpriv (util-linux) is missing";
  }
  if (!nobody_can_reach_the_checkout()) {
    GTEST_SKIP() << "user nobody cannot reach the build or the checkout here (private parent directory)";
  }
  const auto r =
      run_from_source_dir({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", GEOBLOCK_BINARY,
                           "update", "--dry-run", "--json", "--config", "tests/data/sample/geoblock.conf"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const util::Json doc = util::Json::parse(r.out, "dry-run output");
  EXPECT_FALSE(doc.get("live_compared").as_bool()); // an unprivileged user cannot read the sets
  EXPECT_EQ(doc.get("countries").items().size(), sample_countries().size());
  for (const util::Json& c : doc.get("countries").items()) {
    EXPECT_GT(c.get("v4").get("networks").as_int(), 0) << c.get("country").as_string();
    EXPECT_LE(c.get("v4").get("aggregated").as_int(), c.get("v4").get("networks").as_int());
  }
  EXPECT_GT(doc.get("totals").get("v4").get("entries").as_int(), 0);
}

TEST(Sample, RealUpdateWithoutRootIsRefusedWithAHint)
{
  if (geteuid() != 0 || !util::program_exists("setpriv")) {
    GTEST_SKIP() << "needs root to drop privileges with setpriv";
  }
  if (!nobody_can_reach_the_checkout()) {
    GTEST_SKIP() << "user nobody cannot reach the build or the checkout here (private parent directory)";
  }
  const auto r =
      run_from_source_dir({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", GEOBLOCK_BINARY,
                           "update", "--config", "tests/data/sample/geoblock.conf"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("needs root"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--dry-run"), std::string::npos) << r.err;
}

} // namespace
