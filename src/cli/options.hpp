// The command line, parsed into plain structs. This is the only file that
// uses Boost.Program_options; nothing else sees it.
#pragma once

#include "flow/commands.hpp"
#include "flow/config.hpp"
#include "net/cidr.hpp"

#include <optional>
#include <string>
#include <vector>

namespace geoblock::cli {

// Complete: the hidden --complete-words, for shell completion.
enum class Command {
  Help,
  Version,
  Complete,
  Aggregate,
  Update,
  Status,
  Restore,
  Remove,
  Check,
  Export,
  Mirror,
  Stats
};

struct AggregateArgs {
  net::Families family = net::Families::Both;
  std::vector<std::string> allow;       // --allow CIDR (repeatable)
  std::vector<std::string> allow_files; // --allow-file FILE (repeatable)
  std::vector<std::string> files;       // inputs; none means stdin
  bool stats = false;
  bool guard = false;    // apply the disaster guard
  int min_prefix_v4 = 0; // guard thresholds (with --guard)
  int min_prefix_v6 = 0;
  std::optional<double> ipset_reduce;   // allowed growth in percent
  std::size_t ipset_reduce_entries = 0; // ...or at least this many entries
};

using flow::Config;
using flow::k_default_config;
using flow::KeyOrigins;
using flow::RunArgs;

struct Invocation {
  Command command = Command::Help;
  std::string help_text; // for Command::Help and Command::Complete: what to print
  bool quiet = false;
  bool verbose = false;
  AggregateArgs aggregate;
  RunArgs run;
  Config config; // read for every command but aggregate
};

// Throws UsageError on anything it cannot accept.
Invocation parse_command_line(int argc, const char* const* argv);

// The request of a command that works on the configured firewall.
flow::Request request_of(const Invocation& inv);

// Reads a configuration file's text ("key = value" lines, '#' comments)
// into `config` the way --config PATH does with nothing else on the command
// line: values converted to their types, the line of each key recorded in
// config.origins. Throws ConfigError naming PATH (and the line of the key)
// for an unknown key, a value of the wrong type or a key repeated that is
// not repeatable; validate() checks the rest.
void parse_config_text(const std::string& text, const std::string& path, Config& config);

// "Boost.Program_options 1.74.0", the version built against (for geoblock
// --version).
std::string boost_version();

} // namespace geoblock::cli
