// The keys of source mmdb and of the autonomous systems: each mistake is
// one line naming the file, line and key, exits with 2 and changes
// nothing on disk.
#include "support/geoblock_binary.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

using geoblock::test::TempDir;

namespace {

class MmdbAsnConfig : public ::testing::Test {
protected:
  std::string config(const std::string& extra)
  {
    return dir.write("geoblock.conf", "cache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                                          "\nlock-file = " + dir / "lock" + "\ncountries = cn\n" + extra);
  }
  // `message` is expected after "FILE:LINE: ".
  void expect_usage_error(const std::string& extra, int line, const std::string& message)
  {
    const std::string conf = config(extra);
    const auto r =
        geoblock::test::run_geoblock({"update", "--dry-run", "--config", conf}, std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("geoblock: error: " + conf + ":" + std::to_string(line) + ": " + message),
              std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "cache"));
  }
  TempDir dir;
};

TEST_F(MmdbAsnConfig, EachMistakeIsOneLineNamingTheKey)
{
  expect_usage_error("asn = AS13335, ASX\n", 5, "key 'asn': 'ASX' is not an AS number");
  expect_usage_error("asn-file = /x.mmdb\nallow-asn = 4294967296\n", 6,
                     "key 'allow-asn': '4294967296' is not");
  expect_usage_error("asn = 13335\n", 5, "key 'asn': needs ASN data: asn-file");
  expect_usage_error("asn-file = /x.tsv\nasn = 13335\nallow-asn = AS13335\n", 7,
                     "key 'allow-asn': AS13335 is also listed in asn");
  expect_usage_error("asn-file = https://example.org/asn.tsv\n", 5, "key 'asn-file': expected a file");
  expect_usage_error("mmdb-file = /x.mmdb\n", 5, "key 'mmdb-file': set, but source does not list mmdb");
  expect_usage_error("source = mmdb\nmmdb-field = country..iso_code\n", 6,
                     "key 'mmdb-field': expected a dot-separated path");
}

TEST_F(MmdbAsnConfig, AMissingDatabaseFailsItsZonesNamingIt)
{
  // The default database is absent here: every zone fails naming it, and
  // with nothing to block the run stops (exit 1), nothing applied.
  const std::string conf = config("source = mmdb\nmmdb-file = " + dir / "none.mmdb" + "\n");
  const auto r =
      geoblock::test::run_geoblock({"update", "--dry-run", "--config", conf}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(dir / "none.mmdb" + ": cannot read as a MaxMind database"), std::string::npos)
      << r.err;
}

} // namespace
