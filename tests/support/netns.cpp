#include "support/netns.hpp"

#include "util/subprocess.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace geoblock::test {

namespace {

std::atomic<int> g_counter{0};

// Waits for `pid` at most `timeout`; kills it after that. Exit code or -1.
int
wait_bounded(pid_t pid, std::chrono::milliseconds timeout)
{
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      break;
    }
    if (r < 0 && errno != EINTR) {
      return -1;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void
enter(const NamedNetns* ns)
{
  if (ns == nullptr) {
    return;
  }
  const std::string path = "/run/netns/" + ns->name();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "cannot enter namespace %s: %s\n", ns->name().c_str(), std::strerror(errno));
    std::fflush(stderr);
    ::_exit(120);
  }
  ::close(fd);
}

bool
parse_sockaddr(const std::string& addr, int port, sockaddr_storage& out, socklen_t& len)
{
  std::memset(&out, 0, sizeof out);
  auto* in4 = reinterpret_cast<sockaddr_in*>(&out);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (::inet_pton(AF_INET, addr.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof(sockaddr_in);
    return true;
  }
  if (::inet_pton(AF_INET6, addr.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// One attempt in the calling process.
TcpOutcome
attempt_once(const std::string& from, const std::string& to, int port, std::chrono::milliseconds timeout)
{
  sockaddr_storage src{}, dst{};
  socklen_t src_len = 0, dst_len = 0;
  if (!parse_sockaddr(from, 0, src, src_len) || !parse_sockaddr(to, port, dst, dst_len)) {
    return TcpOutcome::Error;
  }
  const int fd = ::socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return TcpOutcome::Error;
  }
  TcpOutcome out = TcpOutcome::Error;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), src_len) == 0) {
    const int r = ::connect(fd, reinterpret_cast<sockaddr*>(&dst), dst_len);
    if (r == 0) {
      out = TcpOutcome::Connected;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (ready == 1) {
        int err = 0;
        socklen_t l = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
        out = err == 0 ? TcpOutcome::Connected : TcpOutcome::Refused;
      } else if (ready == 0) {
        out = TcpOutcome::NoReply;
      }
    } else {
      out = TcpOutcome::Refused; // refused before a packet left (a local reject, no route)
    }
  }
  // Abortive close: neither side keeps a TIME_WAIT socket, so a prober
  // reusing a source port thousands of connections later is not mistaken
  // for a drop.
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(fd);
  return out;
}

// One attempt: 1 connected, 0 not.
int
connect_once(const std::string& from, const std::string& to, int port, std::chrono::milliseconds timeout)
{
  return attempt_once(from, to, port, timeout) == TcpOutcome::Connected ? 1 : 0;
}

} // namespace

std::string
netns_unavailable()
{
  if (::geteuid() != 0) {
    return "needs root to create network namespaces (run the tests as root; CI does)";
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(::unshare(CLONE_NEWNET) == 0 ? 0 : 1);
  }
  if (pid < 0 || wait_bounded(pid, std::chrono::seconds(10)) != 0) {
    return "network namespaces are not available here (unshare(CLONE_NEWNET) failed)";
  }
  if (!util::program_exists("ip")) {
    return "the 'ip' program (iproute2) is missing";
  }
  return {};
}

void
in_fresh_netns(const std::function<void()>& body, std::chrono::seconds timeout)
{
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0) << "fork: " << std::strerror(errno);
  if (pid == 0) {
    int code = 0;
    try {
      if (::unshare(CLONE_NEWNET) != 0) {
        throw std::runtime_error(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno));
      }
      run_checked({"ip", "link", "set", "lo", "up"});
      body();
      code = ::testing::Test::HasFailure() ? 1 : 0;
    } catch (const std::exception& e) {
      std::fprintf(stdout, "exception in the namespace test body: %s\n", e.what());
      code = 2;
    } catch (...) {
      std::fprintf(stdout, "unknown exception in the namespace test body\n");
      code = 2;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    ::_exit(code);
  }
  const int code = wait_bounded(pid, timeout);
  EXPECT_EQ(code, 0) << "the test body in a fresh network namespace failed (see its output above)"
                     << (code == -1 ? " or was killed after the time limit" : "");
}

