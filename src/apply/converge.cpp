#include "apply/converge.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <set>

namespace geoblock::apply {

namespace {

const LineOrigin k_geoblock{"geoblock", 0};
const char* const k_table_order[] = {"raw", "mangle", "filter", "nat", "security"};

// Docker's chain for the administrator's rules. Configured before Docker
// has created it (Docker not started yet, or without ip6tables), geoblock
// creates it with its rule: Docker 20.10 keeps an existing DOCKER-USER
// (it only creates it when missing), appends its RETURN below geoblock's
// rule and puts the jump to it first in FORWARD. geoblock never adds that
// jump itself: Docker would insert a second one above it.
bool
created_when_missing(const std::string& table, const std::string& chain)
{
  return table == "filter" && chain == "DOCKER-USER";
}

// Table names in the kernel's usual order.
std::vector<std::string>
ordered(const std::set<std::string>& names)
{
  std::vector<std::string> out;
  for (const char* t : k_table_order) {
    if (names.count(t) != 0) {
      out.push_back(t);
    }
  }
  return out;
}

std::vector<const RuleLine*>
rules_of(const Table* t, const std::string& chain)
{
  std::vector<const RuleLine*> out;
  if (t != nullptr) {
    for (const auto& r : t->rules) {
      if (r.chain == chain) {
        out.push_back(&r);
      }
    }
  }
  return out;
}

} // namespace

std::vector<ChainState>
owned_chains(const Ruleset& live, net::Family family, const Ownership& own)
{
  std::vector<ChainState> out;
  for (const auto& t : live.tables) {
    for (const auto& decl : t.chains) {
      ChainState c;
      c.family = family;
      c.table = t.name;
      c.chain = decl.name;
      c.own = own.owns_chain(decl.name);
      std::size_t position = 0;
      for (const RuleLine* r : rules_of(&t, decl.name)) {
        if (c.own || own.owns(*r)) {
          c.rules.push_back(r->body);
          c.positions.push_back(position);
          c.counters.push_back(Counters{r->packets, r->bytes});
        }
        ++position;
      }
      if (c.own || !c.rules.empty()) {
        out.push_back(std::move(c));
      }
    }
  }
  return out;
}

RestoreText
build_converge(const Ruleset& live, const std::vector<ChainState>& desired, const Ownership& own)
{
  std::set<std::string> tables;
  for (const auto& c : desired) {
    tables.insert(c.table);
  }
  for (const auto& t : live.tables) {
    for (const auto& r : t.rules) {
      if (own.owns(r)) {
        tables.insert(t.name);
      }
    }
    for (const auto& c : t.chains) {
      if (own.owns_chain(c.name)) {
        tables.insert(t.name);
      }
    }
  }

  RestoreText out;
  for (const std::string& name : ordered(tables)) {
    const Table* t = live.table(name);
    std::vector<std::string> lines;
    auto want = [&](const std::string& chain) -> const ChainState* {
      for (const auto& c : desired) {
        if (c.table == name && c.chain == chain) {
          return &c;
        }
      }
      return nullptr;
    };

    // 1. New chains of geoblock's (and a missing DOCKER-USER), declared
    // before anything jumps to them or is inserted into them.
    for (const auto& c : desired) {
      if (c.table == name && (c.own || created_when_missing(name, c.chain)) &&
          (t == nullptr || t->chain(c.chain) == nullptr)) {
        lines.push_back(":" + c.chain + " - [0:0]");
      }
    }

    // 2. The system's chains: geoblock's rules first, in order, once.
    std::vector<std::string> chains;
    for (const auto& c : desired) {
      if (c.table == name && !c.own) {
        chains.push_back(c.chain);
      }
    }
    if (t != nullptr) {
      for (const auto& decl : t->chains) {
        if (own.owns_chain(decl.name) || std::find(chains.begin(), chains.end(), decl.name) != chains.end()) {
          continue;
        }
        const auto rules = rules_of(t, decl.name);
        if (std::any_of(rules.begin(), rules.end(), [&](const RuleLine* r) { return own.owns(*r); })) {
          chains.push_back(decl.name);
        }
      }
    }
    for (const std::string& chain : chains) {
      if ((t == nullptr || t->chain(chain) == nullptr) && !is_builtin(chain) &&
          !created_when_missing(name, chain)) {
        throw RulesError("chain " + chain + " does not exist in table " + name);
      }
      const ChainState* w = want(chain);
      const std::vector<std::string> none;
      const std::vector<std::string>& d = w ? w->rules : none;
      const auto l = rules_of(t, chain);
      // The rules already standing first and in order stay, with their
      // counters.
      std::size_t keep = 0;
      while (keep < d.size() && keep < l.size() && own.owns(*l[keep]) && same_rule(l[keep]->body, d[keep])) {
        ++keep;
      }
      // Bottom up, so that the positions of the rules above stay valid.
      for (std::size_t i = l.size(); i-- > keep;) {
        if (own.owns(*l[i])) {
          lines.push_back("-D " + chain + " " + std::to_string(i + 1));
        }
      }
      for (std::size_t j = keep; j < d.size(); ++j) {
        lines.push_back("-I " + chain + " " + std::to_string(j + 1) + " " + d[j]);
      }
    }

    // 3. geoblock's own chains: filled, rewritten or removed.
    for (const auto& c : desired) {
      if (c.table != name || !c.own) {
        continue;
      }
      const bool exists = t != nullptr && t->chain(c.chain) != nullptr;
      std::vector<std::string> now;
      for (const RuleLine* r : rules_of(t, c.chain)) {
        now.push_back(r->body);
      }
      bool same = exists && now.size() == c.rules.size();
      for (std::size_t i = 0; same && i < now.size(); ++i) {
        same = same_rule(now[i], c.rules[i]);
      }
      if (same) {
        continue;
      }
      if (exists) {
        lines.push_back("-F " + c.chain);
      }
      for (const auto& r : c.rules) {
        lines.push_back("-A " + c.chain + " " + r);
      }
    }
    if (t != nullptr) {
      for (const auto& decl : t->chains) {
        if (own.owns_chain(decl.name) && want(decl.name) == nullptr) {
          lines.push_back("-F " + decl.name);
          lines.push_back("-X " + decl.name);
        }
      }
    }

    if (!lines.empty()) {
      out.add("*" + name, k_geoblock);
      for (const auto& l : lines) {
        out.add(l, k_geoblock);
      }
      out.add("COMMIT", k_geoblock);
    }
  }
  return out;
}

RestoreText
build_baseline_restore(const Ruleset& baseline, const Ruleset& live, const std::vector<ChainState>& desired,
                       const Ownership& own, const std::vector<std::string>& keep, WithOwnRules with_own)
{
  auto kept = [&](const std::string& chain) { return !is_builtin(chain) && matches_any(chain, keep); };

  std::vector<std::string> names;
  for (const auto& t : baseline.tables) {
    names.push_back(t.name);
  }
  for (const auto& c : desired) {
    if (std::find(names.begin(), names.end(), c.table) == names.end()) {
      names.push_back(c.table);
    }
  }

  const bool ours = with_own == WithOwnRules::Yes;
  RestoreText out;
  for (const auto& name : names) {
    const Table* from_baseline = baseline.table(name);
    const Table* from_live = live.table(name);
    // A table of geoblock's chains that the baseline lacks keeps its live
    // contents.
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
      if (!kept(c.name) && !own.owns_chain(c.name)) {
        declare(c);
      }
    }
    for (const auto& c : now.chains) {
      if (kept(c.name)) {
        declare(c);
      }
    }
    for (const auto& c : desired) {
      if (c.table != name || declared.count(c.chain) != 0) {
        continue;
      }
      if (c.own) {
        if (ours) {
          declare(ChainDecl{c.chain, "-", "[0:0]", k_geoblock});
        }
      } else if (created_when_missing(name, c.chain)) {
        declare(ChainDecl{c.chain, "-", "[0:0]", k_geoblock});
      } else if (!is_builtin(c.chain)) {
        throw RulesError("chain " + c.chain + " does not exist in table " + name +
                         " (neither in the baseline nor live)");
      } else {
        declare(ChainDecl{c.chain, "ACCEPT", "[0:0]", k_geoblock});
      }
    }

    // Per chain, lines apply in input order: geoblock's rules first, then
    // the live jumps into kept chains (fail2ban and Docker insert theirs at
    // the top), then the baseline's own rules.
    if (ours) {
      for (const auto& c : desired) {
        if (c.table == name) {
          for (const auto& r : c.rules) {
            out.add("-A " + c.chain + " " + r, k_geoblock);
          }
        }
      }
    }
    for (const auto& r : now.rules) {
      if (!kept(r.chain) && kept(target_of(r.body)) && declared.count(r.chain) != 0 && !own.owns(r)) {
        out.add("-A " + r.chain + " " + r.body, r.origin);
      }
    }
    for (const auto& r : base.rules) {
      if (!kept(r.chain) && !kept(target_of(r.body)) && !own.owns(r)) {
        out.add("-A " + r.chain + " " + r.body, r.origin);
      }
    }
    // A kept chain's rules as they are live, but geoblock's (in DOCKER-USER):
    // those come from the desired state above, once.
    for (const auto& r : now.rules) {
      if (kept(r.chain) && !own.owns(r)) {
        out.add("-A " + r.chain + " " + r.body, r.origin);
      }
    }
    out.add("COMMIT", k_geoblock);
  }
  return out;
}

std::string
baseline_managed_text(const Ruleset& live, const Ruleset& baseline, const Ownership& own,
                      const std::vector<std::string>& keep)
{
  auto kept = [&](const std::string& chain) { return !is_builtin(chain) && matches_any(chain, keep); };
  std::string out;
  for (const auto& b : baseline.tables) {
    const Table* t = live.table(b.name);
    out += "*" + b.name + "\n";
    if (t == nullptr) {
      continue;
    }
    for (const auto& c : t->chains) {
      if (!kept(c.name) && !own.owns_chain(c.name)) {
        out += ":" + c.name + " " + c.policy + "\n";
      }
    }
    for (const auto& r : t->rules) {
      if (!kept(r.chain) && !kept(target_of(r.body)) && !own.owns(r)) {
        out += "-A " + r.chain + " " + r.body + "\n";
      }
    }
  }
  return out;
}

} // namespace geoblock::apply
