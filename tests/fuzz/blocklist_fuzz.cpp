// Fuzzes the extra-blocklist reader (net/blocklist.hpp parse_blocklist).
//
// Checked:
//  - only ParseError is thrown, and then nothing is added to the output;
//  - every network is a valid prefix (no host bits) that passes the guard;
//  - the statistics count what was added, per family;
//  - a list is a function of its lines: the same text parsed again gives
//    the same networks, and the text with each comment removed gives them
//    too (comments never change what a line means).
#include "core/error.hpp"
#include "fuzz/fuzz_util.hpp"
#include "net/blocklist.hpp"

#include <string>

namespace {

using namespace geoblock;
using fuzz::check;

template <class A>
bool
valid(const std::vector<net::Prefix<A>>& nets, int min)
{
  for (const auto& p : nets) {
    if ((p.addr & static_cast<A>(~net::mask<A>(p.len))) != 0 || p.len < min) {
      return false;
    }
  }
  return true;
}

// `text` with everything from a '#' or ';' to the end of its line removed.
std::string
without_comments(std::string_view text)
{
  std::string out;
  bool comment = false;
  for (const char c : text) {
    if (c == '\n') {
      comment = false;
    } else if (c == '#' || c == ';') {
      comment = true;
    }
    if (!comment) {
      out += c;
    }
  }
  return out;
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const net::ZoneOptions guard{net::Families::Both, net::k_default_min_prefix_v4,
                               net::k_default_min_prefix_v6};
  net::NetList out;
  out.v4.push_back({0x0a000000u, 8}); // what the caller had before
  net::ZoneStats stats;
  try {
    stats = net::parse_blocklist(text, "fuzz", guard, out);
  } catch (const ParseError& e) {
    check(out.v4.size() == 1 && out.v6.empty(), "a refused list added nothing");
    check(e.line() >= 1, "the error names a line");
    return 0;
  }
  out.v4.erase(out.v4.begin());
  check(stats.v4 == out.v4.size() && stats.v6 == out.v6.size(), "statistics count what was added");
  check(stats.networks == stats.v4 + stats.v6, "networks = v4 + v6");
  check(valid(out.v4, guard.min_prefix_v4) && valid(out.v6, guard.min_prefix_v6), "valid prefixes");
  net::NetList again;
  net::parse_blocklist(without_comments(text), "fuzz", guard, again);
  check(again.v4 == out.v4 && again.v6 == out.v6, "comments change nothing");
  return 0;
}
