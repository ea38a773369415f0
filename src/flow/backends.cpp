#include "flow/backends.hpp"

#include "core/error.hpp"
#include "core/log.hpp"

namespace geoblock::flow {

Held
held_by(apply::Backend& backend, const apply::ApplyOptions& ao, const Environment& env)
{
  try {
    return {backend.read(ao, false).state, {}};
  } catch (const Error& e) {
    if (!env.privileged || (env.probe_host && backend_absent(backend.name(), env.probe_host()))) {
      log::verbose(std::string("backend ") + backend.name() +
                   " not readable, holds nothing here: " + e.what());
      return {};
    }
    return {{}, e.what()};
  }
}

Backends
select_backends(const Settings& s, const std::string& state_path, const util::Json& last_state,
                const apply::ApplyOptions& ao, Environment& env)
{
  Backends b;
  if (env.backends.empty()) {
    b.chosen = &env.backend;
    return b;
  }
  BackendFacts f;
  f.state_path = state_path;
  if (env.probe_firewall) {
    b.firewall = env.probe_firewall();
    if (b.firewall->nft_usable) {
      f.firewalld = firewalld_seen(*b.firewall);
    }
  }
  if (!last_state.is_null()) {
    f.recorded = last_state.get("backend").as_string();
    f.legacy_state = f.recorded.empty();
  }
  if (s.backend == BackendSetting::Auto && f.recorded.empty() && !f.legacy_state) {
    // A backend that cannot be read counts as holding nothing here; the
    // commands say it is unreadable (leftovers_of, or its own read).
    for (apply::Backend* x : env.backends) {
      if (std::string what = describe_state(held_by(*x, ao, env).state); !what.empty()) {
        f.live.emplace_back(x->name(), std::move(what));
      }
    }
    if (env.probe_host) {
      f.host = env.probe_host();
    }
    f.own_tables = {"inet " + ao.set_name, "netdev " + ao.set_name};
    for (const std::string& name : ao.previous_set_names) {
      f.own_tables.push_back("inet " + name);
      f.own_tables.push_back("netdev " + name);
    }
  }
  b.choice = decide_backend(s.backend, f);
  if (s.backend == BackendSetting::Auto && f.recorded.empty() && !f.legacy_state && !env.privileged) {
    // Without root neither backend nor nf_tables can be read.
    b.choice->reason += "; not root: the probe could not read the firewall, as root it may decide otherwise";
  }
  for (apply::Backend* x : env.backends) {
    if (x->name() == b.choice->name) {
      b.chosen = x;
    } else {
      b.others.push_back(x);
    }
  }
  if (!b.chosen) {
    throw Error("backend " + b.choice->name + " (" + b.choice->reason + "): not available in this build");
  }
  return b;
}

void
log_backend(const Backends& b)
{
  if (b.choice) {
    log::info("backend " + b.choice->describe());
  }
}

std::vector<Leftover>
leftovers_of(const Backends& b, const apply::ApplyOptions& ao, const Environment& env)
{
  std::vector<Leftover> out;
  for (apply::Backend* x : b.others) {
    Held held = held_by(*x, ao, env);
    if (!held.unreadable.empty()) {
      out.push_back({x,
                     {},
                     "backend " + std::string(x->name()) + " (geoblock now uses " + b.chosen->name() +
                         ") cannot be read, a leftover of geoblock's there is unknown: " + held.unreadable,
                     held.unreadable});
    } else if (const std::string what = describe_state(held.state); !what.empty()) {
      out.push_back({x,
                     std::move(held.state),
                     "leftover in backend " + std::string(x->name()) + " (geoblock now uses " +
                         b.chosen->name() + "): " + what,
                     {}});
    }
  }
  return out;
}

} // namespace geoblock::flow
