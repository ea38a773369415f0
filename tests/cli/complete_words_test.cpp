// geoblock --complete-words, the hidden option the bash completion script
// (completion/geoblock) gets its words from: every command and every option
// --help lists, made from the parser's own descriptions.
#include "support/geoblock_binary.hpp"
#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace geoblock::test {
namespace {

// The long options of `geoblock ARGS --help`, as Boost lists them
// ("  -n [ --dry-run ]", "  --json").
std::set<std::string>
help_options(std::vector<std::string> args)
{
  args.insert(args.begin(), GEOBLOCK_BINARY);
  args.push_back("--help");
  const util::RunResult r = util::run(args);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  std::set<std::string> names;
  const std::regex option(R"(  (?:-\w \[ )?(--[a-z0-9-]+).*)");
  for (const std::string& line : lines_of(r.out)) {
    std::smatch m;
    if (std::regex_match(line, m, option)) {
      names.insert(m[1]);
    }
  }
  return names;
}

std::set<std::string>
completion_options(const std::string& command)
{
  const util::RunResult r = util::run({GEOBLOCK_BINARY, "--complete-words", "options", command});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  std::set<std::string> names;
  for (const std::string& line : lines_of(r.out)) {
    if (line.rfind("--", 0) == 0) {
      names.insert(line.substr(0, line.find(' ')));
    }
  }
  return names;
}

TEST(CompletionWords, EveryCommandOfTheHelp)
{
  // The "Commands:" section of geoblock --help, and "help".
  const util::RunResult help = util::run({GEOBLOCK_BINARY, "--help"});
  std::set<std::string> listed = {"help"};
  const std::regex command(R"(  ([a-z]+)  +\S.*)");
  for (const std::string& line : lines_of(help.out)) {
    std::smatch m;
    if (std::regex_match(line, m, command)) {
      listed.insert(m[1]);
    }
  }
  const util::RunResult r = util::run({GEOBLOCK_BINARY, "--complete-words", "commands"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const auto completed = lines_of(r.out);
  EXPECT_EQ(listed, std::set<std::string>(completed.begin(), completed.end()));
  EXPECT_EQ(listed.size(), 10u);
}

TEST(CompletionWords, EveryOptionOfEachCommandsHelp)
{
  for (const std::string command :
       {"update", "status", "restore", "remove", "check", "stats", "export", "mirror", "aggregate"}) {
    std::set<std::string> help = help_options({command});
    // Positional arguments are completed as such, not as options.
    help.erase(command == "aggregate" ? "--file" : command == "check" ? "--address" : "");
    EXPECT_EQ(help, completion_options(command)) << command;
  }
}

TEST(CompletionWords, SayHowEachValueIsCompleted)
{
  const util::RunResult r = util::run({GEOBLOCK_BINARY, "--complete-words", "options", "update"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const std::vector<std::string> lines = lines_of(r.out);
  const std::set<std::string> set(lines.begin(), lines.end());
  for (const std::string expected :
       {"--dry-run flag", "-n flag", "--config file", "-c file", "--countries-file file", "--baseline file",
        "--cache-dir dir", "--set-name value", "--family words v4 v6 both", "--policy words block allow-only",
        "--match words all new", "--direction words in out both", "--block-local words true false"}) {
    EXPECT_TRUE(set.count(expected)) << expected << " not in:\n" << r.out;
  }
  // --countries takes a list of the ISO 3166-1 codes.
  std::string countries;
  for (const std::string& line : lines) {
    if (line.rfind("--countries ", 0) == 0) {
      countries = line;
    }
  }
  EXPECT_TRUE(std::regex_match(countries, std::regex("--countries list( [a-z]{2}){249}"))) << countries;
  EXPECT_NE(countries.find(" cn "), std::string::npos);

  // Positional arguments: aggregate's are files, check's addresses.
  EXPECT_NE(
      util::run({GEOBLOCK_BINARY, "--complete-words", "options", "aggregate"}).out.find("\nARGS file\n"),
      std::string::npos);
  EXPECT_NE(util::run({GEOBLOCK_BINARY, "--complete-words", "options", "check"}).out.find("ARGS value\n"),
            std::string::npos);
  // Before a command: --version too; no command's own options.
  const std::string before = util::run({GEOBLOCK_BINARY, "--complete-words", "options"}).out;
  EXPECT_NE(before.find("--version flag\n"), std::string::npos) << before;
  EXPECT_NE(before.find("--config file\n"), std::string::npos) << before;
  EXPECT_EQ(before.find("--dry-run"), std::string::npos) << before;
}

TEST(CompletionWords, MistakesAreUsageErrors)
{
  EXPECT_EQ(util::run({GEOBLOCK_BINARY, "--complete-words"}).exit_code, 2);
  EXPECT_EQ(util::run({GEOBLOCK_BINARY, "--complete-words", "options", "nonsense"}).exit_code, 2);
  EXPECT_EQ(util::run({GEOBLOCK_BINARY, "--complete-words", "other"}).exit_code, 2);
}

} // namespace
} // namespace geoblock::test
