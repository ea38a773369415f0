#include "apply/rules.hpp"

#include "core/error.hpp"
#include "util/subprocess.hpp"

#include <algorithm>
#include <cstring>
#include <fnmatch.h>
#include <set>

namespace geoblock::apply {

namespace {

const char* const k_tables[] = {"raw", "mangle", "filter", "nat", "security"};

bool
is_builtin(const std::string& chain)
{
  static const char* const builtins[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
  return std::any_of(std::begin(builtins), std::end(builtins), [&](const char* b) { return chain == b; });
}

// The chain a rule jumps or goes to, or "".
std::string
target_of(const std::string& body)
{
  const auto words = split_rule(body);
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "-j" || words[i] == "--jump" || words[i] == "-g" || words[i] == "--goto") {
      return words[i + 1];
    }
  }
  return {};
}

std::string
trim(std::string_view s)
{
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  return std::string(s);
}

const Origin k_geoblock{"geoblock", 0};

} // namespace

Hook
parse_hook(std::string_view text)
{
  std::string table = "filter";
  std::string chain(text);
  if (const auto colon = text.find(':'); colon != std::string_view::npos) {
    table = std::string(text.substr(0, colon));
    chain = std::string(text.substr(colon + 1));
  }
  const bool ok = (table == "raw" && chain == "PREROUTING") || (table == "mangle" && chain == "PREROUTING") ||
                  (table == "filter" && (chain == "INPUT" || chain == "FORWARD" || chain == "DOCKER-USER"));
  if (!ok) {
    throw ConfigError("unsupported chain '" + std::string(text) +
                      "': use raw:PREROUTING, mangle:PREROUTING, INPUT, FORWARD or DOCKER-USER");
  }
  return {table, chain};
}

std::string
to_string(const Hook& hook)
{
  return hook.table == "filter" ? hook.chain : hook.table + ":" + hook.chain;
}

const ChainDecl*
Table::chain(const std::string& chain_name) const
{
  for (const auto& c : chains) {
    if (c.name == chain_name) {
      return &c;
    }
  }
  return nullptr;
}

const Table*
Ruleset::table(const std::string& table_name) const
{
  for (const auto& t : tables) {
    if (t.name == table_name) {
      return &t;
    }
  }
  return nullptr;
}

std::vector<std::string>
split_rule(std::string_view body)
{
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  bool quoted = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (quoted) {
      if (c == '\\' && i + 1 < body.size()) {
        word += body[++i];
      } else if (c == '"') {
        quoted = false;
      } else {
        word += c;
      }
    } else if (c == '"') {
      quoted = true;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) {
        words.push_back(word);
        word.clear();
        in_word = false;
      }
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) {
    words.push_back(word);
  }
  return words;
}

Ruleset
parse_ruleset(std::string_view text, const std::string& source)
{
  Ruleset rs;
  Table* current = nullptr;
  std::size_t lineno = 0;
  std::size_t start = 0;
  auto fail = [&](const std::string& problem) {
    throw RulesError(source + ":" + std::to_string(lineno) + ": " + problem);
  };
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    ++lineno;
    const std::string line = trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const Origin origin{source, lineno};
    if (line[0] == '*') {
      if (current != nullptr) {
        fail("table '" + current->name + "' is not closed by COMMIT before '" + line + "'");
      }
      const std::string name = line.substr(1);
      if (std::find(std::begin(k_tables), std::end(k_tables), name) == std::end(k_tables)) {
        fail("unknown table '" + name + "'");
      }
      if (rs.table(name) != nullptr) {
        fail("table '" + name + "' appears twice");
      }
      rs.tables.push_back(Table{name, {}, {}});
      current = &rs.tables.back();
    } else if (line == "COMMIT") {
      if (current == nullptr) {
        fail("COMMIT outside a table");
      }
      current = nullptr;
    } else if (current == nullptr) {
      fail("'" + line + "' outside a table (missing '*filter' or similar)");
    } else if (line[0] == ':') {
      const auto words = split_rule(std::string_view(line).substr(1));
      if (words.empty() || words.size() > 3) {
        fail("malformed chain declaration '" + line + "'");
      }
      if (current->chain(words[0]) != nullptr) {
        fail("chain '" + words[0] + "' declared twice");
      }
      current->chains.push_back(ChainDecl{words[0], words.size() > 1 ? words[1] : "-",
                                          words.size() > 2 ? words[2] : "[0:0]", origin});
    } else if (line.rfind("-A ", 0) == 0 || line.rfind("--append ", 0) == 0) {
      const auto rest = trim(std::string_view(line).substr(line.find(' ') + 1));
      const auto space = rest.find(' ');
      const std::string chain = rest.substr(0, space);
      if (current->chain(chain) == nullptr) {
        fail("rule for undeclared chain '" + chain + "'");
      }
      current->rules.push_back(
          RuleLine{chain, space == std::string::npos ? "" : trim(rest.substr(space)), origin});
    } else {
      fail("not an iptables-save line: '" + line + "'");
    }
  }
  if (current != nullptr) {
    ++lineno;
    fail("table '" + current->name + "' is not closed by COMMIT at the end of the file");
  }
  return rs;
}

