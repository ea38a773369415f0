#include "util/subprocess.hpp"

#include "core/error.hpp"
#include "util/unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace geoblock::util {

namespace {

// Closes descriptors first..last. Runs between fork and exec, so only
// async-signal-safe calls. Without close_range (kernels before 5.9: ENOSYS;
// a seccomp filter: EPERM) each one up to RLIMIT_NOFILE is closed instead.
void
close_fds(unsigned first, unsigned last)
{
  if (first > last || ::close_range(first, last, 0) == 0) {
    return;
  }
  rlimit limit{};
  rlim_t end = 1u << 20; // the kernel's default ceiling (fs.nr_open)
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    end = limit.rlim_cur;
  }
  for (rlim_t fd = first; fd <= last && fd < end; ++fd) {
    ::close(static_cast<int>(fd));
  }
}

std::string
first_line(const std::string& s)
{
  std::string line = s.substr(0, s.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
    line.pop_back();
  }
  return line;
}

// Where the child's error before exec goes: its errno, on the pipe the
// parent reads until exec closes it. Async-signal-safe.
[[noreturn]] void
exec_failed(int report_fd)
{
  const int e = errno;
  [[maybe_unused]] auto n = ::write(report_fd, &e, sizeof e);
  ::_exit(127);
}

} // namespace

ChildProcess&
ChildProcess::operator=(ChildProcess&& other) noexcept
{
  if (this != &other) {
    kill();
    m_pid = other.m_pid;
    other.m_pid = -1;
  }
  return *this;
}

int
ChildProcess::wait() noexcept
{
  if (m_pid <= 0) {
    return 0;
  }
  int status = 0;
  while (::waitpid(m_pid, &status, 0) < 0) {
    if (errno != EINTR) {
      status = 0; // not ours to wait for (ECHILD): nothing left to reap
      break;
    }
  }
  m_pid = -1;
  return status;
}

bool
ChildProcess::try_wait(int& status) noexcept
{
  if (m_pid <= 0) {
    status = 0;
    return true;
  }
  pid_t r;
  do {
    r = ::waitpid(m_pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) {
    return false;
  }
  if (r < 0) {
    status = 0; // not ours to wait for (ECHILD)
  }
  m_pid = -1;
  return true;
}

int
ChildProcess::kill() noexcept
{
  if (m_pid <= 0) {
    return 0;
  }
  ::kill(m_pid, SIGKILL);
  return wait();
}

std::string
RunResult::describe() const
{
  std::string text;
  if (timed_out) {
    text = "timed out";
  } else if (signal != 0) {
    text = std::string("killed by signal ") + std::to_string(signal);
  } else {
    text = "exit status " + std::to_string(exit_code);
  }
  const std::string line = first_line(err.empty() ? out : err);
  if (!line.empty()) {
    text += ": " + line;
  }
  return text;
}

bool
program_exists(const std::string& program)
{
  if (program.find('/') != std::string::npos) {
    return ::access(program.c_str(), X_OK) == 0;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

RunResult
run(const std::vector<std::string>& argv, const std::string& input, std::chrono::milliseconds timeout)
{
  if (argv.empty()) {
    throw Error("internal error: empty command line");
  }
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);

  util::Pipe in = make_pipe("cannot create a pipe");
  util::Pipe out = make_pipe("cannot create a pipe");
  util::Pipe err = make_pipe("cannot create a pipe");
  // Carries errno of a failed execvp (or of the child's set-up); closed
  // (EOF) by a successful exec.
  util::Pipe exec = make_pipe("cannot create a pipe");

  const pid_t pid = ::fork();
  if (pid < 0) {
    throw Error("cannot start " + argv[0] + ": " + std::strerror(errno));
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here on. A child whose standard
    // streams are not ours would feed the program the wrong input or
    // lose its output: it reports the errno and exits instead.
    if (::dup2(in.read.get(), 0) < 0 || ::dup2(out.write.get(), 1) < 0 || ::dup2(err.write.get(), 2) < 0) {
      exec_failed(exec.write.get());
    }
    // Libraries open descriptors without O_CLOEXEC (libipset its netlink
    // socket): close all but 0, 1, 2 and the exec error pipe, which is
    // needed until execvp and closes itself (O_CLOEXEC) when it succeeds.
    const auto keep = static_cast<unsigned>(exec.write.get());
    if (keep > 3) {
      close_fds(3, keep - 1);
    }
    close_fds(std::max(keep + 1, 3u), ~0u);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(args[0], args.data());
    exec_failed(exec.write.get());
  }
  ChildProcess child(pid); // killed and reaped on every way out of here
  in.read.reset();
  out.write.reset();
  err.write.reset();
  exec.write.reset();

  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec.read.get(), &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    child.wait();
    throw Error("cannot run " + argv[0] + ": " + std::strerror(exec_errno));
  }

  // Feed stdin and drain stdout/stderr together: a child that fills its
  // output pipe before reading all of its input would otherwise deadlock.
  UniqueFd& in_w = in.write;
  UniqueFd& out_r = out.read;
  UniqueFd& err_r = err.read;
  if (::fcntl(in_w.get(), F_SETFL, O_NONBLOCK) != 0) {
    throw Error("cannot run " + argv[0] + ": its input: " + std::strerror(errno));
  }
  RunResult result;
  std::size_t written = 0;
  if (input.empty()) {
    in_w.reset();
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (out_r.get() >= 0 || err_r.get() >= 0) {
    pollfd fds[3];
    int nfds = 0;
    int idx_in = -1, idx_out = -1, idx_err = -1;
    if (in_w.get() >= 0) {
      idx_in = nfds;
      fds[nfds++] = {in_w.get(), POLLOUT, 0};
    }
    if (out_r.get() >= 0) {
      idx_out = nfds;
      fds[nfds++] = {out_r.get(), POLLIN, 0};
    }
    if (err_r.get() >= 0) {
      idx_err = nfds;
      fds[nfds++] = {err_r.get(), POLLIN, 0};
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    const int r = ::poll(fds, static_cast<nfds_t>(nfds), static_cast<int>(left.count()));
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      // No way left to see it end: leaving the loop to wait for it could
      // wait forever. `child` kills it on the way out.
      throw Error("waiting for " + argv[0] + ": poll: " + std::strerror(errno));
    }
    if (idx_in >= 0 && fds[idx_in].revents != 0) {
      if (fds[idx_in].revents & (POLLERR | POLLHUP)) {
        in_w.reset(); // the child stopped reading; it will say why
      } else {
        const ssize_t w = ::write(in_w.get(), input.data() + written, input.size() - written);
        if (w > 0) {
          written += static_cast<std::size_t>(w);
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
          in_w.reset();
        }
        if (written == input.size()) {
          in_w.reset();
        }
      }
    }
    auto drain = [&](int idx, UniqueFd& fd, std::string& sink) {
      if (idx < 0 || fds[idx].revents == 0) {
        return;
      }
      const ssize_t got = ::read(fd.get(), buf, sizeof buf);
      if (got > 0) {
        sink.append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        fd.reset();
      }
    };
    drain(idx_out, out_r, result.out);
    drain(idx_err, err_r, result.err);
  }
  in_w.reset();
  const int status = result.timed_out ? child.kill() : child.wait();
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

} // namespace geoblock::util
