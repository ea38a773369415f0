// Helpers shared by the ops tests (install, package, units, cron,
// examples): running programs by argv with a time limit, reading files,
// installing the build tree into a private DESTDIR, a named network
// namespace for the sandbox checks.
#pragma once

#include "support/geoblock_binary.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace geoblock::test::ops {

struct ProcResult {
  int status = -1; // exit status; -1 when killed or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string both() const { return out + err; }
};

// Runs argv (no shell). `env` entries ("NAME=value") replace the variables
// of the same name; `input` goes to standard input. Killed after `limit`.
inline ProcResult
run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
    const std::string& input = {}, std::chrono::seconds limit = std::chrono::seconds(240))
{
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (const auto& e : env) {
      const auto eq = e.find('=');
      setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
    }
    execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // Small inputs only (a few kB): they fit the pipe buffer.
  if (!input.empty() && write(in[1], input.data(), input.size()) != static_cast<ssize_t>(input.size())) {
    ADD_FAILURE() << "could not write the input of " << argv[0];
  }
  close(in[1]);

  ProcResult r;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[65536];
        const ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          sinks[i]->append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) {
      close(f.fd);
    }
  }
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  if (!r.timed_out && WIFEXITED(wstatus)) {
    r.status = WEXITSTATUS(wstatus);
  }
  return r;
}

inline std::string
read_text(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool
exists(const std::string& path)
{
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

inline std::string
trim(const std::string& s)
{
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

inline std::vector<std::string>
words(const std::string& s)
{
  std::vector<std::string> w;
  std::istringstream in(s);
  for (std::string x; in >> x;) {
    w.push_back(x);
  }
  return w;
}

inline std::string
replace_all(std::string s, const std::string& from, const std::string& to)
{
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// A systemd unit file: section -> key -> values (a key may repeat).
using Unit = std::map<std::string, std::map<std::string, std::vector<std::string>>>;

inline Unit
parse_unit(const std::string& text)
{
  Unit unit;
  std::string section;
  for (const std::string& raw : lines_of(text)) {
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') {
      continue;
    }
    if (line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const auto eq = line.find('=');
    if (eq != std::string::npos) {
      unit[section][trim(line.substr(0, eq))].push_back(trim(line.substr(eq + 1)));
    }
  }
  return unit;
}

// All words of every value of section/key (for list settings like Before=).
inline std::vector<std::string>
unit_words(const Unit& unit, const std::string& section, const std::string& key)
{
  std::vector<std::string> all;
  const auto s = unit.find(section);
  if (s == unit.end()) {
    return all;
  }
  const auto k = s->second.find(key);
  if (k == s->second.end()) {
    return all;
  }
  for (const auto& v : k->second) {
    for (const auto& w : words(v)) {
      all.push_back(w);
    }
  }
  return all;
}

inline std::string
unit_value(const Unit& unit, const std::string& section, const std::string& key)
{
  const auto s = unit.find(section);
  if (s == unit.end() || s->second.find(key) == s->second.end()) {
    return {};
  }
  return s->second.at(key).back();
}

// The value of a variable in the build tree's CMakeCache.txt.
inline std::string
cmake_cache(const std::string& name)
{
  for (const std::string& line : lines_of(read_text(std::string(GEOBLOCK_BUILD_DIR) + "/CMakeCache.txt"))) {
    if (line.rfind(name + ":", 0) == 0) {
      return line.substr(line.find('=') + 1);
    }
  }
  return {};
}

// "cmake --install" of the test's build tree with prefix /usr into a
// private DESTDIR, the way a distribution or the package installs it.
class Installed {
public:
  Installed()
  {
    const ProcResult r =
        run({"cmake", "--install", GEOBLOCK_BUILD_DIR, "--prefix", "/usr"}, {"DESTDIR=" + m_root.path()});
    m_log = r.both();
    m_ok = r.status == 0;
  }
  bool ok() const { return m_ok; }
  const std::string& log() const { return m_log; }
  const std::string& root() const { return m_root.path(); }
  std::string operator/(const std::string& abs) const { return m_root.path() + abs; }

private:
  TempDir m_root;
  std::string m_log;
  bool m_ok = false;
};

// Empty when this process may create network namespaces; else why not.
inline std::string
netns_unavailable()
{
  if (geteuid() != 0) {
    return "needs root to create a network namespace";
  }
  const ProcResult r = run({"ip", "netns", "list"});
  if (r.status != 0) {
    return "'ip netns' is unavailable: " + r.err;
  }
  return {};
}

// "ip netns add" with a name of its own; deleted by the destructor.
class Netns {
public:
  Netns()
  {
    static int counter = 0;
    m_name = "gbops-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    const ProcResult r = run({"ip", "netns", "add", m_name});
    if (r.status != 0) {
      throw std::runtime_error("ip netns add " + m_name + ": " + r.err);
    }
  }
  ~Netns() { run({"ip", "netns", "del", m_name}); }
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  // argv run inside the namespace.
  std::vector<std::string> in(const std::vector<std::string>& argv) const
  {
    std::vector<std::string> a{"ip", "netns", "exec", m_name};
    a.insert(a.end(), argv.begin(), argv.end());
    return a;
  }

private:
  std::string m_name;
};

} // namespace geoblock::test::ops
