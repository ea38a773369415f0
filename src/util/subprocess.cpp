#include "util/subprocess.hpp"

#include "core/error.hpp"

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

class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(Fd&& o) noexcept : m_fd(o.release()) {}
  Fd& operator=(Fd&& o) noexcept
  {
    reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return m_fd; }
  int release()
  {
    const int fd = m_fd;
    m_fd = -1;
    return fd;
  }
  void reset(int fd = -1)
  {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = fd;
  }

private:
  int m_fd = -1;
};

void
make_pipe(Fd& read_end, Fd& write_end)
{
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
}

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

} // namespace

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

  Fd in_r, in_w, out_r, out_w, err_r, err_w, exec_r, exec_w;
  make_pipe(in_r, in_w);
  make_pipe(out_r, out_w);
  make_pipe(err_r, err_w);
  // Carries errno of a failed execvp; closed (EOF) by a successful exec.
  make_pipe(exec_r, exec_w);

  const pid_t pid = ::fork();
  if (pid < 0) {
    throw Error("cannot start " + argv[0] + ": " + std::strerror(errno));
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    ::dup2(in_r.get(), 0);
    ::dup2(out_w.get(), 1);
    ::dup2(err_w.get(), 2);
    // Libraries open descriptors without O_CLOEXEC (libipset its netlink
    // socket): close all but 0, 1, 2 and the exec error pipe, which is
    // needed until execvp and closes itself (O_CLOEXEC) when it succeeds.
    const auto keep = static_cast<unsigned>(exec_w.get());
    if (keep > 3) {
      close_fds(3, keep - 1);
    }
    close_fds(std::max(keep + 1, 3u), ~0u);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(args[0], args.data());
    const int e = errno;
    [[maybe_unused]] auto n = ::write(exec_w.get(), &e, sizeof e);
    ::_exit(127);
  }
  in_r.reset();
  out_w.reset();
  err_w.reset();
  exec_w.reset();

  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_r.get(), &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    int status;
    ::waitpid(pid, &status, 0);
    throw Error("cannot run " + argv[0] + ": " + std::strerror(exec_errno));
  }

  // Feed stdin and drain stdout/stderr together: a child that fills its
  // output pipe before reading all of its input would otherwise deadlock.
  ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
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
      break;
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
    auto drain = [&](int idx, Fd& fd, std::string& sink) {
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
  int status = 0;
  if (result.timed_out) {
    ::kill(pid, SIGKILL);
  }
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

} // namespace geoblock::util
