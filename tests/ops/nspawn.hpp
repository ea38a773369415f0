// A real systemd booted as PID 1 of a container (systemd-nspawn), for the
// live-systemd tests of the units: the container runs the host's /usr
// (read-only) with the test's install tree laid over it, the host's /etc
// under an overlay whose writable layer is the test's own directory, an
// empty /etc/systemd/system of the test's (so none of the host's enabled
// services start), a tmpfs root and /var, and a network namespace of its
// own (--private-network: its firewall is not the host's). Nothing of the
// host's file systems or firewall changes.
#pragma once

#include "ops/ops_support.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace geoblock::test::ops {

// What a container sees besides the host's /usr and /etc.
struct BootSpec {
  std::vector<std::string> usr_layers; // host directories laid over /usr, read-only, lowest first
  std::vector<std::string> etc_layers; // the same over /etc
  std::string etc_upper;               // writable layer of /etc; keeps the writes across boots
  std::string unit_dir;                // bound over /etc/systemd/system (read-write)
  std::vector<std::pair<std::string, std::string>> binds;    // host dir -> container path, read-write
  std::vector<std::pair<std::string, std::string>> binds_ro; // the same, read-only
};

// One boot, powered off by the destructor (bounded waits, then SIGKILL).
class Container {
public:
  explicit Container(const BootSpec& spec, std::chrono::seconds boot_limit = std::chrono::seconds(90))
  {
    static int counter = 0;
    m_name = "geoblock-test-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    std::vector<std::string> argv{"systemd-nspawn",      "--directory=/", "--volatile=yes",
                                  "--private-network",   "--register=no", "--keep-unit",
                                  "--machine=" + m_name, "--console=pipe"};
    auto overlay = [&](const std::string& flag, const std::vector<std::string>& layers,
                       const std::string& upper, const std::string& dest) {
      std::string arg = flag + "=" + dest; // the host's own directory is the lowest layer
      for (const auto& l : layers) {
        arg += ":" + l;
      }
      if (!upper.empty()) {
        arg += ":" + upper;
      }
      argv.push_back(arg + ":" + dest);
    };
    if (!spec.usr_layers.empty()) {
      overlay("--overlay-ro", spec.usr_layers, "", "/usr");
    }
    if (!spec.etc_upper.empty()) {
      overlay("--overlay", spec.etc_layers, spec.etc_upper, "/etc");
    }
    if (!spec.unit_dir.empty()) {
      argv.push_back("--bind=" + spec.unit_dir + ":/etc/systemd/system");
    }
    for (const auto& [from, to] : spec.binds) {
      argv.push_back("--bind=" + from + ":" + to);
    }
    for (const auto& [from, to] : spec.binds_ro) {
      argv.push_back("--bind-ro=" + from + ":" + to);
    }
    argv.push_back("--boot");
    spawn(argv);
    wait_for_boot(boot_limit);
  }
  ~Container() { poweroff(); }
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  // True once systemd inside reported "running" or "degraded".
  bool booted() const { return m_booted; }
  // systemd's state after the boot ("running", "degraded"), or why the boot failed.
  const std::string& state() const { return m_state; }
  // systemd-nspawn's own output (the console of the boot).
  std::string console() const
  {
    try {
      return read_text(m_log / "console");
    } catch (const std::exception&) {
      return {};
    }
  }
  pid_t init_pid() const { return m_init; }

  // argv run inside the container (all its namespaces: mount, PID, network...).
  ProcResult exec(const std::vector<std::string>& argv, const std::string& input = {},
                  std::chrono::seconds limit = std::chrono::seconds(120)) const
  {
    std::vector<std::string> a{"nsenter", "--target", std::to_string(m_init), "--all", "--"};
    a.insert(a.end(), argv.begin(), argv.end());
    return run(a, {}, input, limit);
  }
  // The output of a command inside, for failure messages.
  std::string journal(const std::string& unit = {}) const
  {
    std::vector<std::string> a{"journalctl", "--no-pager", "-o", "short-monotonic"};
    if (!unit.empty()) {
      a.insert(a.end(), {"-u", unit});
    }
    return exec(a).both();
  }

  // systemctl poweroff, waited for; kills what is left after the bound.
  void poweroff()
  {
    if (m_nspawn <= 0) {
      return;
    }
    if (m_init > 0) {
      exec({"systemctl", "poweroff", "--no-block"}, {}, std::chrono::seconds(20));
    }
    if (!reap(std::chrono::seconds(60))) {
      if (m_init > 0) {
        kill(m_init, SIGKILL); // ends the container's whole PID namespace
      }
      kill(m_nspawn, SIGKILL);
      reap(std::chrono::seconds(30));
    }
    m_nspawn = -1;
    m_init = -1;
  }