std::string
hook_rule(const RuleSpec& spec)
{
  if (spec.policy == Policy::AllowOnly) {
    return "-j " + spec.own_chain;
  }
  return "-m set --match-set " + spec.set + " src -j DROP";
}

std::vector<std::string>
own_chain_rules(const RuleSpec& spec)
{
  // Order matters: loopback and replies first (cheap, and they keep the
  // host's own connections alive), then the allowed countries, then the
  // allowlist, then the drop.
  std::vector<std::string> rules = {
      "-i lo -j RETURN",
      "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
      "-m set --match-set " + spec.set + " src -j RETURN",
  };
  for (const auto& net : spec.allowlist) {
    rules.push_back("-s " + net + " -j RETURN");
  }
  rules.push_back("-j DROP");
  return rules;
}

bool
is_own_rule(const RuleSpec& spec, const RuleLine& rule)
{
  if (!spec.own_chain.empty() && (rule.chain == spec.own_chain || target_of(rule.body) == spec.own_chain)) {
    return true;
  }
  const auto words = split_rule(rule.body);
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "--match-set" && words[i + 1] == spec.set) {
      return true;
    }
  }
  return false;
}

bool
matches_any(const std::string& name, const std::vector<std::string>& patterns)
{
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return ::fnmatch(p.c_str(), name.c_str(), 0) == 0; });
}

int
count_hook_rule(const Ruleset& live, const RuleSpec& spec, const Hook& hook)
{
  const Table* t = live.table(hook.table);
  if (t == nullptr) {
    return 0;
  }
  const std::string want = hook_rule(spec);
  return static_cast<int>(std::count_if(t->rules.begin(), t->rules.end(), [&](const RuleLine& r) {
    return r.chain == hook.chain && r.body == want;
  }));
}

void
RestoreText::add(const std::string& line, Origin origin)
{
  text += line;
  text += '\n';
  origins.push_back(std::move(origin));
}

std::string
RestoreText::describe_line(std::size_t line) const
{
  if (line == 0 || line > origins.size()) {
    return "line " + std::to_string(line) + " of the generated input";
  }
  const Origin& o = origins[line - 1];
  if (o.line == 0) {
    return o.source + " (generated line " + std::to_string(line) + ")";
  }
  return o.source + ":" + std::to_string(o.line);
}

