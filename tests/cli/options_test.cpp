// The command line as administrators type it: options before the command
// mean what they mean after it (git, systemctl and ip habits).
#include "cli/options.hpp"
#include "core/error.hpp"
#include "support/temp_dir.hpp"
#include "util/file.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>

namespace geoblock::test {
namespace {

cli::Invocation
parse(std::vector<std::string> args)
{
  args.insert(args.begin(), "geoblock");
  std::vector<const char*> argv;
  for (const std::string& a : args) {
    argv.push_back(a.c_str());
  }
  return cli::parse_command_line(static_cast<int>(argv.size()), argv.data());
}

std::string
usage_error(const std::vector<std::string>& args)
{
  try {
    parse(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(accepted)";
}

class Options : public ::testing::Test {
protected:
  TempDir dir;
  std::string conf = dir.write("geoblock.conf", "countries = cn\nfamily = v4\n");
};

// README lists --offline among the common flags: restore, always
// offline, takes it too (it was refused as an unknown option).
TEST_F(Options, RestoreTakesOffline)
{
  const cli::Invocation inv = parse({"restore", "--offline", "--config", conf});
  EXPECT_EQ(inv.command, cli::Command::Restore);
  EXPECT_EQ(usage_error({"restore", "--offline", "--force", "--config", conf}), "(accepted)");
}

TEST_F(Options, ConfigBeforeTheCommandIsTheSameAsAfterIt)
{
  for (const auto& args : std::vector<std::vector<std::string>>{{"--config", conf, "update", "--dry-run"},
                                                                {"-c", conf, "update", "--dry-run"},
                                                                {"--config=" + conf, "update", "--dry-run"},
                                                                {"update", "--dry-run", "--config", conf}}) {
    const cli::Invocation inv = parse(args);
    EXPECT_EQ(inv.command, cli::Command::Update) << args[0];
    EXPECT_TRUE(inv.run.dry_run) << args[0];
    EXPECT_TRUE(inv.config.config_given) << args[0];
    EXPECT_EQ(inv.config.config_file, conf) << args[0];
    EXPECT_EQ(inv.config.family, "v4") << args[0]; // the file was read
  }
}

TEST_F(Options, QuietVerboseAndConfigKeysWorkOnEitherSide)
{
  EXPECT_TRUE(parse({"--quiet", "status", "--config", conf}).quiet);
  EXPECT_TRUE(parse({"-v", "status", "--config", conf}).verbose);
  EXPECT_TRUE(parse({"-q", "aggregate"}).quiet);
  const cli::Invocation inv = parse(
      {"--family", "v6", "--chain", "INPUT", "--config", conf, "update", "--chain", "FORWARD", "--dry-run"});
  EXPECT_EQ(inv.config.family, "v6"); // the command line wins over the file, before the command too
  EXPECT_EQ(inv.config.chain, (std::vector<std::string>{"INPUT", "FORWARD"}));
  const cli::Invocation check = parse({"--set-name", "other", "--config", conf, "check", "192.0.2.1"});
  EXPECT_EQ(check.command, cli::Command::Check);
  EXPECT_EQ(check.config.set_name, "other");
  EXPECT_EQ(check.run.addresses, std::vector<std::string>{"192.0.2.1"});
}

TEST_F(Options, MistakesBeforeTheCommandAreNamed)
{
  EXPECT_EQ(usage_error({"--config"}), "option '--config' needs a value (see 'geoblock --help')");
  EXPECT_EQ(usage_error({"--quiet"}), "no command given (see 'geoblock --help')");
  EXPECT_NE(usage_error({"--famly", "v4", "update"}).find("--famly"), std::string::npos);
  EXPECT_EQ(usage_error({"-q", "-v", "status", "--config", conf}),
            "--quiet and --verbose exclude each other");
  EXPECT_EQ(parse({"--version", "update"}).command, cli::Command::Version);
  EXPECT_EQ(parse({"-h", "update"}).command, cli::Command::Help);
}

// The exit codes are a contract with scripts: --help names every code the
// README's table documents (it stopped at 4 when status got 5), and the
// table goes up to the last ExitCode.
TEST(CommandLine, HelpNamesEveryDocumentedExitCode)
{
  const std::string help = parse({"--help"}).help_text;
  const std::string readme = util::read_file(GEOBLOCK_SOURCE_DIR "/README.md");
  const auto section = readme.find("## Exit codes");
  ASSERT_NE(section, std::string::npos);
  std::istringstream table(readme.substr(section));
  const std::regex row(R"(^\| ([0-9]+) \| (.+) \|$)");
  std::vector<int> codes;
  for (std::string line; std::getline(table, line) && (codes.empty() || line.rfind("| ", 0) == 0);) {
    std::smatch m;
    if (std::regex_match(line, m, row)) {
      codes.push_back(std::stoi(m[1]));
    }
  }
  ASSERT_FALSE(codes.empty()) << "no exit code table in README.md";
  EXPECT_EQ(codes.back(), static_cast<int>(ExitCode::Drift));
  const auto from = help.find("Exit codes:");
  ASSERT_NE(from, std::string::npos) << help;
  const std::string sentence = help.substr(from, help.find(".\n", from) - from);
  for (const int code : codes) {
    EXPECT_TRUE(std::regex_search(sentence, std::regex("[ \n]" + std::to_string(code) + " [a-z]")))
        << "exit code " << code << " missing from --help: " << sentence;
  }
}

} // namespace
} // namespace geoblock::test