std::string
run_checked(const std::vector<std::string>& argv, const std::string& input)
{
  const util::RunResult r = util::run(argv, input, std::chrono::seconds(60));
  if (!r.ok()) {
    std::string cmd;
    for (const auto& a : argv) {
      cmd += (cmd.empty() ? "" : " ") + a;
    }
    throw std::runtime_error(cmd + ": " + r.describe());
  }
  return r.out;
}

NamedNetns::NamedNetns()
{
  m_name = "gbt-" + std::to_string(::getpid()) + "-" + std::to_string(g_counter++);
  run_checked({"ip", "netns", "add", m_name});
  run_checked({"ip", "-n", m_name, "link", "set", "lo", "up"});
}

NamedNetns::~NamedNetns()
{
  // Processes still inside would keep the namespace alive.
  try {
    const auto pids = util::run({"ip", "netns", "pids", m_name}, {}, std::chrono::seconds(10));
    std::size_t start = 0;
    while (start < pids.out.size()) {
      auto end = pids.out.find('\n', start);
      if (end == std::string::npos) {
        end = pids.out.size();
      }
      const long pid = std::strtol(pids.out.c_str() + start, nullptr, 10);
      if (pid > 1) {
        ::kill(static_cast<pid_t>(pid), SIGKILL);
      }
      start = end + 1;
    }
    util::run({"ip", "netns", "del", m_name}, {}, std::chrono::seconds(10));
  } catch (...) {
  }
}

std::string
NamedNetns::exec(const std::vector<std::string>& argv) const
{
  std::vector<std::string> full = {"ip", "netns", "exec", m_name};
  full.insert(full.end(), argv.begin(), argv.end());
  return run_checked(full);
}

int
run_in(const NamedNetns* ns, const std::function<int()>& fn, std::chrono::milliseconds timeout)
{
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    return -1;
  }
  if (pid == 0) {
    enter(ns);
    int code = 121;
    try {
      code = fn();
    } catch (...) {
    }
    std::fflush(stdout);
    ::_exit(code);
  }
  return wait_bounded(pid, timeout);
}

void
link_veth(const NamedNetns* a, const std::string& a_if, const std::vector<std::string>& a_addrs,
          const NamedNetns* b, const std::string& b_if, const std::vector<std::string>& b_addrs)
{
  // Create both ends here, then move each into its namespace: "ip link add
  // ... netns" resolves names relative to the caller's namespace.
  run_checked({"ip", "link", "add", a_if, "type", "veth", "peer", "name", b_if});
  auto setup = [](const NamedNetns* ns, const std::string& ifname, const std::vector<std::string>& addrs) {
    std::vector<std::string> pre = {"ip"};
    if (ns != nullptr) {
      run_checked({"ip", "link", "set", ifname, "netns", ns->name()});
      pre = {"ip", "-n", ns->name()};
    }
    for (const auto& addr : addrs) {
      auto cmd = pre;
      const bool v6 = addr.find(':') != std::string::npos;
      cmd.insert(cmd.end(), {v6 ? "-6" : "-4", "addr", "add", addr, "dev", ifname});
      if (v6) {
        cmd.push_back("nodad");
      }
      run_checked(cmd);
    }
    auto up = pre;
    up.insert(up.end(), {"link", "set", ifname, "up"});
    run_checked(up);
  };
  setup(a, a_if, a_addrs);
  setup(b, b_if, b_addrs);
}

bool
tcp_connect(const NamedNetns* ns, const std::string& from, const std::string& to, int port,
            std::chrono::milliseconds timeout)
{
  return run_in(
             ns, [&] { return connect_once(from, to, port, timeout) == 1 ? 0 : 1; },
             timeout + std::chrono::seconds(10)) == 0;
}

bool
eventually_connects(const NamedNetns* ns, const std::string& from, const std::string& to, int port,
                    int attempts)
{
  for (int i = 0; i < attempts; ++i) {
    if (tcp_connect(ns, from, to, port, std::chrono::milliseconds(1000))) {
      return true;
    }
  }
  return false;
}

