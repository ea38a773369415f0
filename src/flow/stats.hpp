// Per-source counters as `geoblock stats` shows them, as its JSON and the
// state document carry them, and as the metrics file exports them. The
// counters themselves are read from the kernel by the backends; this file
// only sorts, words and renders them.
#pragma once

#include "apply/state.hpp"
#include "util/json.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace geoblock::flow {

// What one source's rule counted in one place.
struct SourceCounter {
  std::string source;    // "nz" (a country, lower case), "list:NAME", "as:NUMBER"
  std::string family;    // "v4", "v6"
  std::string direction; // "in", "out"
  std::string hook;      // "raw", "mangle", "input", "forward", "output", "ingress", "xdp"
  std::string action;    // "drop", "reject", "count", "limit"
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  friend bool operator==(const SourceCounter&, const SourceCounter&) = default;
};

// The per-source counters of a live firewall read by a backend: each
// source's chain (<set-name>-src-<source>) per family, its action as the
// chain's rules say, its packets those its action rules counted (not the
// neighbour discovery and except-ports returns, not the log line).
std::vector<SourceCounter> counters_of(const apply::FirewallState& live, const apply::RulesConfig& config);

// Most packets first (then most bytes, then by source, family, direction,
// hook): the order of every listing.
void sort_counters(std::vector<SourceCounter>& rows);

// {"counters": [{"source": "nz", "family": "v4", "direction": "in", "hook":
// "raw", "action": "drop", "packets": N, "bytes": N}, ...]}, sorted, the
// first `top` rows (0: all).
util::Json stats_json(std::vector<SourceCounter> rows, std::size_t top = 0);
// The rows of a "counters" array as stats_json() writes it; rows that are
// not such objects are skipped (the state document is ours, but may come
// from another version).
std::vector<SourceCounter> counters_from_json(const util::Json& counters);

// The text of `geoblock stats`: a row per counter, sorted, the first `top`
// (0: all), each with a bar of Unicode block characters scaled to the
// largest, packets, bytes, action, family (direction and hook where more
// than one occurs); then a total row over every counter, shown or not.
std::string format_stats(std::vector<SourceCounter> rows, std::size_t top = 0);

// A bar of `width` cells for `value` of `largest`, in eighths of a cell
// (U+2588 full block down to U+258F one eighth), padded with spaces: the
// largest value fills every cell, any value above zero shows at least one
// eighth, zero shows none.
std::string bar(std::uint64_t value, std::uint64_t largest, int width);

// A Prometheus label value: backslash, double quote and line end escaped.
std::string label_value(const std::string& text);

// The Prometheus text of the counters: geoblock_packets_total and
// geoblock_bytes_total with labels source, family, direction and action
// (summed over hooks), in sorted label order.
std::string counter_metrics(const std::vector<SourceCounter>& rows);

} // namespace geoblock::flow
