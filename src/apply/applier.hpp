// The update cycle: make the kernel enforce an aggregated list of networks
// with no moment in which the block is missing, half-filled or duplicated.
//
//   lock ─► checks (binaries, baseline, SSH lock-out) ─► per family:
//   fill <set>-v4-new ─► swap with <set>-v4 (or rename) ─► destroy old ─►
//   rules: baseline + kept chains + one rule per hook in one
//   iptables-restore, or the rule ensured once without a baseline.
//
// Any failure before the swap leaves the live set exactly as it was and the
// temporary set removed. Sets come before rules: a rule naming a missing
// set cannot load.
#pragma once

#include "apply/ipset_session.hpp"
#include "apply/rules.hpp"
#include "apply/state.hpp"
#include "net/cidr.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::apply {

struct ApplyOptions : RulesConfig {
  // iptables-save files restored together with geoblock's rules ("" =
  // none: geoblock's rules are then converged without touching anything
  // else).
  std::string baseline;
  std::string baseline6;
  // Chains (glob patterns) a baseline restore takes from the live ruleset,
  // with the jumps into them, so fail2ban's bans and Docker's networking
  // survive. geoblock's own rules and chains are always handled.
  std::vector<std::string> keep_chains = {"f2b-*", "DOCKER*"};
  // Skip the safety refusal (SSH lock-out). max-shrink is no check of the
  // sets: it compares each zone with its last good copy before anything
  // is planned (fetch/shrink_guard.hpp), so removing a country is never a
  // shrink.
  bool force = false;
  // Taken for the apply; empty when the caller holds the lock for its
  // whole run (the CLI does: fetch, apply and state under one lock).
  std::string lock_path = "/run/geoblock.lock";
  std::chrono::milliseconds lock_wait = std::chrono::seconds(60);
  // Program name prefixes; "-save" / "-restore" are appended.
  std::string iptables = "iptables";
  std::string ip6tables = "ip6tables";
  // "client_ip client_port server_ip server_port"; unset means the
  // SSH_CONNECTION environment variable.
  std::optional<std::string> ssh_connection;
  // Called at each step ("checked", "filled geoblock-v4-new",
  // "swapped geoblock-v4", "rules IPv4"); for --verbose output and for
  // tests that inject failures (throw) or crashes between steps.
  std::function<void(std::string_view stage)> on_stage;
};

struct FamilyReport {
  bool enabled = false;
  std::string set;                    // "geoblock-v4"
  bool existed = false;               // a live set was there before
  bool set_replaced = false;          // its members differed: filled and swapped (or created)
  std::uint64_t previous_entries = 0; // entries of the live set before
  std::uint64_t entries = 0;          // entries now in the kernel (a /0 counts 2)
  SetSizing sizing;                   // maxelem / hashsize of a new set
  bool baseline_restored = false;     // the baseline was restored with the rules
};

struct ApplyReport {
  FamilyReport v4;
  FamilyReport v6;
  std::vector<std::string> changes;  // diff(desired, live) before the apply: what it changed
  FirewallState live;                // read back after the apply (equal to the desired state)
  std::vector<std::string> warnings; // also logged as they happen
};

// Makes the kernel enforce desired_state(aggregated, options) (sorted,
// disjoint networks, e.g. from net::aggregate): sets whose members differ
// are filled and swapped, geoblock's rules converged (or restored with the
// baseline), whatever geoblock owns that is no longer configured removed,
// then the live state is read back and compared (a difference is an
// Error). Needs root. Throws SafetyError (exit code 3) for the refusals,
// ConfigError for bad options, RulesError / IpsetError / Error for
// failures, each one line naming the set, file or line involved.
ApplyReport apply(const net::NetList& aggregated, const ApplyOptions& options);

// What is in the kernel now: geoblock's sets and rules (for the current
// set name and the previous ones), for `status`, dry-run diffs and the
// check after an apply.
struct LiveState {
  FirewallState state;
  std::vector<std::string> leftover_temp; // "<set>-new" sets of an interrupted run
  std::vector<std::string> warnings;      // e.g. DOCKER-USER not covered
};
// Reads the sets with their members when `with_members` (else entries
// only). Throws IpsetError when the sets cannot be read (no root, no
// module); a family whose iptables-save cannot run has its rules unknown.
LiveState read_live_state(const ApplyOptions& options, bool with_members);

struct RemoveReport {
  int rules_removed_v4 = 0;
  int rules_removed_v6 = 0;
  std::vector<std::string> sets_removed;
};
// Deletes geoblock's rules and chains, then its sets (both families, the
// current set name and the previous ones), leaving the rest of the
// firewall untouched.
RemoveReport remove(const ApplyOptions& options);

// The safety checks apply() runs, exposed for dry runs: throw SafetyError
// with a one-line reason (never when options.force).
void check_ssh_lockout(const net::NetList& aggregated, const ApplyOptions& options);
// What every backend's apply must pass (the commands run it before apply,
// and a dry run reports it as a warning): the SSH lock-out.
void check_safety(const net::NetList& aggregated, const ApplyOptions& options);

} // namespace geoblock::apply
