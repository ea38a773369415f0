#include "coexist/sandbox.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <poll.h>
#include <sched.h>
#include <set>
#include <sstream>
#include <stdexcept>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace geoblock::test {

namespace {

// One mount of the host's cgroup file systems, as /proc/self/mountinfo
// has it.
struct CgroupMount {
  std::string target;  // "/sys/fs/cgroup/memory", "/sys/fs/cgroup"
  std::string type;    // "cgroup" or "cgroup2"
  std::string options; // super options without rw/ro: "memory", "none,name=systemd", "nsdelegate"
};

std::vector<CgroupMount>
host_cgroup_mounts()
{
  std::vector<CgroupMount> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    // ID PARENT MAJ:MIN ROOT TARGET OPTS [OPTIONAL...] - TYPE SOURCE SUPER
    std::istringstream words(line);
    std::string id, parent, dev, root, target, opts, w;
    words >> id >> parent >> dev >> root >> target >> opts;
    while (words >> w && w != "-") {
    }
    std::string type, source, super;
    words >> type >> source >> super;
    if ((type != "cgroup" && type != "cgroup2") || target.rfind("/sys/fs/cgroup", 0) != 0) {
      continue;
    }
    std::string kept;
    bool controller = false;
    std::istringstream tokens(super);
    for (std::string t; std::getline(tokens, t, ',');) {
      if (t == "rw" || t == "ro") {
        continue;
      }
      controller |= t.rfind("name=", 0) != 0 && t != "xattr" && t != "clone_children" && t != "noprefix";
      kept += (kept.empty() ? "" : ",") + t;
    }
    if (type == "cgroup" && !controller) {
      kept = "none," + kept; // a named hierarchy without controllers (name=systemd)
    }
    out.push_back({target, type, kept});
  }
  return out;
}

std::string
errno_text(const std::string& what)
{
  return what + ": " + std::strerror(errno);
}

// In the holder's parent, after unshare(CLONE_NEWNS): the mounts of the
// spec. "" or what failed.
std::string
set_up_mounts(const SandboxSpec& spec, const std::vector<CgroupMount>& cgroups)
{
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return errno_text("making / private");
  }
  for (const std::string& path : spec.copies) {
    const std::string copy = spec.dir + "/root" + path;
    if (::mount(copy.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return errno_text("binding " + copy + " over " + path);
    }
  }
  std::vector<std::string> tmpfs = {"/run", "/var/log"};
  tmpfs.insert(tmpfs.end(), spec.tmpfs.begin(), spec.tmpfs.end());
  for (const std::string& dir : tmpfs) {
    if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
      return errno_text("tmpfs on " + dir);
    }
  }
  for (const char* dir : {"/run/dbus", "/run/lock"}) {
    ::mkdir(dir, 0755);
  }
  if (spec.cgroups) {
    ::umount2("/sys", MNT_DETACH);
    if (::mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0) {
      return errno_text("a fresh sysfs on /sys");
    }
    const bool unified = std::any_of(cgroups.begin(), cgroups.end(),
                                     [](const CgroupMount& m) { return m.target == "/sys/fs/cgroup"; });
    if (!unified && ::mount("tmpfs", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
      return errno_text("tmpfs on /sys/fs/cgroup");
    }
    for (const CgroupMount& m : cgroups) {
      ::mkdir(m.target.c_str(), 0755);
      if (::mount(m.type.c_str(), m.target.c_str(), m.type.c_str(), MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  m.options.empty() ? nullptr : m.options.c_str()) != 0) {
        return errno_text("mounting " + m.type + " (" + m.options + ") on " + m.target);
      }
    }
  }
  return {};
}

void
write_all(int fd, const std::string& text)
{
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0 && errno != EINTR) {
      return;
    }
    done += n > 0 ? static_cast<std::size_t>(n) : 0;
  }
}

std::string
read_all(int fd)
{
  std::string out;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      return out;
    }
  }
}

