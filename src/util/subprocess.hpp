// Running a program by argv (never through a shell), feeding its standard
// input and collecting its output, within a time limit.
#pragma once

#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

namespace geoblock::util {

struct RunResult {
  int exit_code = -1;     // the exit status, or -1 when killed by a signal
  int signal = 0;         // the signal that ended it, or 0
  bool timed_out = false; // killed because the time limit passed
  std::string out;        // everything written to standard output
  std::string err;        // everything written to standard error

  bool ok() const { return exit_code == 0 && !timed_out; }
  // "exit status 2: <first line of stderr>" style text for error messages.
  std::string describe() const;
};

// Runs argv[0] (looked up in PATH when it has no '/') with `input` on its
// standard input. The child gets a clean signal mask and no inherited
// descriptors other than 0, 1 and 2. After `timeout` the child is killed
// (SIGKILL) and `timed_out` is set. Throws Error naming the program when it
// cannot be started at all (missing binary, no permission, its standard
// streams not set up), or when waiting for it fails (then it is killed
// first: the wait never outlasts `timeout` by more than the kill).
RunResult run(const std::vector<std::string>& argv, const std::string& input = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A child process this process started, owned like a descriptor: one
// that is dropped before it was waited for (an early return, an exception,
// a failed poll) is killed (SIGKILL) and reaped, so no error path leaves it
// running, or waits for one that never ends.
class ChildProcess {
public:
  ChildProcess() = default;
  explicit ChildProcess(pid_t pid) noexcept : m_pid(pid) {}
  ChildProcess(ChildProcess&& other) noexcept : m_pid(other.m_pid) { other.m_pid = -1; }
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { kill(); }

  pid_t pid() const noexcept { return m_pid; }
  bool running() const noexcept { return m_pid > 0; }
  // Waits until it ends (retrying after EINTR) and returns waitpid's
  // status; 0 when there is no child.
  int wait() noexcept;
  // SIGKILL, then wait(): its status (0 when there is no child).
  int kill() noexcept;
  // True, with its status, when it has ended (reaped); false while it runs.
  bool try_wait(int& status) noexcept;

private:
  pid_t m_pid = -1;
};

// True when `program` (a name or a path) can be executed.
bool program_exists(const std::string& program);

} // namespace geoblock::util