private:
  void spawn(const std::vector<std::string>& argv)
  {
    const std::string log = m_log / "console";
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    const pid_t parent = getpid();
    m_nspawn = fork();
    if (m_nspawn == 0) {
      // A test killed by its timeout must not leave a container running:
      // nspawn turns SIGTERM into a clean poweroff.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) {
        _exit(127);
      }
      dup2(in, 0);
      dup2(out, 1);
      dup2(out, 2);
      execvp(args[0], args.data());
      _exit(127);
    }
    ::close(out);
    ::close(in);
    if (m_nspawn < 0) {
      m_state = std::string("fork: ") + std::strerror(errno);
    }
  }

  // Reaps nspawn within `limit`; true when it has exited.
  bool reap(std::chrono::seconds limit)
  {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      int status = 0;
      const pid_t r = waitpid(m_nspawn, &status, WNOHANG);
      if (r == m_nspawn || (r < 0 && errno == ECHILD)) {
        return true;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  void wait_for_boot(std::chrono::seconds limit)
  {
    if (m_nspawn <= 0) {
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    // The container's init is nspawn's child named systemd.
    while (m_init <= 0 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(m_nspawn, &status, WNOHANG) == m_nspawn) {
        m_nspawn = -1;
        m_state = "systemd-nspawn exited before the container's systemd started:\n" + console();
        return;
      }
      try {
        const std::string children = read_text("/proc/" + std::to_string(m_nspawn) + "/task/" +
                                               std::to_string(m_nspawn) + "/children");
        for (const auto& c : words(children)) {
          if (trim(read_text("/proc/" + c + "/comm")) == "systemd") {
            m_init = std::stoi(c);
          }
        }
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (m_init <= 0) {
      m_state = "no systemd in the container after " + std::to_string(limit.count()) + " s:\n" + console();
      return;
    }
    // Until the boot is done; nsenter may fail while the namespaces are
    // still being set up, hence the retries (bounded by the deadline).
    while (std::chrono::steady_clock::now() < deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
      const ProcResult r =
          exec({"systemctl", "is-system-running", "--wait"}, {}, left + std::chrono::seconds(1));
      m_state = trim(r.out);
      if (m_state == "running" || m_state == "degraded") {
        m_booted = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    m_state = "the boot did not finish within " + std::to_string(limit.count()) + " s (systemd says '" +
              m_state + "'):\n" + console();
  }

  TempDir m_log;
  std::string m_name;
  pid_t m_nspawn = -1;
  pid_t m_init = -1;
  bool m_booted = false;
  std::string m_state;
};

// Empty when a systemd can be booted in a container here; else why not
// (not root, no systemd-nspawn, or a bare boot fails: the message says
// which). Asked only after a boot failed, to tell a machine that cannot
// boot containers from a test whose own setup is wrong.
inline std::string
nspawn_unavailable()
{
  if (geteuid() != 0) {
    return "needs root to boot a container (systemd-nspawn)";
  }
  if (run({"systemd-nspawn", "--version"}).status != 0) {
    return "systemd-nspawn is not installed (Debian package systemd-container)";
  }
  if (!exists("/usr/lib/systemd/systemd")) {
    return "no systemd in /usr/lib/systemd to boot";
  }
  // The host's /etc under an overlay (a bare tmpfs /etc would make systemd
  // ask its first-boot questions), nothing enabled.
  TempDir dir;
  ::mkdir((dir / "etc").c_str(), 0755);
  ::mkdir((dir / "units").c_str(), 0755);
  BootSpec spec;
  spec.etc_upper = dir / "etc";
  spec.unit_dir = dir / "units";
  Container bare(spec);
  if (!bare.booted()) {
    return "systemd-nspawn cannot boot a container on this machine: " + bare.state();
  }
  return {};
}

} // namespace geoblock::test::ops