std::vector<TcpOutcome>
tcp_attempts(const std::vector<TcpAttempt>& attempts, std::chrono::milliseconds timeout)
{
  std::vector<pid_t> pids;
  std::fflush(stdout);
  std::fflush(stderr);
  for (const auto& a : attempts) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (const pid_t p : pids) {
        ::kill(p, SIGKILL);
        ::waitpid(p, nullptr, 0);
      }
      throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
      enter(a.ns);
      ::_exit(static_cast<int>(attempt_once(a.from, a.to, a.port, timeout)));
    }
    pids.push_back(pid);
  }
  std::vector<TcpOutcome> out;
  for (const pid_t p : pids) {
    const int code = wait_bounded(p, timeout + std::chrono::seconds(10));
    out.push_back(code >= 0 && code <= static_cast<int>(TcpOutcome::Error) ? static_cast<TcpOutcome>(code)
                                                                           : TcpOutcome::Error);
  }
  return out;
}

std::string
saved_rules(const std::vector<std::string>& argv)
{
  const std::string text = run_checked(argv);
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    if (text[start] != '#') {
      out.append(text, start, end - start);
    }
    start = end;
  }
  return out;
}

TcpServer::TcpServer(const NamedNetns* ns, const std::string& addr, int port)
{
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::close(ready[0]);
    enter(ns);
    sockaddr_storage sa{};
    socklen_t len = 0;
    char status = 'x';
    int fd = -1;
    if (parse_sockaddr(addr, port, sa, len)) {
      fd = ::socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (sa.ss_family == AF_INET6) {
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      }
      if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) == 0 && ::listen(fd, 512) == 0) {
        status = 'r';
      }
    }
    [[maybe_unused]] auto w = ::write(ready[1], &status, 1);
    if (status != 'r') {
      ::_exit(1);
    }
    // Killed by the destructor; the alarm bounds a leaked server.
    ::alarm(600);
    for (;;) {
      const int c = ::accept(fd, nullptr, nullptr);
      if (c >= 0) {
        ::close(c);
      }
    }
  }
  ::close(ready[1]);
  char status = 0;
  pollfd p{ready[0], POLLIN, 0};
  if (::poll(&p, 1, 10000) == 1) {
    [[maybe_unused]] auto r = ::read(ready[0], &status, 1);
  }
  ::close(ready[0]);
  m_pid = pid;
  if (status != 'r') {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw std::runtime_error("test server could not listen on " + addr + ":" + std::to_string(port));
  }
}

TcpServer::~TcpServer()
{
  if (m_pid > 0) {
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, nullptr, 0);
  }
}

Prober::Prober(const NamedNetns* ns, const std::string& from, const std::string& to, int port,
               std::chrono::milliseconds attempt_timeout, std::chrono::seconds max_duration)
{
  int stop_pipe[2], result_pipe[2];
  if (::pipe2(stop_pipe, O_CLOEXEC) != 0 || ::pipe2(result_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::close(stop_pipe[1]);
    ::close(result_pipe[0]);
    enter(ns);
    Counts counts;
    const auto deadline = std::chrono::steady_clock::now() + max_duration;
    for (;;) {
      pollfd p{stop_pipe[0], POLLIN, 0};
      if (::poll(&p, 1, 0) != 0 || std::chrono::steady_clock::now() >= deadline) {
        break;
      }
      if (connect_once(from, to, port, attempt_timeout) == 1) {
        ++counts.connected;
      } else {
        ++counts.failed;
      }
    }
    [[maybe_unused]] auto w = ::write(result_pipe[1], &counts, sizeof counts);
    ::_exit(0);
  }
  ::close(stop_pipe[0]);
  ::close(result_pipe[1]);
  m_pid = pid;
  m_stop_fd = stop_pipe[1];
  m_result_fd = result_pipe[0];
}

Prober::Counts
Prober::stop()
{
  Counts counts;
  if (m_pid <= 0) {
    return counts;
  }
  // A byte, not just closing: other children forked meanwhile may hold
  // copies of the write end, so end-of-file would never come.
  const char stop_byte = 's';
  [[maybe_unused]] auto w = ::write(m_stop_fd, &stop_byte, 1);
  ::close(m_stop_fd);
  m_stop_fd = -1;
  pollfd p{m_result_fd, POLLIN, 0};
  if (::poll(&p, 1, 30000) == 1) {
    [[maybe_unused]] auto r = ::read(m_result_fd, &counts, sizeof counts);
  }
  ::close(m_result_fd);
  m_result_fd = -1;
  wait_bounded(m_pid, std::chrono::seconds(5));
  m_pid = -1;
  return counts;
}

Prober::~Prober()
{
  if (m_pid > 0) {
    stop();
  }
}

} // namespace geoblock::test
