// The source keys (source lists, rir-url, rir-max-bytes, zone-url-v4/v6):
// each mistake is one line naming the file, line, key and the item at
// fault, exits with 2, and changes nothing on disk; the good forms pass.
#include "support/geoblock_binary.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using geoblock::test::TempDir;

namespace {

class SourceConfig : public ::testing::Test {
protected:
  std::string config(const std::string& extra)
  {
    return dir.write("geoblock.conf", "cache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                                          "\nlock-file = " + dir / "lock" + "\ncountries = cn\n" + extra);
  }
  // `message` is expected after "FILE:5: ", the first line after the
  // fixed ones.
  void expect_usage_error(const std::string& extra, const std::string& message)
  {
    const std::string conf = config(extra);
    const auto r =
        geoblock::test::run_geoblock({"update", "--dry-run", "--config", conf}, std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("geoblock: error: " + conf + ":5: " + message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "cache"));
  }
  TempDir dir;
};

TEST_F(SourceConfig, ASourceListNamesTheItemAtFault)
{
  expect_usage_error(
      "source = http, rirr\n",
      "key 'source': item 2 'rirr': expected http, rir, mmdb, bundle:/path.zip or maxmind:/path.zip");
  expect_usage_error("source = http,,rir\n", "key 'source': item 2 '': expected http, rir");
  expect_usage_error("source = rir, http, rir\n", "key 'source': item 3 'rir': listed twice");
  expect_usage_error("source = bundle:\n", "key 'source': item 1 'bundle:': expected");
}

TEST_F(SourceConfig, RirUrlsAndTheirLimitAreChecked)
{
  expect_usage_error(
      "rir-url = ftp://ftp.ripe.net/x\n",
      "key 'rir-url': expected an http://, https:// or file:// URL, got 'ftp://ftp.ripe.net/x'");
  expect_usage_error("rir-url = https://a.example/delegated-x-extended-latest\n"
                     "rir-url = https://b.example/delegated-x-extended-latest\n",
                     "key 'rir-url': 'https://a.example/delegated-x-extended-latest' and "
                     "'https://b.example/delegated-x-extended-latest' have the same file name");
  expect_usage_error("rir-url = https://a.example/stats/\n",
                     "key 'rir-url': 'https://a.example/stats/' names a directory");
  expect_usage_error("rir-max-bytes = 10\n", "key 'rir-max-bytes': expected a number of bytes from 1024");
}

TEST_F(SourceConfig, TemplatesMustHoldTheCountryCode)
{
  expect_usage_error("zone-url-v4 = https://mirror.example/cn.zone\n",
                     "key 'zone-url-v4': the template 'https://mirror.example/cn.zone' has no {cc} or {CC}");
  expect_usage_error("zone-url-v6 = https://mirror.example/{country}/{cc}.zone\n",
                     "key 'zone-url-v6': unknown placeholder");
}

TEST_F(SourceConfig, GoodSourceListsAndTemplatesPassValidation)
{
  // Offline, with nothing cached: validation passes, then every zone has no
  // data (exit 1, not 2).
  for (const std::string extra :
       {"source = http, rir\n", "source = rir\nrir-url = file:///nonexistent/delegated-x-extended-latest\n",
        "source = rir , http\nzone-url-v4 = file:///srv/{CC}.txt\nzone-url-v6 = http://m/{cc}/v6.txt\n"}) {
    const auto r = geoblock::test::run_geoblock(
        {"update", "--dry-run", "--offline", "--config", config(extra)}, std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 1) << extra << r.err;
    EXPECT_EQ(r.err.find("error: " + dir / "geoblock.conf"), std::string::npos) << extra << r.err;
  }
}

} // namespace
