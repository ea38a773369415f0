// Bash completion (completion/geoblock): the script is sourced into a
// non-interactive bash with the built geoblock first on PATH, COMP_WORDS and
// COMP_CWORD are set as bash sets them, and COMPREPLY is read back. The
// words come from "geoblock --complete-words" (tests/cli/complete_words_test.cpp).
#include "ops/ops_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <set>
#include <unistd.h>

namespace geoblock::test::ops {
namespace {

const std::string k_script = std::string(GEOBLOCK_SOURCE_DIR) + "/completion/geoblock";

// Sources `script` and completes the command line `words` (the last word is
// the one being completed, "" for a fresh word) with `path` as PATH. The
// function is called the way bash calls it: command, current word, previous
// word.
ProcResult
complete_in_bash(const std::string& script, const std::string& path, const std::vector<std::string>& words)
{
  const std::string program = R"(
    . "$1" || exit 90
    complete -p geoblock >/dev/null || exit 91
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    _geoblock "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" || exit 92
    ((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}"
  )";
  // bash by its path: PATH may hold only geoblock (the script needs nothing else).
  std::vector<std::string> argv = {"/bin/bash", "--norc", "--noprofile", "-c", program, "bash", script};
  argv.insert(argv.end(), words.begin(), words.end());
  return run(argv, {"PATH=" + path}, {}, std::chrono::seconds(60));
}

class Completion : public ::testing::Test {
protected:
  void SetUp() override
  {
    // "geoblock" on PATH is the binary under test.
    ASSERT_EQ(::symlink(GEOBLOCK_BINARY, (bin / "geoblock").c_str()), 0);
  }

  // COMPREPLY for `geoblock WORDS...`.
  std::vector<std::string> complete(std::vector<std::string> words)
  {
    words.insert(words.begin(), "geoblock");
    const ProcResult r = complete_in_bash(k_script, bin.path() + ":" + std::getenv("PATH"), words);
    EXPECT_EQ(r.status, 0) << r.both();
    EXPECT_EQ(r.err, "");
    return lines_of(r.out);
  }

