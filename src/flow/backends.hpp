// Which backend the commands act on (flow/backend_choice.hpp decides),
// what geoblock holds in each backend, and what a switch of backend left
// behind in the others.
#pragma once

#include "apply/backend.hpp"
#include "flow/backend_choice.hpp"
#include "flow/commands.hpp"
#include "flow/config.hpp"
#include "flow/managers.hpp"
#include "util/json.hpp"

#include <optional>
#include <string>
#include <vector>

namespace geoblock::flow {

// The backend the commands act on, and the others (see Environment).
struct Backends {
  apply::Backend* chosen = nullptr;
  std::vector<apply::Backend*> others;
  std::optional<BackendChoice> choice;   // none when there was no choice to make
  std::optional<FirewallFacts> firewall; // the managers' part of the firewall, where probed
};

// What of geoblock's `backend` holds. Where it cannot be read, that is
// nothing only when the backend is absent from this host (its kernel
// interface does not answer: backend_absent), or for a user without root,
// who reads no backend and changes none. Any other failure leaves it
// unknown: `unreadable` says why, and the commands say so.
struct Held {
  apply::FirewallState state;
  std::string unreadable;
};
Held held_by(apply::Backend& backend, const apply::ApplyOptions& ao, const Environment& env);

// The facts of flow/backend_choice.hpp (the state file at `state_path` and
// what it recorded, geoblock's live state per backend, the host's probe)
// and the decision with its reason. Not logged here: the reports of a dry
// run, status and check show it; update and remove log it (log_backend).
Backends select_backends(const Settings& s, const std::string& state_path, const util::Json& last_state,
                         const apply::ApplyOptions& ao, Environment& env);

// For the commands that print no report of their own.
void log_backend(const Backends& b);

// geoblock's state in the backends not chosen, one line each: left over
// from a switch of backend; update removes it once the chosen one holds
// the block. A backend that cannot be read may hold a leftover: a line
// too, and `unreadable` says why.
struct Leftover {
  apply::Backend* backend;
  apply::FirewallState state; // without members
  std::string line;
  std::string unreadable;
};
std::vector<Leftover> leftovers_of(const Backends& b, const apply::ApplyOptions& ao, const Environment& env);

} // namespace geoblock::flow
