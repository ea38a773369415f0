// A typed rule (model.hpp) in iptables' syntax and back: the rule body as
// iptables-restore takes it after "-A CHAIN " (every rule tagged with
// `-m comment --comment geoblock`), and the typed form of a body that
// iptables-save printed. The iptables backend's own syntax; nothing else
// reads it.
#pragma once

#include "apply/model.hpp"
#include "apply/rules.hpp"
#include "apply/state.hpp"

#include <string>

namespace geoblock::apply {

std::string iptables_body(const Rule& rule, net::Family family);

// The typed rule of an iptables-save body; Action::Unknown (with the body
// as its text) when it is not geoblock's vocabulary, so that it never
// equals a configured rule.
Rule parse_iptables_body(const std::string& body, net::Family family);

// Whether a live rule is geoblock's: tagged, in one of its chains, or one
// of geoblock 0.1's untagged forms (so that an upgrade takes them over).
bool owned(const Ownership& own, const RuleLine& rule);

} // namespace geoblock::apply
