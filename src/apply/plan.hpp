// The one diff: what turns the live firewall into the desired one, as a
// typed list of operations that every backend executes its own way. The
// dry run prints describe(plan), `status` is "the plan is empty", and the
// verification after an apply is the plan of the result being empty.
#pragma once

#include "apply/model.hpp"

#include <string>
#include <utility>
#include <vector>

namespace geoblock::apply {

struct SetChange {
  enum class Kind { Create, Update, Delete };
  Kind kind = Kind::Update;
  SetState set;                       // Create, Update: the desired set (members); Delete: the live one
  std::size_t added = 0, removed = 0; // Update: members to add and to remove
  std::uint64_t live_entries = 0;     // Update of a set read without members: its count
  bool counts_only = false;           // ... and then only the counts differ (no members known)
};

struct ChainChange {
  enum class Kind {
    Create,   // an own chain that does not exist: created with `desired.rules`
    Rewrite,  // an own chain whose rules (or hook) differ: emptied and refilled
    Delete,   // an own chain no longer configured: emptied and deleted
    Converge, // a chain of the system: geoblock's rules first, in order, once
  };
  Kind kind = Kind::Converge;
  ChainState desired; // the chain as it must be (Delete: the live chain)
  // Converge: geoblock's live rules to delete, by their position among all
  // rules of the chain, highest first (so that the positions of the ones
  // above stay valid), then the desired rules to insert at these indices
  // (0-based, ascending). The rules already standing first and in order
  // stay, with their counters.
  std::vector<std::size_t> delete_positions;
  std::vector<std::pair<std::size_t, Rule>> inserts;
  std::vector<std::string> reasons; // one line each, for describe()
};

struct Plan {
  std::vector<SetChange> sets;
  std::vector<ChainChange> chains;
  std::vector<std::string> unknown; // what could not be read ("rules (IPv6): cannot be read")
  bool empty() const { return sets.empty() && chains.empty() && unknown.empty(); }
};

// Everything that differs between the desired and the live state.
Plan diff(const FirewallState& desired, const FirewallState& live);

// Whether one chain is as desired (`live` null: geoblock has nothing there).
bool chain_in_sync(const ChainState& desired, const ChainState* live);

// One line per difference: "set geoblock-v4: 3 entries to add, 1 to
// remove", "rule missing in raw:PREROUTING (IPv4): in != lo, src in
// @geoblock-v4: drop". Empty when the plan is.
std::vector<std::string> describe(const Plan& plan);

} // namespace geoblock::apply
