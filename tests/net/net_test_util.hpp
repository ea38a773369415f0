// Helpers for the net tests: networks from text, a private temporary
// directory and running a program by argv (no shell) with its standard
// streams in files, within a time limit.
#pragma once

#include "net/aggregate.hpp"
#include "net/cidr.hpp"
#include "net/zone.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace geoblock::net_test {

using net::Prefix4;
using net::Prefix6;
using net::u128;

// Networks of one family from text such as "10.0.0.0/8 10.1.0.0/16";
// fails the test on anything unparsable.
template <class A> std::vector<net::Prefix<A>> nets(const std::string& text)
{
  net::NetList list;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    std::string problem;
    if (!net::parse_network(word, list, &problem)) {
      ADD_FAILURE() << "bad network in test data: " << word << ": " << problem;
    }
  }
  return list.of<A>();
}
inline std::vector<Prefix4> v4(const std::string& text) { return nets<std::uint32_t>(text); }
inline std::vector<Prefix6> v6(const std::string& text) { return nets<u128>(text); }

// The networks as one space-separated string, for readable comparisons.
template <class A> std::string str(const std::vector<net::Prefix<A>>& list)
{
  std::string s;
  for (const auto& p : list) {
    if (!s.empty()) {
      s += ' ';
    }
    net::append_prefix(s, p);
  }
  return s;
}

inline std::string read_text(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::string& path, const std::string& text)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) {
    throw std::runtime_error("cannot write " + path);
  }
}

class TempDir {
public:
  TempDir()
  {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/geoblock-net-test.XXXXXX";
    if (!mkdtemp(templ.data())) {
      throw std::runtime_error("mkdtemp failed");
    }
    m_path = templ;
  }
  ~TempDir()
  {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return m_path; }
  std::string operator/(const std::string& name) const { return m_path + "/" + name; }

private:
  std::string m_path;
};

struct Ran {
  int code = -1; // exit status; -1 when killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs argv with `input` on stdin. The streams go through files in `dir`,
// so large outputs cannot deadlock a pipe. Killed after `timeout`.
inline Ran run(const std::vector<std::string>& argv,
               const std::string& input,
               const TempDir& dir,
               std::chrono::seconds timeout = std::chrono::seconds(120))
{
  const std::string in_path = dir / ".stdin";
  const std::string out_path = dir / ".stdout";
  const std::string err_path = dir / ".stderr";
  write_text(in_path, input);
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    const int in = open(in_path.c_str(), O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
      _exit(126);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  Ran r;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      break;
    }
    if (w < 0 && errno != EINTR) {
      throw std::runtime_error("waitpid failed");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << argv[0] << " timed out";
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out_path);
  r.err = read_text(err_path);
  return r;
}

// True when `program` can be found in PATH and started.
inline bool have_program(const std::string& program)
{
  TempDir dir;
  const Ran r = run({program, "--version"}, "", dir, std::chrono::seconds(30));
  return r.code == 0;
}

} // namespace geoblock::net_test
