// The iptables side of convergence: geoblock's part of a live ruleset as
// ChainStates, and the one iptables-restore input per family that turns
// the live ruleset into the desired one, touching nothing that is not
// geoblock's.
#pragma once

#include "apply/rules.hpp"
#include "apply/state.hpp"

#include <string>
#include <vector>

namespace geoblock::apply {

// geoblock's chains and rules in `live` (one family's ruleset), with their
// positions and counters.
std::vector<ChainState> owned_chains(const Ruleset& live, net::Family family, const Ownership& own);

// --noflush input that makes geoblock's part of `live` equal `desired`
// (this family's desired chains): rules that already stand first and in
// order stay (with their counters); the rest of geoblock's rules are
// deleted by position, bottom up, so a copy below a foreign ACCEPT goes and
// the one above it stays; missing rules are inserted at their place; own
// chains are created, rewritten when their body differs, or deleted when
// no longer configured. Foreign rules keep their order. Empty when there
// is nothing to do. Throws RulesError when a configured chain does not
// exist (DOCKER-USER without Docker).
RestoreText build_converge(const Ruleset& live, const std::vector<ChainState>& desired, const Ownership& own);

enum class WithOwnRules { No, Yes };

// Baseline mode: a full restore (flushing each table it names) of the
// baseline's tables plus the tables of geoblock's chains (taken from `live`
// when the baseline lacks them), in which chains matching `keep` (and the
// jumps into them from other chains) come from `live`, geoblock's earlier
// rules are dropped, and, with WithOwnRules::Yes, `desired` is put in
// place (its rules first in their chains). Throws RulesError when a
// configured chain does not exist.
RestoreText build_baseline_restore(const Ruleset& baseline, const Ruleset& live,
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
