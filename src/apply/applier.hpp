// What an apply needs and reports, and the safety checks every backend's
// apply passes (the apply sequence itself is apply() in backend.hpp).
//
//   lock ─► checks (validation, backend's checks, SSH lock-out) ─► plan ─►
//   the backend executes it (sets before the rules that name them) ─►
//   read back: the plan of the result must be empty.
//
// Any failure before the first change leaves the kernel untouched; each
// backend keeps the block whole while it changes (an ipset swap, one
// nftables transaction).
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
  // "swapped geoblock-v4", "rules IPv4", "committed"), which
  // report_stage() also logs for --verbose: for tests that inject failures
  // (throw) or crashes between steps.
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

// What is in the kernel now: geoblock's sets and rules (for the current
// set name and the previous ones), for `status`, dry-run diffs and the
// check after an apply.
struct LiveState {
  FirewallState state;
  std::vector<std::string> leftover_temp; // "<set>-new" sets of an interrupted run
  std::vector<std::string> warnings;      // e.g. DOCKER-USER not covered
};
struct RemoveReport {
  int rules_removed_v4 = 0;
  int rules_removed_v6 = 0;
  std::vector<std::string> sets_removed;
};

// The safety checks apply() runs, exposed for dry runs: throw SafetyError
// with a one-line reason (never when options.force).
void check_ssh_lockout(const net::NetList& aggregated, const ApplyOptions& options);

// Tells options.on_stage (--verbose, tests that fail or kill at a step)
// that the apply reached `what` ("checked", "swapped geoblock-v4",
// "committed").
void report_stage(const ApplyOptions& options, const std::string& what);

} // namespace geoblock::apply
