// The confined runner (docs/security.md "What runs where"): runs a
// function in a child process that has nothing to lose, and takes back
// what it writes. The child, before the function runs:
//   - keeps descriptors 0 (/dev/null), 1 and 2 (both this process's
//     stderr), 3 (its output pipe) and the handed-over ones from 4 on;
//     everything else is closed (close_range), so no lock or root-opened
//     netlink socket reaches it;
//   - starts a new session (setsid: no controlling terminal);
//   - becomes `account` (no supplementary groups, real, effective and saved
//     ids, no capability left: util::drop_privileges), or, with no
//     account, checks that it holds no capability;
//   - is killed when this process dies (PR_SET_PDEATHSIG);
//   - loads the fetcher's seccomp filter (util::confine, with
//     no_new_privs).
// This process reads the output, at most `max_output` bytes, within
// `timeout` when one is given; the child is killed (SIGKILL) and reaped on
// every way out but its own end: a timeout, a read or poll error, output
// over the limit, an exception. Nothing here parses the output.
#pragma once

#include "util/sandbox.hpp"
#include "util/unique_fd.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::privsep {

// Where the child finds its output pipe, and the descriptors handed over.
inline constexpr int k_output_fd = 3;
inline constexpr int k_first_handed_fd = 4;
// The number descriptor `index` of Confinement::handed has in the child.
constexpr int
handed_fd(std::size_t index)
{
  return k_first_handed_fd + static_cast<int>(index);
}

struct Confinement {
  // The user the child becomes (this process must be root); nothing: it
  // keeps this process's identity, which must hold no capability (an
  // unprivileged dry run), and is confined all the same.
  std::optional<util::Account> account;
  // Given to the child at handed_fd(0), handed_fd(1), ... in order; an
  // empty one leaves its number closed. Closed here once the child runs.
  std::vector<util::UniqueFd> handed;
  std::size_t max_output = std::size_t{512} << 20;
  // How long to wait for the child's output; nothing: as long as it runs.
  std::optional<std::chrono::milliseconds> timeout;
  // Runs in this process once the child runs and before its output is read
  // (this process's own confinement: before the fork, the child would
  // inherit it).
  std::function<void()> once_started;
  // What the child writes when its set-up or the function throws, given
  // the exception's message (the wire format's error record).
  std::function<std::string(const std::string& message)> error_output;
};

struct Finished {
  std::string output; // all the child wrote on its pipe
  int status = 0;     // its wait status (WIFEXITED, WIFSIGNALED)
};

// Forks the confined child, which runs `body` and writes what it returns
// on the pipe (or error_output of what it throws), then exits: 0, or 1
// after an exception. Throws Error when the child cannot be started, its
// output cannot be read ("reading the fetching process's report: ..."), it
// writes more than max_output bytes, or the timeout passes (the child
// killed in each case).
Finished run_confined(Confinement confinement, const std::function<std::string()>& body);

} // namespace geoblock::privsep
