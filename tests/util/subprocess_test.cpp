// util::run hands its children nothing but standard input, output and
// error, even descriptors that libraries opened without O_CLOEXEC (as
// libipset does with its netlink socket).
#include "core/error.hpp"
#include "util/subprocess.hpp"

#include "support/fail_syscalls.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <linux/netlink.h>
#include <set>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace geoblock;

namespace {

// Descriptors opened without O_CLOEXEC, closed again by the destructor.
class LeakyFds {
public:
  LeakyFds()
  {
    m_fds.push_back(::open("/dev/null", O_RDONLY));
    int p[2];
    if (::pipe(p) == 0) {
      m_fds.push_back(p[0]);
      m_fds.push_back(p[1]);
    }
    // Netlink needs no privileges to open, but a sandbox may forbid it.
    const int nl = ::socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
    if (nl >= 0) {
      m_fds.push_back(nl);
    }
    // One above the pipes util::run creates, so that they lie between
    // leaked descriptors (F_DUPFD does not set FD_CLOEXEC).
    m_fds.push_back(::fcntl(m_fds.front(), F_DUPFD, 200));
  }
  ~LeakyFds()
  {
    for (const int fd : m_fds) {
      ::close(fd);
    }
  }
  LeakyFds(const LeakyFds&) = delete;
  LeakyFds& operator=(const LeakyFds&) = delete;

  const std::vector<int>& fds() const { return m_fds; }

private:
  std::vector<int> m_fds;
};

// The descriptors a child of util::run has open. The shell lists its own
// /proc entry from a child process (ls), so that the directory descriptor
// ls opens does not count; "; true" stops it from exec'ing ls directly.
std::set<std::string>
child_fds()
{
  const auto r = util::run({"/bin/sh", "-c", "ls /proc/$$/fd; true"});
  EXPECT_TRUE(r.ok()) << r.describe();
  std::set<std::string> fds;
  std::istringstream in(r.out);
  for (std::string fd; in >> fd;) {
    fds.insert(fd);
  }
  return fds;
}

} // namespace

TEST(Subprocess, ChildInheritsOnlyStandardDescriptors)
{
  const LeakyFds leaky;
  for (const int fd : leaky.fds()) {
    ASSERT_GE(fd, 0) << "could not open the test's descriptors";
    ASSERT_EQ(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0) << fd;
  }
  EXPECT_EQ(child_fds(), (std::set<std::string>{"0", "1", "2"}));
}

TEST(Subprocess, ExecFailureIsStillReportedWithDescriptorsClosed)
{
  // The pipe that carries execvp's errno back must survive the closing.
  const LeakyFds leaky;
  try {
    util::run({"/nonexistent/iptables-restore"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cannot run /nonexistent/iptables-restore: No such file or directory");
  }
}

// Issue 19: a failed poll left util::run's loop for a waitpid without a
// kill, so a child that does not end by itself hung the caller for good.
// Under a seccomp filter every poll fails (EIO) while run() waits for a
// child that never ends. Now the child is killed and reaped, and run()
// throws; before, the alarm ended the test's child.
TEST(Subprocess, APollErrorKillsTheChildRatherThanWaitingForIt)
{
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(20);
    // Every poll fails: the first one, once the child runs.
    if (!test::fail_syscalls({SYS_poll, SYS_ppoll}, EIO)) {
      ::_exit(5);
    }
    int code = 3;
    try {
      util::run({"/bin/sh", "-c", "while :; do echo tick; sleep 0.05; done"}, "", std::chrono::seconds(60));
      code = 2; // it returned as if the child had ended
    } catch (const Error& e) {
      code = std::string(e.what()).rfind("waiting for /bin/sh: poll: ", 0) == 0 ? 0 : 4;
    }
    // The child was killed and reaped: this process has none left.
    if (code == 0 && (::waitpid(-1, nullptr, WNOHANG) != -1 || errno != ECHILD)) {
      code = 6;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status)
                                 << " (SIGALRM: run() waited for a child nobody killed)";
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "2: returned, 3: nothing thrown, 4: another error, 5: no seccomp filter, 6: a child left";
}

// ChildProcess kills and reaps a child it did not wait for.
TEST(Subprocess, ADroppedChildProcessIsKilledAndReaped)
{
  pid_t pid = -1;
  {
    pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (;;) {
        ::pause();
      }
    }
    const util::ChildProcess child(pid);
    EXPECT_TRUE(child.running());
  }
  // Reaped: no such child any more (not even a zombie).
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);

  pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::_exit(7);
  }
  util::ChildProcess child(pid);
  const int status = child.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7);
  EXPECT_FALSE(child.running());
}