  TempDir bin;
  TempDir files;
};

using Words = std::vector<std::string>;

TEST_F(Completion, Commands)
{
  EXPECT_EQ(complete({"up"}), Words{"update"});
  EXPECT_EQ(complete({"re"}), (Words{"restore", "remove"}));
  EXPECT_EQ(complete({""}), (Words{"update", "status", "restore", "remove", "check", "stats", "export",
                                   "mirror", "aggregate", "help"}));
}

TEST_F(Completion, OptionsOfTheCommand)
{
  EXPECT_EQ(complete({"update", "--dr"}), Words{"--dry-run"});
  EXPECT_EQ(complete({"update", "--dry-run", "--js"}), Words{"--json"});
  // Only the command's own: check has no --dry-run, aggregate no --config.
  EXPECT_EQ(complete({"check", "--dr"}), Words{});
  EXPECT_EQ(complete({"aggregate", "--st"}), Words{"--stats"});
  EXPECT_EQ(complete({"aggregate", "--conf"}), Words{});
  // Before the command: the options every configured command takes.
  EXPECT_EQ(complete({"--conf"}), Words{"--config"});
  EXPECT_EQ(complete({"--vers"}), Words{"--version"});
}

TEST_F(Completion, FixedValues)
{
  EXPECT_EQ(complete({"update", "--family", ""}), (Words{"v4", "v6", "both"}));
  EXPECT_EQ(complete({"update", "--policy", "a"}), Words{"allow-only"});
  EXPECT_EQ(complete({"status", "--match", ""}), (Words{"all", "new"}));
  EXPECT_EQ(complete({"update", "--direction", "o"}), Words{"out"});
  EXPECT_EQ(complete({"update", "--log", "t"}), Words{"true"});
  EXPECT_EQ(complete({"aggregate", "--family", "v"}), (Words{"v4", "v6"}));
  // "--family=v": bash splits the word at "=".
  EXPECT_EQ(complete({"update", "--family", "=", "v"}), (Words{"v4", "v6"}));
  EXPECT_EQ(complete({"update", "--family", "="}), (Words{"v4", "v6", "both"}));
  // A free value gets no guesses, and a flag takes no value.
  EXPECT_EQ(complete({"update", "--set-name", ""}), Words{});
  EXPECT_EQ(complete({"update", "--dry-run", ""}), Words{});
}

TEST_F(Completion, CountryCodes)
{
  const Words c = complete({"update", "--countries", "c"});
  EXPECT_NE(std::find(c.begin(), c.end(), "cn"), c.end());
  EXPECT_NE(std::find(c.begin(), c.end(), "ch"), c.end());
  for (const std::string& code : c) {
    EXPECT_TRUE(std::regex_match(code, std::regex("c[a-z]"))) << code;
  }
  EXPECT_EQ(complete({"update", "--countries", "xk"}), Words{}); // not ISO 3166-1
  // A comma-separated list: the code after the last comma.
  const Words list = complete({"update", "--countries", "cn,r"});
  EXPECT_NE(std::find(list.begin(), list.end(), "cn,ru"), list.end());
  for (const std::string& code : list) {
    EXPECT_EQ(code.rfind("cn,r", 0), 0u) << code;
  }
}

TEST_F(Completion, Files)
{
  files.write("geoblock.conf", "");
  files.write("countries.cfg", "");
  files.write("sub/x", "");
  EXPECT_EQ(complete({"--config", files / "geo"}), Words{files / "geoblock.conf"});
  EXPECT_EQ(complete({"update", "--countries-file", files / "c"}), Words{files / "countries.cfg"});
  EXPECT_EQ(complete({"update", "--baseline", files / "s"}), Words{files / "sub"});
  EXPECT_EQ(complete({"update", "--cache-dir", files / ""}), Words{files / "sub"}); // directories only
  EXPECT_EQ(complete({"aggregate", files / "countries"}), Words{files / "countries.cfg"});
  EXPECT_EQ(complete({"update", "--blocklist", files / "c"}), Words{files / "countries.cfg"});
  EXPECT_EQ(complete({"mirror", "--output", files / ""}), Words{files / "sub"}); // directories only
}

TEST_F(Completion, OptionsBeforeTheCommand)
{
  // The value of an option before the command is not the command.
  EXPECT_EQ(complete({"--config", "my.conf", "up"}), Words{"update"});
  EXPECT_EQ(complete({"-c", "my.conf", "update", "--dr"}), Words{"--dry-run"});
  EXPECT_EQ(complete({"--config", "=", "my.conf", "--quiet", "check", "--dr"}), Words{});
  EXPECT_EQ(complete({"--family", "v4", "--dry-run", "sta"}), (Words{"status", "stats"}));
  EXPECT_EQ(complete({"--family", "v4", "--dry-run", "statu"}), Words{"status"});
  EXPECT_EQ(complete({"--config", "my.conf", "update", "--family", "b"}), Words{"both"});
}

TEST_F(Completion, NothingWithoutTheBinary)
{
  // No geoblock on PATH: no words and no error messages.
  const ProcResult r = complete_in_bash(k_script, files.path(), {"geoblock", "up"});
  EXPECT_EQ(r.status, 0) << r.both();
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST(CompletionInstalled, InstalledScriptCompletesWithTheInstalledBinary)
{
  const Installed inst;
  ASSERT_TRUE(inst.ok()) << inst.log();
  const ProcResult r = complete_in_bash(inst / "/usr/share/bash-completion/completions/geoblock",
                                        inst / "/usr/sbin", {"geoblock", "update", "--fam"});
  EXPECT_EQ(r.status, 0) << r.both();
  EXPECT_EQ(r.out, "--family\n") << r.both();
}

} // namespace
} // namespace geoblock::test::ops
