#include "privsep/runner.hpp"

#include "core/error.hpp"
#include "util/subprocess.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace geoblock::privsep {

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void
fail(const char* what)
{
  throw Error(std::string("privilege separation: ") + what + ": " + std::strerror(errno));
}

// In the child: moves `output` to k_output_fd and `handed` to handed_fd(0),
// handed_fd(1), ... (an empty one's number closed), and closes every other
// descriptor but 0, 1 and 2: nothing of the privileged process (the lock,
// a netlink socket opened as root) may reach the fetcher. Then stdin from
// nowhere, stdout to stderr: the fetcher's messages are diagnostics, and a
// dry run's stdout (the report, JSON) is the root process's alone. `out`
// is where the output goes from the moment it is in place.
void
arrange_fds(int output, const std::vector<int>& handed, int& out)
{
  std::vector<int> src = {output};
  src.insert(src.end(), handed.begin(), handed.end());
  // Copies above every destination first, so that no dup2 lands on a
  // descriptor still to be moved.
  const int above = k_output_fd + static_cast<int>(src.size()) + 64;
  for (int& fd : src) {
    if (fd >= 0) {
      fd = ::fcntl(fd, F_DUPFD_CLOEXEC, above);
      if (fd < 0) {
        fail("dup");
      }
    }
  }
  const int last = k_output_fd + static_cast<int>(src.size()) - 1;
  for (std::size_t i = 0; i < src.size(); ++i) {
    const int dst = k_output_fd + static_cast<int>(i);
    if (src[i] < 0) {
      ::close(dst); // whatever of ours was there
    } else if (::dup2(src[i], dst) < 0) {
      fail("dup2");
    }
  }
  out = k_output_fd;
  if (::close_range(static_cast<unsigned>(last) + 1, ~0u, 0) != 0) {
    for (int fd = last + 1; fd < 65536; ++fd) {
      ::close(fd);
    }
  }
  const util::UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null || ::dup2(null.get(), STDIN_FILENO) < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    fail("redirecting stdin/stdout");
  }
}

[[noreturn]] void
child_main(const Confinement& c, pid_t parent, int output, const std::function<std::string()>& body) noexcept
{
  int status = 1;
  int out = output;
  try {
    std::vector<int> handed;
    for (const util::UniqueFd& fd : c.handed) {
      handed.push_back(fd.get());
    }
    arrange_fds(output, handed, out);
    ::setsid(); // no controlling terminal: nothing to type into
    if (c.account) {
      util::drop_privileges(*c.account);
    } else {
      const util::ProcessPrivileges p = util::process_privileges();
      if (p.cap_eff || p.cap_prm || p.cap_amb) {
        throw Error("privilege separation: the fetching process would keep capabilities; run as root "
                    "(it then becomes the fetch-user) or without capabilities");
      }
    }
    // Dropping credentials cleared any death signal: set it now, so a
    // fetcher whose parent was killed stops too.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) {
      ::_exit(1);
    }
    util::confine(util::Confinement::Fetcher);
    const std::string text = body();
    util::write_all(out, text); // a parent gone or no longer reading: nothing to tell
    status = 0;
  } catch (const std::exception& e) {
    if (c.error_output) {
      util::write_all(out, c.error_output(e.what()));
    }
  } catch (...) {
    if (c.error_output) {
      util::write_all(out, c.error_output("the fetching process failed"));
    }
  }
  std::fflush(nullptr);
  ::_exit(status);
}

std::string
seconds(std::chrono::milliseconds d)
{
  char text[32];
  std::snprintf(text, sizeof text, "%g", std::chrono::duration<double>(d).count());
  return text;
}

[[noreturn]] void
timed_out(std::chrono::milliseconds timeout)
{
  throw Error("the fetching process did not finish within " + seconds(timeout) +
              " s; it was killed (nothing applied)");
}

// All the child writes on `fd`, until it closes it.
std::string
read_output(int fd, std::size_t max, const std::optional<std::chrono::milliseconds>& timeout,
            Clock::time_point deadline)
{
  std::string text;
  char buf[65536];
  for (;;) {
    int wait_ms = -1;
    if (timeout) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        timed_out(*timeout);
      }
      wait_ms = static_cast<int>(std::min<long long>(left.count(), INT_MAX));
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      // Without a way to see it end, waiting for the child could take
      // forever: the caller's ChildProcess kills it.
      throw Error(std::string("waiting for the fetching process: poll: ") + std::strerror(errno) +
                  " (it was killed; nothing applied)");
    }
    if (ready == 0) {
      continue; // the deadline, checked above
    }
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) {
      return text;
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      throw Error(std::string("reading the fetching process's report: ") + std::strerror(errno));
    }
    if (text.size() + static_cast<std::size_t>(n) > max) {
      throw Error("the fetching process's report is larger than " + std::to_string(max) +
                  " bytes (not trusted; nothing applied)");
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
}

} // namespace

Finished
run_confined(Confinement confinement, const std::function<std::string()>& body)
{
  util::Pipe pipe = util::make_pipe("privilege separation: pipe");
  const pid_t parent = ::getpid();
  std::fflush(nullptr); // nothing buffered may be written twice
  const pid_t pid = ::fork();
  if (pid < 0) {
    fail("fork");
  }
  if (pid == 0) {
    child_main(confinement, parent, pipe.write.get(), body);
  }
  util::ChildProcess child(pid); // killed and reaped on every way out but its own end
  const auto deadline = Clock::now() + confinement.timeout.value_or(std::chrono::milliseconds(0));
  pipe.write.reset();
  confinement.handed.clear(); // the child holds its own copies
  if (confinement.once_started) {
    confinement.once_started();
  }
  Finished done;
  done.output = read_output(pipe.read.get(), confinement.max_output, confinement.timeout, deadline);
  if (confinement.timeout) {
    // Its output is complete; a child that closed its pipe but goes on
    // running is not waited for past the deadline either.
    while (!child.try_wait(done.status)) {
      if (Clock::now() >= deadline) {
        timed_out(*confinement.timeout);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done;
  }
  done.status = child.wait();
  return done;
}

} // namespace geoblock::privsep
