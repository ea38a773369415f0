// Helpers for the net tests: networks from text, files, and running a
// program by argv (no shell) within a time limit.
#pragma once

#include "net/aggregate.hpp"
#include "net/cidr.hpp"
#include "net/zone.hpp"
#include "support/temp_dir.hpp"
#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace geoblock::net_test {

using net::Prefix4;
using net::Prefix6;
using net::u128;

// Networks of one family from text such as "10.0.0.0/8 10.1.0.0/16";
// fails the test on anything unparsable.
template <class A>
std::vector<net::Prefix<A>>
nets(const std::string& text)
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
inline std::vector<Prefix4>
v4(const std::string& text)
{
  return nets<std::uint32_t>(text);
}
inline std::vector<Prefix6>
v6(const std::string& text)
{
  return nets<u128>(text);
}

// The networks as one space-separated string, for readable comparisons.
template <class A>
std::string
str(const std::vector<net::Prefix<A>>& list)
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

inline std::string
read_text(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void
write_text(const std::string& path, const std::string& text)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) {
    throw std::runtime_error("cannot write " + path);
  }
}

using geoblock::test::TempDir;

struct Ran {
  int code = -1; // exit status; -1 when killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs argv with `input` on stdin (util::run: no shell, both streams
// drained together, killed after `timeout`). `dir` is kept for callers
// that place inputs there.
inline Ran
run(const std::vector<std::string>& argv, const std::string& input, const TempDir& /*dir*/,
    std::chrono::seconds timeout = std::chrono::seconds(120))
{
  const util::RunResult r = util::run(argv, input, timeout);
  if (r.timed_out) {
    ADD_FAILURE() << argv[0] << " timed out";
  }
  return Ran{r.timed_out ? -1 : r.exit_code, r.out, r.err};
}

// True when `program` can be found in PATH and started.
inline bool
have_program(const std::string& program)
{
  return util::program_exists(program);
}

} // namespace geoblock::net_test
