// A firewall backend renders and executes, nothing else: it reads
// geoblock's part of the live firewall as the typed model, checks what only
// it can check, executes a plan (plan.hpp), removes everything of
// geoblock's, and declares what it can express. The one apply sequence
// (apply() in applier.hpp: validation, lock, safety checks, stages,
// verification) is written once for every backend. The commands hold a
// Backend and never know which one: iptables+ipset, nftables, an in-memory
// fake in the tests (tests/support/fake_backend.hpp).
#pragma once

#include "apply/applier.hpp"
#include "apply/plan.hpp"

#include <memory>

namespace geoblock::apply {

// What a backend can express, consulted by the configuration's validation
// (check_supported) before anything runs, dry runs included.
struct Capabilities {
  bool ingress = false;      // chain = ingress:IFACE (netdev ingress)
  bool docker_user = false;  // chain = DOCKER-USER (an iptables chain)
  bool verdict_maps = false; // per-source chains by one lookup (RulesConfig::sources)
};

class Backend {
public:
  virtual ~Backend() = default;
  // The apply sequence and remove() below, for this backend.
  ApplyReport apply(const net::NetList& aggregated, const ApplyOptions& options);
  RemoveReport remove(const ApplyOptions& options);

  virtual const char* name() const = 0;
  virtual Capabilities capabilities() const = 0;
  // geoblock's sets and rules now. Throws Error when the firewall cannot be
  // read at all (no root, no kernel module).
  virtual LiveState read(const ApplyOptions& options, bool with_members) = 0;
  // What only this backend can check before the first change (its
  // programs, the baseline file, the type of existing sets); throws.
  virtual void check(const Plan& plan, const FirewallState& desired, const LiveState& before,
                     const ApplyOptions& options) = 0;
  // Makes the live firewall follow `plan` (from `before` to `desired`),
  // reporting its stages through options.on_stage and amending `report`
  // (sizing, baseline); returns geoblock's state afterwards, with members.
  virtual FirewallState execute(const Plan& plan, const FirewallState& desired, const LiveState& before,
                                const ApplyOptions& options, ApplyReport& report) = 0;
  // Takes everything of geoblock's away (the current and the previous set
  // names), whatever the rest of the configuration says (see remove()).
  virtual RemoveReport remove_all(const ApplyOptions& options) = 0;
};

// ConfigError naming the key ("chain ingress:eth0: ...") when the
// configuration asks for what `backend` cannot express.
void check_supported(const RulesConfig& config, const Backend& backend);

// The one apply sequence: validates (check_supported included), takes the
// lock (options.lock_path), builds desired_state(aggregated, options),
// reads the live state, diffs, runs the safety checks and the backend's
// checks (stage "checked"), executes the plan, and verifies that the plan
// of the result is empty (an Error naming the first difference otherwise).
// Throws SafetyError (exit code 3) for the refusals, ConfigError for bad
// options, RulesError / IpsetError / Error for failures.
ApplyReport apply(Backend& backend, const net::NetList& aggregated, const ApplyOptions& options);

// Takes everything of geoblock's in `backend` away, under the lock
// (options.lock_path, when set).
RemoveReport remove(Backend& backend, const ApplyOptions& options);

// ipset sets through libipset, rules through iptables-restore.
std::unique_ptr<Backend> make_iptables_backend();

} // namespace geoblock::apply
