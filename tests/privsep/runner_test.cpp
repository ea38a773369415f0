// The confined runner (privsep/runner.hpp): what the child holds (its
// descriptors, identity, filter), and that every way out but the child's
// own end kills and reaps it: a timeout, output over the limit, a child
// that closes its pipe and runs on, and a poll error (issue 19: a poll
// error followed by waitpid without a kill could hang).
#include "core/error.hpp"
#include "privsep/runner.hpp"
#include "util/file.hpp"
#include "util/sandbox.hpp"

#include "support/fail_syscalls.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <type_traits>
#include <unistd.h>

namespace geoblock::privsep {
namespace {

using namespace std::chrono_literals;

// The descriptors travel by move only: a copy would close them twice.
static_assert(!std::is_copy_constructible_v<decltype(Confinement::handed)::value_type>);

// As root the child must become an unprivileged user; elsewhere it keeps
// the caller's identity, which holds no capability.
bool
confinable(Confinement& c)
{
  if (::geteuid() != 0) {
    return true;
  }
  const auto account = util::lookup_account("geoblock");
  if (!account) {
    return false;
  }
  c.account = *account;
  return true;
}

#define REQUIRE_CONFINABLE(c)                                                                                \
  if (!confinable(c)) {                                                                                      \
    GTEST_SKIP() << "no user 'geoblock' (scripts/setup creates it)";                                         \
  }

std::string
status_line(const std::string& key)
{
  std::istringstream in(util::read_file("/proc/self/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) {
      return line.substr(line.find_first_not_of(" \t", key.size() + 1));
    }
  }
  return "";
}

bool
is_open(int fd)
{
  return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

bool
gone(pid_t pid)
{
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

TEST(Runner, TheChildHoldsOnlyItsDescriptorsAndRunsConfined)
{
  Confinement c;
  REQUIRE_CONFINABLE(c);
  // One descriptor leaked without O_CLOEXEC (as libraries do), one handed over.
  const int leaked = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaked, 0);
  util::UniqueFd handed(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(handed.valid());
  const int handed_number = handed.get();
  struct stat want {};
  ASSERT_EQ(::fstat(handed.get(), &want), 0);
  c.handed.push_back(std::move(handed));
  c.handed.emplace_back(); // an empty one: its number stays closed
  const Finished done = run_confined(std::move(c), [&want] {
    std::string out;
    for (int fd = 0; fd < 1024; ++fd) {
      if (is_open(fd)) {
        out += std::to_string(fd) + " ";
      }
    }
    struct stat got {};
    out += ::fstat(handed_fd(0), &got) == 0 && got.st_ino == want.st_ino ? "same " : "other ";
    out += "nnp=" + status_line("NoNewPrivs") + " seccomp=" + status_line("Seccomp") +
           " uid=" + std::to_string(::getuid()) + " sid=" + std::to_string(::getsid(0) == ::getpid());
    return out;
  });
  // Ours were closed once the child had them.
  EXPECT_FALSE(is_open(handed_number));
  ::close(leaked);
  ASSERT_TRUE(WIFEXITED(done.status) && WEXITSTATUS(done.status) == 0) << done.output;
  EXPECT_EQ(done.output.substr(0, done.output.find("same")), "0 1 2 3 4 ") << done.output;
  EXPECT_NE(done.output.find("same nnp=1 seccomp=2"), std::string::npos) << done.output;
  EXPECT_NE(done.output.find(" sid=1"), std::string::npos) << done.output;
  if (::geteuid() == 0) {
    EXPECT_EQ(done.output.find(" uid=0 "), std::string::npos) << done.output;
  }
}

TEST(Runner, AnExceptionComesBackAsTheErrorRecord)
{
  Confinement c;
  REQUIRE_CONFINABLE(c);
  c.error_output = [](const std::string& message) { return "error\t" + message + "\n"; };
  const Finished done = run_confined(std::move(c), []() -> std::string { throw Error("disk full"); });
  EXPECT_TRUE(WIFEXITED(done.status) && WEXITSTATUS(done.status) == 1);
  EXPECT_EQ(done.output, "error\tdisk full\n");
}

// The child writes its pid on a pipe of the test's (handed over), then
// does what `then` says; returns that pid.
pid_t
pid_from(util::Pipe& p)
{
  pid_t pid = 0;
  EXPECT_EQ(::read(p.read.get(), &pid, sizeof pid), static_cast<ssize_t>(sizeof pid));
  return pid;
}

std::function<std::string()>
tell_pid_then(const std::function<void()>& then)
{
  return [then] {
    const pid_t me = ::getpid();
    util::write_all(handed_fd(0), std::string_view(reinterpret_cast<const char*>(&me), sizeof me));
    then();
    return std::string();
  };
}

TEST(Runner, ATimeoutKillsAndReapsTheChild)
{
  Confinement c;
  REQUIRE_CONFINABLE(c);
  util::Pipe p = util::make_pipe();
  c.handed.push_back(std::move(p.write));
  c.timeout = 200ms;
  const auto started = std::chrono::steady_clock::now();
  try {
    run_confined(std::move(c), tell_pid_then([] {
                   for (;;) {
                     ::pause();
                   }
                 }));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "the fetching process did not finish within 0.2 s; it was killed (nothing applied)");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_TRUE(gone(pid_from(p)));
}

TEST(Runner, AChildThatClosesItsOutputButRunsOnIsKilledAtTheDeadline)
{
  Confinement c;
  REQUIRE_CONFINABLE(c);
  util::Pipe p = util::make_pipe();
  c.handed.push_back(std::move(p.write));
  c.timeout = 200ms;
  EXPECT_THROW(run_confined(std::move(c), tell_pid_then([] {
                              ::close(k_output_fd);
                              for (;;) {
                                ::pause();
                              }
                            })),
               Error);
  EXPECT_TRUE(gone(pid_from(p)));
}

TEST(Runner, OutputOverTheLimitKillsAndReapsTheChild)
{
  Confinement c;
  REQUIRE_CONFINABLE(c);
  util::Pipe p = util::make_pipe();
  c.handed.push_back(std::move(p.write));
  c.max_output = 1000;
  try {
    run_confined(std::move(c), tell_pid_then([] {
                   util::write_all(k_output_fd, std::string(2000, 'x'));
                   for (;;) {
                     ::pause();
                   }
                 }));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "the fetching process's report is larger than 1000 bytes (not trusted; nothing applied)");
  }
  EXPECT_TRUE(gone(pid_from(p)));
}

// Issue 19: poll failing while the child runs must not lead to a wait for
// a child nobody killed. Under a seccomp filter every poll fails (EIO)
// while the runner reads a child that writes forever. With no timeout set (as
// in production), the runner must still throw and kill the child; were it
// to wait instead, the alarm would end the test's process.
TEST(Runner, APollErrorKillsTheChildEvenWithoutATimeout)
{
  Confinement c;
  REQUIRE_CONFINABLE(c);
  const pid_t tester = ::fork();
  ASSERT_GE(tester, 0);
  if (tester == 0) {
    ::alarm(20);
    // Every poll fails: the first one, once the child runs.
    if (!test::fail_syscalls({SYS_poll, SYS_ppoll}, EIO)) {
      ::_exit(5);
    }
    int code = 3;
    try {
      run_confined(std::move(c), []() -> std::string {
        for (;;) {
          util::write_all(k_output_fd, "tick\n");
          std::this_thread::sleep_for(20ms);
        }
      });
      code = 2;
    } catch (const Error& e) {
      code = std::string(e.what()).rfind("waiting for the fetching process: poll: ", 0) == 0 ? 0 : 4;
    }
    // The child was killed and reaped: this process has none left.
    if (code == 0 && (::waitpid(-1, nullptr, WNOHANG) != -1 || errno != ECHILD)) {
      code = 6;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(tester, &status, 0), tester);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status)
                                 << " (SIGALRM: the runner waited for a child nobody killed)";
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "2: returned, 3: nothing thrown, 4: another error, 5: no seccomp filter, 6: a child left";
}

} // namespace
} // namespace geoblock::privsep
