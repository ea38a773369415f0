// The firewall side: parsing iptables-save text, building the one
// iptables-restore transaction that puts geoblock's rule in place, and
// running iptables-save / iptables-restore (by argv, always with --wait).
#pragma once

#include "net/cidr.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::apply {

// Where a rule goes: a table and a chain.
struct Hook {
  std::string table; // "raw", "mangle", "filter"
  std::string chain; // "PREROUTING", "INPUT", "FORWARD", "DOCKER-USER"
  friend bool operator==(const Hook&, const Hook&) = default;
};

// Accepts "raw:PREROUTING", "mangle:PREROUTING", "INPUT", "FORWARD",
// "DOCKER-USER" (a bare chain means the filter table) and "filter:CHAIN".
// Throws ConfigError for anything else.
Hook parse_hook(std::string_view text);
std::string to_string(const Hook& hook); // "raw:PREROUTING", "INPUT"

enum class Policy {
  Block,     // drop new packets from the listed networks
  AllowOnly, // drop packets from everywhere else (except lo, established, allowlist)
};

// One parsed iptables-save text. Every line remembers where it came from,
// so an error from iptables-restore can name the file and line.
struct Origin {
  std::string source; // a file name, "live ruleset", "geoblock"
  std::size_t line = 0;
};
struct ChainDecl {
  std::string name;
  std::string policy;   // "ACCEPT"/"DROP" for built-in chains, "-" for user chains
  std::string counters; // "[0:0]"
  Origin origin;
};
struct RuleLine {
  std::string chain;
  std::string body; // the rule after "-A CHAIN "
  Origin origin;
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

// What geoblock owns in one family's firewall.
struct RuleSpec {
  net::Family family = net::Family::V4;
  Policy policy = Policy::Block;
  std::string set;       // the live set, "geoblock-v4"
  std::string own_chain; // allow-only's chain, "geoblock-allow"
  std::vector<Hook> hooks;
  std::vector<std::string> allowlist; // allow-only: networks always accepted
};

// The rule geoblock puts in each hook, as iptables-save prints it:
// "-m set --match-set geoblock-v4 src -j DROP" or "-j geoblock-allow".
std::string hook_rule(const RuleSpec& spec);
// allow-only: the body of the own chain, in order.
std::vector<std::string> own_chain_rules(const RuleSpec& spec);
// True for rules geoblock manages: in its own chain, matching its set, or
// jumping to its own chain.
bool is_own_rule(const RuleSpec& spec, const RuleLine& rule);
// How often hook_rule(spec) sits in `hook` of `live`.
int count_hook_rule(const Ruleset& live, const RuleSpec& spec, const Hook& hook);
// True when `name` matches one of the glob patterns (fnmatch).
bool matches_any(const std::string& name, const std::vector<std::string>& patterns);

// iptables-restore input plus, for each of its lines, where it came from.
struct RestoreText {
  std::string text;
  std::vector<Origin> origins; // origins[i] is line i + 1
  void add(const std::string& line, Origin origin);
  // "baseline /etc/x:12" for an iptables-restore "line: N" message.
  std::string describe_line(std::size_t line) const;
};

enum class WithOwnRules { No, Yes };

// Baseline mode: a full restore (flushing each table it names) of the
// baseline's tables plus the tables of the hooks (taken from `live` when the
// baseline lacks them), in which chains matching `keep` (and the jumps into
// them from other chains) come from `live`, geoblock's earlier rules are
// dropped, and, with WithOwnRules::Yes, geoblock's rules are put first.
// Throws RulesError when a hook chain does not exist (e.g. DOCKER-USER
// without Docker).
RestoreText build_baseline_restore(const Ruleset& baseline, const Ruleset& live, const RuleSpec& spec,
                                   const std::vector<std::string>& keep, WithOwnRules own);

// No-baseline mode: --noflush input that leaves everything else alone and
// makes hook_rule(spec) appear exactly once, first, in each hook (inserting
// or deleting duplicates), rewriting allow-only's own chain. Empty when
// there is nothing to do.
RestoreText build_ensure(const Ruleset& live, const RuleSpec& spec);

// --noflush input deleting every geoblock rule and its own chain. Empty
// when there is nothing to delete.
RestoreText build_remove(const Ruleset& live, const RuleSpec& spec);

// iptables-save / iptables-restore for one family, run by argv.
class Xtables {
public:
  // `command` is "iptables" or "ip6tables" (or a path prefix such as
  // "/usr/sbin/iptables"): "-save" and "-restore" are appended.
  Xtables(net::Family family, std::string command,
          std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Throws RulesError when the save or restore program cannot be found.
  void require() const;
  // The live ruleset (all tables).
  Ruleset save() const;

  enum class Flush { Tables, None };
  enum class Mode { Test, Commit };
  // Feeds `text` to -restore --wait (with --noflush for Flush::None, --test
  // for Mode::Test). Throws RulesError naming the origin of the line that
  // failed.
  void restore(const RestoreText& text, Flush flush, Mode mode) const;

  const std::string& save_program() const { return m_save; }
  const std::string& restore_program() const { return m_restore; }

private:
  net::Family m_family;
  std::string m_save;
  std::string m_restore;
  std::chrono::milliseconds m_timeout;
};

} // namespace geoblock::apply
