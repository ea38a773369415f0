#include "apply/converge.hpp"

#include "apply/iptables_rule.hpp"
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
        if (c.own || owned(own, *r)) {
          c.rules.push_back(parse_iptables_body(r->body, family));
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
render_plan(const Ruleset& live, net::Family family, const Plan& plan)
{
  std::set<std::string> tables;
  for (const auto& c : plan.chains) {
    if (c.desired.family == family) {
      tables.insert(c.desired.table);
    }
  }
  RestoreText out;
  for (const std::string& name : ordered(tables)) {
    const Table* t = live.table(name);
    auto exists = [t](const std::string& chain) { return t != nullptr && t->chain(chain) != nullptr; };
    std::vector<const ChainChange*> changes;
    for (const auto& c : plan.chains) {
      if (c.desired.family == family && c.desired.table == name) {
        changes.push_back(&c);
      }
    }
    std::vector<std::string> lines;
    // 1. New chains of geoblock's (and a missing DOCKER-USER), declared
    // before anything jumps to them or is inserted into them.
    for (const ChainChange* c : changes) {
      const bool create =
          c->kind == ChainChange::Kind::Create ||
          (c->kind == ChainChange::Kind::Converge && created_when_missing(name, c->desired.chain));
      if (create && !exists(c->desired.chain)) {
        lines.push_back(":" + c->desired.chain + " - [0:0]");
      }
    }
    // 2. The system's chains: deletes bottom up, then inserts in place.
    for (const ChainChange* c : changes) {
      if (c->kind != ChainChange::Kind::Converge) {
        continue;
      }
      const std::string& chain = c->desired.chain;
      if (!exists(chain) && !is_builtin(chain) && !created_when_missing(name, chain)) {
        throw RulesError("chain " + chain + " does not exist in table " + name);
      }
      for (const std::size_t p : c->delete_positions) {
        lines.push_back("-D " + chain + " " + std::to_string(p + 1));
      }
      for (const auto& [index, rule] : c->inserts) {
        lines.push_back("-I " + chain + " " + std::to_string(index + 1) + " " + iptables_body(rule, family));
      }
    }
    // 3. geoblock's own chains: filled, rewritten or removed.
    for (const ChainChange* c : changes) {
      const std::string& chain = c->desired.chain;
      if (c->kind == ChainChange::Kind::Create || c->kind == ChainChange::Kind::Rewrite) {
        if (exists(chain)) {
          lines.push_back("-F " + chain);
        }
        for (const auto& r : c->desired.rules) {
          lines.push_back("-A " + chain + " " + iptables_body(r, family));
        }
      }
    }
    for (const ChainChange* c : changes) {
      if (c->kind == ChainChange::Kind::Delete && exists(c->desired.chain)) {
        lines.push_back("-F " + c->desired.chain);
        lines.push_back("-X " + c->desired.chain);
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
build_converge(const Ruleset& live, net::Family family, const std::vector<ChainState>& desired,
               const Ownership& own)
{
  FirewallState want;
  want.chains = desired;
  FirewallState now;
  now.chains = owned_chains(live, family, own);
  return render_plan(live, family, diff(want, now));
}

RestoreText
build_baseline_restore(const Ruleset& baseline, const Ruleset& live, net::Family family,
                       const std::vector<ChainState>& desired, const Ownership& own,
                       const std::vector<std::string>& keep, WithOwnRules with_own)
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
            out.add("-A " + c.chain + " " + iptables_body(r, family), k_geoblock);
          }
        }
      }
    }
    for (const auto& r : now.rules) {
      if (!kept(r.chain) && kept(target_of(r.body)) && declared.count(r.chain) != 0 && !owned(own, r)) {
        out.add("-A " + r.chain + " " + r.body, r.origin);
      }
    }
    for (const auto& r : base.rules) {
      if (!kept(r.chain) && !kept(target_of(r.body)) && !owned(own, r)) {
        out.add("-A " + r.chain + " " + r.body, r.origin);
      }
    }
    // A kept chain's rules as they are live, but geoblock's (in DOCKER-USER):
    // those come from the desired state above, once.
    for (const auto& r : now.rules) {
      if (kept(r.chain) && !owned(own, r)) {
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
      if (!kept(r.chain) && !kept(target_of(r.body)) && !owned(own, r)) {
        out += "-A " + r.chain + " " + r.body + "\n";
      }
    }
  }
  return out;
}

} // namespace geoblock::apply