// init of the PID namespace: reaps whatever is reparented to it until the
// test writes a byte to `keep` (or dies), then exits, and the kernel kills
// everything left inside. A byte, not only end-of-file: children the test
// forked meanwhile (servers, probers) may hold copies of the write end.
[[noreturn]] void
holder_loop(int keep)
{
  for (;;) {
    pollfd p{keep, POLLIN, 0};
    const int r = ::poll(&p, 1, 200);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (r > 0) {
      ::_exit(0);
    }
  }
}

std::string
ns_link(pid_t pid, const char* ns)
{
  char buf[128];
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/" + ns;
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

struct Proc {
  pid_t pid;
  pid_t ppid;
};

std::vector<Proc>
all_processes()
{
  std::vector<Proc> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) {
    return out;
  }
  while (const dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10));
    if (pid <= 0) {
      continue;
    }
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    std::getline(stat, text);
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
    const auto close = text.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream rest(text.substr(close + 1));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (state != "Z") {
      out.push_back({pid, static_cast<pid_t>(ppid)});
    }
  }
  ::closedir(d);
  return out;
}

std::string
command_line(pid_t pid)
{
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

} // namespace

void
remove_cgroup(const std::string& name)
{
  namespace fs = std::filesystem;
  for (const CgroupMount& m : host_cgroup_mounts()) {
    const fs::path top = m.target + "/" + name;
    std::error_code ec;
    if (!fs::is_directory(top, ec)) {
      continue;
    }
    // Deepest first; a cgroup's files go with its directory.
    std::vector<fs::path> dirs{top};
    for (const auto& e : fs::recursive_directory_iterator(top, ec)) {
      if (e.is_directory(ec) && !e.is_symlink(ec)) {
        dirs.push_back(e.path());
      }
    }
    std::sort(dirs.begin(), dirs.end(),
              [](const fs::path& a, const fs::path& b) { return a.string().size() > b.string().size(); });
    for (const fs::path& d : dirs) {
      ::rmdir(d.c_str());
    }
  }
}

