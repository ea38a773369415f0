// Waiting for what a test's own process does, without guessing times.
#pragma once

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>

namespace geoblock::test {

// Waits (bounded, about 20 s) until this process's main thread has started
// a child: from another thread, to act once a run() or a runner has its
// pipes and its child and polls, however loaded the machine is.
inline void
wait_for_a_child()
{
  const std::string path = "/proc/self/task/" + std::to_string(::getpid()) + "/children";
  for (int i = 0; i < 4000; ++i) {
    std::ifstream in(path);
    std::string pids;
    if (std::getline(in, pids) && !pids.empty()) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

} // namespace geoblock::test
