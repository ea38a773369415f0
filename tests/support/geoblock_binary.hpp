// Running the built geoblock binary from a test, and reading its output.
#pragma once

#include "util/subprocess.hpp"

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

namespace geoblock::test {

// GEOBLOCK_BINARY with `args`, bounded by `timeout`.
inline util::RunResult
run_geoblock(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(60))
{
  args.insert(args.begin(), GEOBLOCK_BINARY);
  return util::run(args, {}, timeout);
}

// The lines of a program's output, without their '\n'.
inline std::vector<std::string>
lines_of(const std::string& text)
{
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

} // namespace geoblock::test
