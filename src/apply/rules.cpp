#include "apply/rules.hpp"
#include "apply/state.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "util/subprocess.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fnmatch.h>
#include <set>

namespace geoblock::apply {

namespace {

const char* const k_tables[] = {"raw", "mangle", "filter", "nat", "security"};

} // namespace

bool
is_builtin(const std::string& chain)
{
  static const char* const builtins[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
  return std::any_of(std::begin(builtins), std::end(builtins), [&](const char* b) { return chain == b; });
}

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
  auto fail = [&](const std::string& problem) {
    throw RulesError(source + ":" + std::to_string(lineno) + ": " + problem);
  };
  text::Lines lines(text);
  for (std::string_view raw; lines.next(raw);) {
    lineno = lines.number();
    const std::string full(text::trim(raw));
    if (full.empty() || full[0] == '#') {
      continue;
    }
    const LineOrigin origin{source, lineno};
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    std::string line = full;
    if (line[0] == '[') {
      // "[packets:bytes] -A ..." (iptables-save -c)
      const auto close = line.find("] ");
      if (close == std::string::npos ||
          std::sscanf(line.c_str(), "[%" SCNu64 ":%" SCNu64 "]", &packets, &bytes) != 2) {
        fail("malformed counters in '" + line + "'");
      }
      line = std::string(text::trim(std::string_view(line).substr(close + 2)));
    }
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
      const std::string rest(text::trim(std::string_view(line).substr(line.find(' ') + 1)));
      const auto space = rest.find(' ');
      const std::string chain = rest.substr(0, space);
      if (current->chain(chain) == nullptr) {
        fail("rule for undeclared chain '" + chain + "'");
      }
      current->rules.push_back(RuleLine{
          chain,
          space == std::string::npos ? "" : std::string(text::trim(std::string_view(rest).substr(space))),
          origin, packets, bytes});
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

bool
matches_any(const std::string& name, const std::vector<std::string>& patterns)
{
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return ::fnmatch(p.c_str(), name.c_str(), 0) == 0; });
}

void
RestoreText::add(const std::string& line, LineOrigin origin)
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
  const LineOrigin& o = origins[line - 1];
  if (o.line == 0) {
    return o.source + " (generated line " + std::to_string(line) + ")";
  }
  return o.source + ":" + std::to_string(o.line);
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
    r = util::run({m_save, "-c"}, {}, m_timeout);
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