RestoreText
build_baseline_restore(const Ruleset& baseline, const Ruleset& live, const RuleSpec& spec,
                       const std::vector<std::string>& keep, WithOwnRules own)
{
  auto kept = [&](const std::string& chain) { return !is_builtin(chain) && matches_any(chain, keep); };

  std::vector<std::string> names;
  for (const auto& t : baseline.tables) {
    names.push_back(t.name);
  }
  for (const auto& h : spec.hooks) {
    if (std::find(names.begin(), names.end(), h.table) == names.end()) {
      names.push_back(h.table);
    }
  }

  RestoreText out;
  for (const auto& name : names) {
    const Table* from_baseline = baseline.table(name);
    const Table* from_live = live.table(name);
    // A hook's table that the baseline lacks keeps its live contents.
    const Table empty{name, {}, {}};
    const Table& base = from_baseline ? *from_baseline : from_live ? *from_live : empty;
    const Table& now = from_live ? *from_live : empty;

    out.add("*" + name, k_geoblock);
    std::set<std::string> declared;
    auto declare = [&](const ChainDecl& c) {
      if (declared.insert(c.name).second) {
        out.add(":" + c.name + " " + c.policy + " " + c.counters, c.origin);
      }
    };
    for (const auto& c : base.chains) {
      if (!kept(c.name) && c.name != spec.own_chain) {
        declare(c);
      }
    }
    for (const auto& c : now.chains) {
      if (kept(c.name)) {
        declare(c);
      }
    }
    const bool ours = own == WithOwnRules::Yes;
    for (const auto& h : spec.hooks) {
      if (h.table != name || declared.count(h.chain) != 0) {
        continue;
      }
      if (!is_builtin(h.chain)) {
        throw RulesError("chain " + h.chain + " does not exist in table " + name +
                         " (neither in the baseline nor live; is Docker running?)");
      }
      declare(ChainDecl{h.chain, "ACCEPT", "[0:0]", k_geoblock});
    }
    if (ours && spec.policy == Policy::AllowOnly &&
        std::any_of(spec.hooks.begin(), spec.hooks.end(), [&](const Hook& h) { return h.table == name; })) {
      declare(ChainDecl{spec.own_chain, "-", "[0:0]", k_geoblock});
    }

    // Per chain, lines apply in input order: geoblock's rule first, then
    // the live jumps into kept chains (fail2ban and Docker insert theirs at
    // the top), then the baseline's own rules.
    if (ours) {
      for (const auto& h : spec.hooks) {
        if (h.table == name) {
          out.add("-A " + h.chain + " " + hook_rule(spec), k_geoblock);
        }
      }
      if (spec.policy == Policy::AllowOnly && declared.count(spec.own_chain) != 0) {
        for (const auto& r : own_chain_rules(spec)) {
          out.add("-A " + spec.own_chain + " " + r, k_geoblock);
        }
      }
    }
    for (const auto& r : now.rules) {
      if (!kept(r.chain) && kept(target_of(r.body)) && declared.count(r.chain) != 0 &&
          !is_own_rule(spec, r)) {
        out.add("-A " + r.chain + " " + r.body, r.origin);
      }
    }
    for (const auto& r : base.rules) {
      if (!kept(r.chain) && !kept(target_of(r.body)) && !is_own_rule(spec, r)) {
        out.add("-A " + r.chain + " " + r.body, r.origin);
      }
    }
    for (const auto& r : now.rules) {
      if (kept(r.chain)) {
        out.add("-A " + r.chain + " " + r.body, r.origin);
      }
    }
    out.add("COMMIT", k_geoblock);
  }
  return out;
}

RestoreText
build_ensure(const Ruleset& live, const RuleSpec& spec)
{
  RestoreText out;
  std::vector<std::string> tables;
  for (const auto& h : spec.hooks) {
    if (std::find(tables.begin(), tables.end(), h.table) == tables.end()) {
      tables.push_back(h.table);
    }
  }
  const std::string rule = hook_rule(spec);
  for (const auto& name : tables) {
    RestoreText section;
    const Table* t = live.table(name);
    std::vector<std::string> body_now;
    if (t != nullptr) {
      for (const auto& r : t->rules) {
        if (r.chain == spec.own_chain) {
          body_now.push_back(r.body);
        }
      }
    }
    const bool body_ok =
        t != nullptr && t->chain(spec.own_chain) != nullptr && body_now == own_chain_rules(spec);
    if (spec.policy == Policy::AllowOnly && !body_ok) {
      // Declaring an existing chain under --noflush empties it: the body is
      // rewritten whole, so a changed allowlist takes effect.
      section.add(":" + spec.own_chain + " - [0:0]", k_geoblock);
      for (const auto& r : own_chain_rules(spec)) {
        section.add("-A " + spec.own_chain + " " + r, k_geoblock);
      }
    }
    for (const auto& h : spec.hooks) {
      if (h.table != name) {
        continue;
      }
      if (!is_builtin(h.chain) && (t == nullptr || t->chain(h.chain) == nullptr)) {
        throw RulesError("chain " + h.chain + " does not exist in table " + name + " (is Docker running?)");
      }
      const int present = count_hook_rule(live, spec, h);
      // The rule must be first, so that no earlier ACCEPT lets a blocked
      // address through; a misplaced copy is removed and reinserted.
      bool first = false;
      if (t != nullptr) {
        for (const auto& r : t->rules) {
          if (r.chain == h.chain) {
            first = r.body == rule;
            break;
          }
        }
      }
      const int remove = first ? present - 1 : present;
      for (int i = 0; i < remove; ++i) {
        // -D deletes the first match; deleting before inserting keeps the
        // one at the top when it is there.
        section.add("-D " + h.chain + " " + rule, k_geoblock);
      }
      if (!first) {
        section.add("-I " + h.chain + " 1 " + rule, k_geoblock);
      }
    }
    if (!section.origins.empty()) {
      out.add("*" + name, k_geoblock);
      std::size_t pos = 0;
      for (const auto& o : section.origins) {
        const auto nl = section.text.find('\n', pos);
        out.add(section.text.substr(pos, nl - pos), o);
        pos = nl + 1;
      }
      out.add("COMMIT", k_geoblock);
    }
  }
  return out;
}

