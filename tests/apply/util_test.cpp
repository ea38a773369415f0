// subprocess and lock: the two system helpers the applier relies on.
#include "core/error.hpp"
#include "util/lock.hpp"
#include "util/subprocess.hpp"

#include <cstdlib>
#include <gtest/gtest.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

using namespace geoblock;

namespace {

std::string
make_temp_dir()
{
  std::string tmpl = ::testing::TempDir() + "gb-lock-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  return tmpl;
}

} // namespace

TEST(Subprocess, FeedsInputAndCollectsOutputWithoutAShell)
{
  const auto r = util::run({"cat"}, "a;b $(echo no)\n");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.out, "a;b $(echo no)\n");
  // An argument with shell syntax stays one literal argument.
  const auto e = util::run({"printf", "%s|", "x y", "$HOME"});
  EXPECT_EQ(e.out, "x y|$HOME|");
}

TEST(Subprocess, LargeInputAndOutputDoNotDeadlock)
{
  const std::string big(3 << 20, 'x');
  const auto r = util::run({"cat"}, big);
  EXPECT_EQ(r.out.size(), big.size());
}

TEST(Subprocess, ReportsExitStatusAndStderr)
{
  const auto r = util::run({"sh", "-c", "echo oops >&2; exit 3"});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.describe(), "exit status 3: oops");
}

TEST(Subprocess, MissingProgramIsAClearError)
{
  try {
    util::run({"/nonexistent/iptables-restore"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cannot run /nonexistent/iptables-restore: No such file or directory");
  }
  EXPECT_FALSE(util::program_exists("/nonexistent/iptables-restore"));
  EXPECT_TRUE(util::program_exists("sh"));
}

TEST(Subprocess, KillsAChildThatRunsTooLong)
{
  const auto r = util::run({"sleep", "30"}, {}, std::chrono::milliseconds(200));
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
}

TEST(FileLock, SecondHolderWaitsThenGivesUpWithAClearMessage)
{
  const std::string dir = make_temp_dir();
  const std::string path = dir + "/geoblock.lock";
  util::FileLock first(path, std::chrono::milliseconds(0));
  // A second process (flock locks belong to the open file, so a second
  // open in this process would also conflict, but a process is what users run).
  const pid_t pid = ::fork();
  if (pid == 0) {
    try {
      util::FileLock second(path, std::chrono::milliseconds(300));
      ::_exit(0);
    } catch (const Error& e) {
      const std::string want =
          "another geoblock run holds the lock " + path + "; gave up after waiting 0.3 s";
      ::_exit(want == e.what() ? 7 : 8);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(FileLock, IsReleasedWhenTheHolderGoes)
{
  const std::string dir = make_temp_dir();
  const std::string path = dir + "/geoblock.lock";
  {
    util::FileLock first(path, std::chrono::milliseconds(0));
  }
  EXPECT_NO_THROW(util::FileLock(path, std::chrono::milliseconds(0)));
  EXPECT_THROW(util::FileLock(dir + "/missing/dir/lock", std::chrono::milliseconds(0)), Error);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}
