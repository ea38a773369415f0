// Running a program by argv (never through a shell), feeding its standard
// input and collecting its output, within a time limit.
#pragma once

#include <chrono>
#include <string>
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
// cannot be started at all (missing binary, no permission).
RunResult run(const std::vector<std::string>& argv, const std::string& input = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(60));

// True when `program` (a name or a path) can be executed.
bool program_exists(const std::string& program);

} // namespace geoblock::util
