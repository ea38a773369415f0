// The zone-file rules written out plainly, line by line, on top of
// parse_network. parse_zone (with its fast path for canonical lines) must
// agree with this on every input: the unit tests check it on mutated
// samples and the fuzz target on whatever libFuzzer finds.
#pragma once

#include "net/zone.hpp"

#include <string>

namespace geoblock::net_test {

struct ZoneReference {
  bool ok = true;
  std::size_t error_line = 0; // the first bad line when !ok
  net::NetList nets;          // the networks before the first bad line
};

inline ZoneReference
reference_zone(const std::string& text, const net::ZoneOptions& options)
{
  ZoneReference r;
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      nl = text.size();
    }
    std::string line = text.substr(start, nl - start);
    start = nl + 1;
    ++line_no;
    line = line.substr(0, line.find('#'));
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.pop_back();
    }
    const std::size_t first = line.find_first_not_of(" \t");
    line.erase(0, first == std::string::npos ? line.size() : first);
    if (line.empty()) {
      continue;
    }
    net::NetList one;
    bool good = line.find_first_of(" \t") == std::string::npos && net::parse_network(line, one);
    if (good && !one.v4.empty()) {
      good = includes(options.families, net::Family::V4) &&
             (options.min_prefix_v4 == 0 || one.v4[0].len >= options.min_prefix_v4);
    }
    if (good && !one.v6.empty()) {
      good = includes(options.families, net::Family::V6) &&
             (options.min_prefix_v6 == 0 || one.v6[0].len >= options.min_prefix_v6);
    }
    if (!good) {
      r.ok = false;
      r.error_line = line_no;
      return r;
    }
    r.nets.v4.insert(r.nets.v4.end(), one.v4.begin(), one.v4.end());
    r.nets.v6.insert(r.nets.v6.end(), one.v6.begin(), one.v6.end());
  }
  return r;
}

} // namespace geoblock::net_test