RestoreText
build_remove(const Ruleset& live, const RuleSpec& spec)
{
  RestoreText out;
  for (const auto& t : live.tables) {
    std::vector<std::string> lines;
    for (const auto& r : t.rules) {
      if (r.chain != spec.own_chain && is_own_rule(spec, r)) {
        lines.push_back("-D " + r.chain + " " + r.body);
      }
    }
    if (!spec.own_chain.empty() && t.chain(spec.own_chain) != nullptr) {
      lines.push_back("-F " + spec.own_chain);
      lines.push_back("-X " + spec.own_chain);
    }
    if (!lines.empty()) {
      out.add("*" + t.name, k_geoblock);
      for (const auto& l : lines) {
        out.add(l, k_geoblock);
      }
      out.add("COMMIT", k_geoblock);
    }
  }
  return out;
}

Xtables::Xtables(net::Family family, std::string command, std::chrono::milliseconds timeout)
    : m_family(family), m_save(command + "-save"), m_restore(command + "-restore"), m_timeout(timeout)
{
}

void
Xtables::require() const
{
  for (const auto* program : {&m_save, &m_restore}) {
    if (!util::program_exists(*program)) {
      throw RulesError(*program + " not found: install the iptables package (needed for the " +
                       net::family_name(m_family) + " rule)");
    }
  }
}

Ruleset
Xtables::save() const
{
  util::RunResult r;
  try {
    r = util::run({m_save}, {}, m_timeout);
  } catch (const Error& e) {
    throw RulesError(e.what());
  }
  if (!r.ok()) {
    throw RulesError(m_save + " failed: " + r.describe());
  }
  return parse_ruleset(r.out, "live ruleset");
}

void
Xtables::restore(const RestoreText& text, Flush flush, Mode mode) const
{
  std::vector<std::string> argv = {m_restore, "--wait"};
  if (flush == Flush::None) {
    argv.push_back("--noflush");
  }
  if (mode == Mode::Test) {
    argv.push_back("--test");
  }
  util::RunResult r;
  try {
    r = util::run(argv, text.text, m_timeout);
  } catch (const Error& e) {
    throw RulesError(e.what());
  }
  if (r.ok()) {
    return;
  }
  // iptables-restore says "Error occurred at line: N" (nft) or
  // "line N failed" (legacy); map N back to the file it came from.
  std::string where;
  for (const char* key : {"line: ", "line "}) {
    const auto at = r.err.find(key);
    if (at != std::string::npos) {
      const unsigned long n = std::strtoul(r.err.c_str() + at + std::strlen(key), nullptr, 10);
      if (n > 0) {
        where = text.describe_line(n) + ": ";
        break;
      }
    }
  }
  std::string reason = r.err.substr(0, r.err.find('\n'));
  if (const auto colon = reason.find("): "); reason.rfind(m_restore, 0) == 0 || colon != std::string::npos) {
    if (colon != std::string::npos) {
      reason = reason.substr(colon + 3);
    }
  }
  if (reason.empty() || r.timed_out || r.signal != 0) {
    reason = r.describe();
  }
  throw RulesError(where + m_restore + (mode == Mode::Test ? " --test" : "") +
                   " refused the rules: " + reason);
}

} // namespace geoblock::apply