Sandbox::Sandbox(const SandboxSpec& spec) : m_spec(spec)
{
  namespace fs = std::filesystem;
  for (const std::string& path : spec.copies) {
    const fs::path copy = spec.dir + "/root" + path;
    fs::create_directories(copy.parent_path());
    fs::copy(path, copy, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    if (fs::is_directory(path)) {
      fs::permissions(copy, fs::status(path).permissions());
    }
  }
  const std::vector<CgroupMount> cgroups = spec.cgroups ? host_cgroup_mounts() : std::vector<CgroupMount>{};

  int ready[2];
  int keep[2];
  if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(keep, O_CLOEXEC) != 0) {
    throw std::runtime_error(errno_text("pipe"));
  }
  std::fflush(stdout);
  std::fflush(stderr);
  m_parent = ::fork();
  if (m_parent < 0) {
    throw std::runtime_error(errno_text("fork"));
  }
  if (m_parent == 0) {
    // The holder's parent: new mount namespace (set up here, inherited),
    // new PID namespace for its children.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(ready[0]);
    ::close(keep[1]);
    if (::unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) {
      write_all(ready[1], "!" + errno_text("unshare(CLONE_NEWNS | CLONE_NEWPID)"));
      ::_exit(1);
    }
    if (const std::string error = set_up_mounts(spec, cgroups); !error.empty()) {
      write_all(ready[1], "!" + error);
      ::_exit(1);
    }
    const pid_t holder = ::fork();
    if (holder == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::close(ready[1]);
      // This PID namespace's own /proc, for the daemons inside.
      ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
      holder_loop(keep[0]);
    }
    write_all(ready[1], holder > 0 ? std::to_string(holder) : "!" + errno_text("fork"));
    ::close(ready[1]);
    ::close(keep[0]);
    int status = 0;
    while (holder > 0 && ::waitpid(holder, &status, 0) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(keep[0]);
  m_keep_fd = keep[1];
  const std::string answer = read_all(ready[0]);
  ::close(ready[0]);
  if (answer.empty() || answer[0] == '!') {
    ::close(m_keep_fd);
    ::waitpid(m_parent, nullptr, 0);
    throw std::runtime_error("sandbox: " +
                             (answer.empty() ? std::string("its process died") : answer.substr(1)));
  }
  m_holder = static_cast<pid_t>(std::stol(answer));
}

Sandbox::~Sandbox()
{
  // The holder ends, and with it (the kernel's doing) everything inside.
  write_all(m_keep_fd, "q");
  ::close(m_keep_fd);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  while (::waitpid(m_parent, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(m_holder, SIGKILL);
      ::kill(m_parent, SIGKILL);
      ::waitpid(m_parent, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

util::RunResult
Sandbox::run(const std::vector<std::string>& argv, const std::string& input,
             std::chrono::milliseconds timeout) const
{
  std::vector<std::string> full = {"nsenter", "-t", std::to_string(m_holder), "-p", "-m", "-n", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return util::run(full, input, timeout);
}

std::string
Sandbox::run_checked(const std::vector<std::string>& argv, const std::string& input,
                     std::chrono::milliseconds timeout) const
{
  const util::RunResult r = run(argv, input, timeout);
  if (!r.ok()) {
    std::string cmd;
    for (const auto& a : argv) {
      cmd += (cmd.empty() ? "" : " ") + a;
    }
    throw std::runtime_error(cmd + ": " + r.describe() + "\n" + r.out + r.err);
  }
  return r.out;
}

pid_t
Sandbox::start(const std::vector<std::string>& argv, const std::string& log) const
{
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    throw std::runtime_error(errno_text("pipe"));
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t entering = ::fork();
  if (entering == 0) {
    // Enters the namespaces (setns: single-threaded after fork), forks the
    // daemon into the PID namespace (the holder adopts it) and reports its
    // pid as seen from outside.
    ::close(report[0]);
    // Both opened first: once in the mount namespace, /proc is the PID
    // namespace's, where the holder is 1.
    const std::string ns = "/proc/" + std::to_string(m_holder) + "/ns/";
    const int mnt = ::open((ns + "mnt").c_str(), O_RDONLY | O_CLOEXEC);
    const int pid = ::open((ns + "pid").c_str(), O_RDONLY | O_CLOEXEC);
    const bool ok = mnt >= 0 && pid >= 0 && ::setns(mnt, CLONE_NEWNS) == 0 && ::setns(pid, CLONE_NEWPID) == 0;
    const pid_t daemon = ok ? ::fork() : -1;
    if (daemon == 0) {
      ::setsid();
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      std::vector<char*> args;
      for (const std::string& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
      }
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    write_all(report[1], std::to_string(daemon));
    ::_exit(0);
  }
  ::close(report[1]);
  const std::string answer = read_all(report[0]);
  ::close(report[0]);
  ::waitpid(entering, nullptr, 0);
  const pid_t pid = answer.empty() ? -1 : static_cast<pid_t>(std::stol(answer));
  if (pid <= 0) {
    throw std::runtime_error("sandbox: cannot start " + argv.front());
  }
  return pid;
}

bool
Sandbox::stop(pid_t pid, std::chrono::milliseconds limit) const
{
  // The holder reaps it: gone is when kill(pid, 0) fails.
  ::kill(pid, SIGTERM);
  if (time_until([&] { return ::kill(pid, 0) != 0; }, limit)) {
    return true;
  }
  ::kill(pid, SIGKILL);
  time_until([&] { return ::kill(pid, 0) != 0; }, std::chrono::seconds(5));
  return false;
}

std::vector<std::string>
Sandbox::processes() const
{
  const std::string pidns = ns_link(m_holder, "pid");
  const std::vector<Proc> procs = all_processes();
  std::set<pid_t> inside;
  for (const Proc& p : procs) {
    if (p.pid != m_holder && !pidns.empty() && ns_link(p.pid, "pid") == pidns) {
      inside.insert(p.pid);
    }
  }
  // Containers live in PID namespaces of their own, below a shim.
  for (bool grew = true; grew;) {
    grew = false;
    for (const Proc& p : procs) {
      if (inside.count(p.ppid) != 0 && inside.insert(p.pid).second) {
        grew = true;
      }
    }
  }
  std::vector<std::string> out;
  for (const pid_t pid : inside) {
    out.push_back(std::to_string(pid) + " " + command_line(pid));
  }
  return out;
}

} // namespace geoblock::test
