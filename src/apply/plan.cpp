#include "apply/plan.hpp"

#include <algorithm>
#include <iterator>

namespace geoblock::apply {

namespace {

template <class P>
void
count_changes(const std::vector<P>& want, const std::vector<P>& have, std::size_t& added,
              std::size_t& removed)
{
  std::vector<P> only;
  std::set_difference(want.begin(), want.end(), have.begin(), have.end(), std::back_inserter(only));
  added += only.size();
  only.clear();
  std::set_difference(have.begin(), have.end(), want.begin(), want.end(), std::back_inserter(only));
  removed += only.size();
}

void
diff_set(const SetState& want, const SetState* have, Plan& plan)
{
  SetChange c;
  c.set = want;
  if (have == nullptr) {
    c.kind = SetChange::Kind::Create;
    plan.sets.push_back(std::move(c));
    return;
  }
  if (!have->members_known) {
    if (have->entries != want.entries) {
      c.counts_only = true;
      c.live_entries = have->entries;
      plan.sets.push_back(std::move(c));
    }
    return;
  }
  if (want.verdict_map != have->verdict_map) {
    // A set where a map belongs, or the other way round: replaced whole.
    c.kind = SetChange::Kind::Create;
    c.added = want.entries;
    c.removed = have->entries;
    plan.sets.push_back(std::move(c));
    return;
  }
  if (want.verdict_map) {
    // A network that moves to another source's chain counts as removed
    // from one part and added to the other.
    for (const MapPart& part : want.parts) {
      const auto it = std::find_if(have->parts.begin(), have->parts.end(), [&](const MapPart& p) {
        return p.chain == part.chain && p.table == part.table;
      });
      const net::NetList none;
      const net::NetList& live = it == have->parts.end() ? none : it->members;
      count_changes(part.members.v4, live.v4, c.added, c.removed);
      count_changes(part.members.v6, live.v6, c.added, c.removed);
    }
    for (const MapPart& part : have->parts) {
      if (std::none_of(want.parts.begin(), want.parts.end(),
                       [&](const MapPart& p) { return p.chain == part.chain && p.table == part.table; })) {
        c.removed += part.members.v4.size() + part.members.v6.size();
      }
    }
  } else {
    count_changes(want.members.v4, have->members.v4, c.added, c.removed);
    count_changes(want.members.v6, have->members.v6, c.added, c.removed);
  }
  if (c.added + c.removed > 0) {
    plan.sets.push_back(std::move(c));
  }
}

// The rules of a chain of the system: geoblock's first, in order, once.
void
converge(const ChainState& want, const ChainState* live, Plan& plan)
{
  ChainChange c;
  c.kind = ChainChange::Kind::Converge;
  c.desired = want;
  const std::string where = want.where();
  const std::vector<Rule> none;
  const std::vector<Rule>& have = live ? live->rules : none;
  if (live != nullptr) {
    for (const auto& p : live->problems) {
      c.reasons.push_back("chain " + where + ": " + p);
    }
  }
  std::vector<bool> matched(have.size(), false);
  for (const auto& r : want.rules) {
    bool found = false;
    for (std::size_t i = 0; i < have.size() && !found; ++i) {
      if (!matched[i] && r == have[i]) {
        matched[i] = found = true;
      }
    }
    if (!found) {
      c.reasons.push_back("rule missing in " + where + ": " + describe(r));
    }
  }
  for (std::size_t i = 0; i < have.size(); ++i) {
    if (!matched[i]) {
      const bool duplicate = std::find(want.rules.begin(), want.rules.end(), have[i]) != want.rules.end();
      c.reasons.push_back(std::string(duplicate ? "duplicate rule in " : "rule not configured in ") + where +
                          ": " + describe(have[i]));
    }
  }
  // Where each live rule stands among all rules of the chain (a state
  // without positions, such as a desired one, has them first, in order).
  const auto position = [live](std::size_t i) { return i < live->positions.size() ? live->positions[i] : i; };
  // The rules already standing first and in order stay (their counters too).
  std::size_t keep = 0;
  while (live != nullptr && keep < want.rules.size() && keep < have.size() && position(keep) == keep &&
         have[keep] == want.rules[keep]) {
    ++keep;
  }
  if (c.reasons.empty() && keep < want.rules.size()) {
    c.reasons.push_back("rules not first in " + where + " (another rule stands before geoblock's)");
  }
  if (c.reasons.empty()) {
    return;
  }
  for (std::size_t i = have.size(); i-- > keep;) {
    c.delete_positions.push_back(position(i));
  }
  for (std::size_t j = keep; j < want.rules.size(); ++j) {
    c.inserts.emplace_back(j, want.rules[j]);
  }
  plan.chains.push_back(std::move(c));
}

void
diff_own_chain(const ChainState& want, const ChainState* live, Plan& plan)
{
  ChainChange c;
  c.desired = want;
  const std::string where = want.where();
  if (live == nullptr) {
    c.kind = ChainChange::Kind::Create;
    c.reasons.push_back("chain " + where + ": missing");
    plan.chains.push_back(std::move(c));
    return;
  }
  c.kind = ChainChange::Kind::Rewrite;
  for (const auto& p : live->problems) {
    c.reasons.push_back("chain " + where + ": " + p);
  }
  if (want.rules != live->rules) {
    c.reasons.push_back("chain " + where + ": rules differ from the configuration");
  }
  if (!c.reasons.empty()) {
    plan.chains.push_back(std::move(c));
  }
}

bool
known(const FirewallState& live, net::Family f)
{
  return f == net::Family::V4 ? live.rules_known_v4 : live.rules_known_v6;
}

} // namespace

Plan
diff(const FirewallState& desired, const FirewallState& live)
{
  Plan plan;
  for (const auto& want : desired.sets) {
    diff_set(want, live.set(want.name), plan);
  }
  for (const auto& have : live.sets) {
    if (desired.set(have.name) == nullptr) {
      SetChange c;
      c.kind = SetChange::Kind::Delete;
      c.set = have;
      plan.sets.push_back(std::move(c));
    }
  }
  for (const auto& want : desired.chains) {
    if (!known(live, want.family)) {
      continue;
    }
    const ChainState* have = live.chain(want.family, want.table, want.chain);
    if (want.own) {
      diff_own_chain(want, have, plan);
    } else {
      converge(want, have, plan);
    }
  }
  for (const auto& have : live.chains) {
    if (desired.chain(have.family, have.table, have.chain) != nullptr) {
      continue;
    }
    if (have.own) {
      ChainChange c;
      c.kind = ChainChange::Kind::Delete;
      c.desired = have;
      c.reasons.push_back("chain " + have.where() + ": not configured (left over)");
      plan.chains.push_back(std::move(c));
    } else {
      ChainState nothing = have;
      nothing.rules.clear();
      nothing.positions.clear();
      nothing.counters.clear();
      nothing.problems.clear();
      converge(nothing, &have, plan);
    }
  }
  for (const auto f : {net::Family::V4, net::Family::V6}) {
    if (!known(live, f) && std::any_of(desired.chains.begin(), desired.chains.end(),
                                       [f](const ChainState& c) { return c.family == f; })) {
      plan.unknown.push_back(std::string("rules (") + net::family_name(f) + "): cannot be read");
    }
  }
  return plan;
}

bool
chain_in_sync(const ChainState& desired, const ChainState* live)
{
  Plan plan;
  if (desired.own) {
    diff_own_chain(desired, live, plan);
  } else {
    converge(desired, live, plan);
  }
  return plan.empty();
}

std::vector<std::string>
describe(const Plan& plan)
{
  std::vector<std::string> out;
  for (const auto& c : plan.sets) {
    const std::string& name = c.set.name;
    switch (c.kind) {
    case SetChange::Kind::Create:
      out.push_back("set " + name + ": missing");
      break;
    case SetChange::Kind::Delete:
      out.push_back("set " + name + ": not configured (left over)");
      break;
    case SetChange::Kind::Update:
      if (c.counts_only) {
        out.push_back("set " + name + ": " + std::to_string(c.live_entries) + " entries, configured " +
                      std::to_string(c.set.entries));
        break;
      }
      out.push_back("set " + name + ": " + std::to_string(c.added) + " entries to add, " +
                    std::to_string(c.removed) + " to remove");
      break;
    }
  }
  for (const auto& c : plan.chains) {
    out.insert(out.end(), c.reasons.begin(), c.reasons.end());
  }
  out.insert(out.end(), plan.unknown.begin(), plan.unknown.end());
  return out;
}

} // namespace geoblock::apply
