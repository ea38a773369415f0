// Where the host's own firewall managers (firewalld, dockerd, fail2ban,
// ufw) really run in a test: the test's network namespace (so their
// firewall is the test's) and a private mount namespace, so that nothing
// they write reaches the host's files:
//
//   - tmpfs over /run and /var/log (D-Bus's socket, pid files, locks,
//     logs), and over each directory of `tmpfs` (/var/lib/fail2ban, ...);
//   - copies of the host's configuration (/etc/firewalld, /etc/ufw, ...)
//     in the test's directory, bind-mounted over the originals, so the
//     test may edit them and the daemons may write them;
//   - a fresh sysfs (of the test's network namespace, as `ip netns exec`
//     mounts one) with the host's cgroup hierarchies mounted again under
//     it (dockerd 20.10 needs the devices controller on cgroup v1). No
//     securityfs on it: dockerd sees no AppArmor and loads no profile
//     into the host's kernel.
//
// Everything inside runs in a PID namespace of its own whose init (the
// holder) only keeps the namespaces open and reaps: when the holder ends
// (the destructor, or the test dying) the kernel kills every process
// inside, containers and containerd-shims included, so no daemon outlives
// a test. Commands reach the namespaces with `nsenter -t HOLDER -p -m -n`.
#pragma once

#include "util/subprocess.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace geoblock::test {

struct SandboxSpec {
  std::string dir;                 // the test's directory: the copies go to dir/root/<path>
  std::vector<std::string> copies; // host files or directories copied and bound over the original
  std::vector<std::string> tmpfs;  // directories given an empty tmpfs (besides /run and /var/log)
  bool cgroups = false;            // fresh sysfs with the cgroup hierarchies (dockerd)
};

class Sandbox {
public:
  explicit Sandbox(const SandboxSpec& spec);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // The copy of host path `path` that is bound over it inside.
  std::string copy_of(const std::string& path) const { return m_spec.dir + "/root" + path; }

  // Runs argv inside, bounded; see util::run.
  util::RunResult run(const std::vector<std::string>& argv, const std::string& input = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // The same, throwing std::runtime_error with its stderr unless it succeeds.
  std::string run_checked(const std::vector<std::string>& argv, const std::string& input = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  // Starts a daemon in the foreground inside, its output appended to
  // `log`; its pid.
  pid_t start(const std::vector<std::string>& argv, const std::string& log) const;
  // SIGTERM to `pid` (started by start()), then waits at most `limit`;
  // SIGKILL after that. True when it ended within the limit.
  bool stop(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(30)) const;

  // The processes inside now but the holder (containers included), with
  // their command lines: "1234 containerd-shim-runc-v2 -namespace moby ...".
  std::vector<std::string> processes() const;

private:
  SandboxSpec m_spec;
  pid_t m_parent = -1; // the holder's parent, outside the PID namespace
  pid_t m_holder = -1; // init of the PID namespace
  int m_keep_fd = -1;  // the holder lives while this is open
};

// Removes cgroup `name` (a directory right below the root of each of the
// host's cgroup hierarchies, such as dockerd's --cgroup-parent) and the
// empty cgroups below it: dockerd leaves its parent behind.
void remove_cgroup(const std::string& name);

// Polls `done` every 100 ms until it is true or `limit` has passed: how
// long that took, or nothing.
template <class F>
std::optional<std::chrono::milliseconds>
time_until(F done, std::chrono::milliseconds limit)
{
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    if (done()) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    }
    if (std::chrono::steady_clock::now() - start > limit) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}
} // namespace geoblock::test
