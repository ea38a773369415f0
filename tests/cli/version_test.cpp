// geoblock --version: the program's version, then one line per library it
// was built with, so a bug report says which libcurl, libzip, ... ran.
#include "support/geoblock_binary.hpp"
#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace geoblock::test {
namespace {

TEST(Version, NamesTheProgramAndEveryLibrary)
{
  const util::RunResult r = util::run({GEOBLOCK_BINARY, "--version"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.err, "");
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(std::regex_match(lines[0], std::regex(R"(geoblock \d+\.\d+\.\d+)"))) << lines[0];

  // Each library once, with a version number (optionally details in
  // parentheses: the TLS backend, the version built against).
  const std::vector<std::string> libraries = {
      "libcurl",       "libzip",       "libipset", "libcrypto", "Boost.Program_options",
      "nlohmann-json", "libmaxminddb", "zlib"};
  ASSERT_EQ(lines.size(), 1 + libraries.size()) << r.out;
  for (const std::string& name : libraries) {
    int found = 0;
    for (std::size_t i = 1; i < lines.size(); ++i) {
      if (lines[i].rfind(name + " ", 0) == 0) {
        ++found;
        EXPECT_TRUE(std::regex_match(lines[i], std::regex(name + R"( [1-9]?\d\.\d+(\.\d+)?( \(.+\))?)")))
            << lines[i];
      }
    }
    EXPECT_EQ(found, 1) << name << " in:\n" << r.out;
  }
  // libcurl names its TLS backend and that backend's version.
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\nlibcurl \S+ \([A-Za-z]+/\d)"))) << r.out;
}

TEST(Version, GoesBeforeAnyCommandAndNeedsNoConfiguration)
{
  // Parsing stops at --version: no configuration is read, the rest is ignored.
  const util::RunResult r = util::run({GEOBLOCK_BINARY, "--version", "update", "--config", "/nonexistent"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.rfind("geoblock ", 0), 0u) << r.out;
}

} // namespace
} // namespace geoblock::test
