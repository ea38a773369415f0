// util::run hands its children nothing but standard input, output and
// error, even descriptors that libraries opened without O_CLOEXEC (as
// libipset does with its netlink socket).
#include "core/error.hpp"
#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/netlink.h>
#include <set>
#include <sstream>
#include <string>
#include <sys/socket.h>
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
