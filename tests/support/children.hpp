// Acting on a test's own child processes at the right moment, without
// guessing times or starting threads in forked children.
#pragma once

#include <chrono>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <sys/types.h>
#include <thread>

namespace geoblock::test {

// Waits (bounded, about 20 s) until process `pid`'s main thread has
// started a child: then a util::run() or a runner inside it has its pipes
// and its child and polls, however loaded the machine is.
inline void
wait_for_a_child_of(pid_t pid)
{
  const std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children";
  for (int i = 0; i < 4000; ++i) {
    std::ifstream in(path);
    std::string pids;
    if (std::getline(in, pids) && !pids.empty()) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Lowers process `pid`'s soft limit of open descriptors to `n` (prlimit):
// its next poll() of more than n descriptors fails with EINVAL.
inline bool
lower_file_limit(pid_t pid, rlim_t n)
{
  rlimit now{};
  if (::prlimit(pid, RLIMIT_NOFILE, nullptr, &now) != 0) {
    return false;
  }
  const rlimit lower{n, now.rlim_max};
  return ::prlimit(pid, RLIMIT_NOFILE, &lower, nullptr) == 0;
}

} // namespace geoblock::test
