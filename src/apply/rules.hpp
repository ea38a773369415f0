// The iptables side: parsing iptables-save text, the restore input with the
// origin of each line, and running iptables-save / iptables-restore (by
// argv, always with --wait). What to write is decided in converge.hpp.
#pragma once

#include "apply/model.hpp"
#include "net/cidr.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::apply {

// One parsed iptables-save text. Every line remembers where it came from,
// so an error from iptables-restore can name the file and line.
struct LineOrigin {
  std::string source; // a file name, "live ruleset", "geoblock"
  std::size_t line = 0;
};
struct ChainDecl {
  std::string name;
  std::string policy;   // "ACCEPT"/"DROP" for built-in chains, "-" for user chains
  std::string counters; // "[0:0]"
  LineOrigin origin;
};
struct RuleLine {
  std::string chain;
  std::string body; // the rule after "-A CHAIN "
  LineOrigin origin;
  std::uint64_t packets = 0; // counters, when saved with -c ("[packets:bytes] -A ...")
  std::uint64_t bytes = 0;
};
struct Table {
  std::string name;
  std::vector<ChainDecl> chains;
  std::vector<RuleLine> rules;
  const ChainDecl* chain(const std::string& name) const;
};
struct Ruleset {
  std::vector<Table> tables;
  const Table* table(const std::string& name) const;
};

// Parses iptables-save output (or a saved file such as
// /etc/sysconfig/iptables.BACKUP). Checks the structure only (sections,
// declarations, COMMIT); iptables-restore --test checks the rules. Throws
// RulesError "SOURCE:LINE: problem".
Ruleset parse_ruleset(std::string_view text, const std::string& source);

// Splits a rule into words the way iptables-save quotes them.
std::vector<std::string> split_rule(std::string_view body);

// True when `name` matches one of the glob patterns (fnmatch).
bool matches_any(const std::string& name, const std::vector<std::string>& patterns);

// True for the chains every table is born with (PREROUTING, INPUT, ...).
bool is_builtin(const std::string& chain);

// The chain a rule jumps or goes to, or "".
std::string target_of(const std::string& body);

// iptables-restore input plus, for each of its lines, where it came from.
struct RestoreText {
  std::string text;
  std::vector<LineOrigin> origins; // origins[i] is line i + 1
  void add(const std::string& line, LineOrigin origin);
  // "baseline /etc/x:12" for an iptables-restore "line: N" message.
  std::string describe_line(std::size_t line) const;
};

// iptables-save / iptables-restore for one family, run by argv.
class Xtables {
public:
  // `command` is "iptables" or "ip6tables" (or a path prefix such as
  // "/usr/sbin/iptables"): "-save" and "-restore" are appended.
  Xtables(net::Family family, std::string command,
          std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Throws RulesError when the save or restore program cannot be found.
  void require() const;
  // The live ruleset (all tables), with the rules' counters.
  Ruleset save() const;

  enum class Flush { Tables, None };
  enum class Mode { Test, Commit };
  // Feeds `text` to -restore --wait (with --noflush for Flush::None, --test
  // for Mode::Test). Throws RulesError naming the origin of the line that
  // failed.
  void restore(const RestoreText& text, Flush flush, Mode mode) const;

  const std::string& save_program() const { return m_save; }

private:
  net::Family m_family;
  std::string m_save;
  std::string m_restore;
  std::chrono::milliseconds m_timeout;
};

} // namespace geoblock::apply
