// The iptables side of convergence: geoblock's part of a live ruleset as
// ChainStates, and the one iptables-restore input per family that turns
// the live ruleset into the desired one, touching nothing that is not
// geoblock's.
#pragma once

#include "apply/plan.hpp"
#include "apply/rules.hpp"
#include "apply/state.hpp"

#include <string>
#include <vector>

namespace geoblock::apply {

// geoblock's chains and rules in `live` (one family's ruleset), with their
// positions and counters.
std::vector<ChainState> owned_chains(const Ruleset& live, net::Family family, const Ownership& own);

// The --noflush input that executes the chain changes of `plan` for
// `family` in `live` (that family's ruleset, saved just before): geoblock's
// rules deleted by position, bottom up, and inserted at their place in the
// system's chains (so a copy below a foreign ACCEPT goes and the one above
// it stays; foreign rules keep their order), its own chains created first,
// then filled, rewritten or deleted. Empty when there is nothing to do.
// A missing DOCKER-USER (Docker not started yet) is created with geoblock's
// rules, without a jump to it (Docker adds its own when it starts); any
// other configured chain of the system that does not exist is a
// RulesError.
RestoreText render_plan(const Ruleset& live, net::Family family, const Plan& plan);

// render_plan() of the plan that turns geoblock's part of `live` (one
// family's ruleset, saved just now) into `desired` (that family's desired
// chains): the positions come from this save, not from a read at the start
// of the run (another program may have inserted rules since; fail2ban
// does).
RestoreText build_converge(const Ruleset& live, net::Family family, const std::vector<ChainState>& desired,
                           const Ownership& own);

enum class WithOwnRules { No, Yes };

// Baseline mode: a full restore (flushing each table it names) of the
// baseline's tables plus the tables of geoblock's chains (taken from `live`
// when the baseline lacks them), in which chains matching `keep` (and the
// jumps into them from other chains) come from `live`, geoblock's earlier
// rules are dropped, and, with WithOwnRules::Yes, `desired` is put in
// place (its rules first in their chains). A missing DOCKER-USER is
// created as above; another configured chain that does not exist is a
// RulesError.
RestoreText build_baseline_restore(const Ruleset& baseline, const Ruleset& live, net::Family family,
                                   const std::vector<ChainState>& desired, const Ownership& own,
                                   const std::vector<std::string>& keep, WithOwnRules with_own);

// What a baseline restore decides in `live`: for each table of the
// baseline, the chains' policies and rules, without geoblock's rules and
// chains and without the kept chains and the jumps into them (fail2ban's
// bans and Docker's rules may change at any time). As text, one line each,
// without counters: equal texts mean nobody changed what the baseline set.
std::string baseline_managed_text(const Ruleset& live, const Ruleset& baseline, const Ownership& own,
                                  const std::vector<std::string>& keep);

} // namespace geoblock::apply
