// The update cycle: make the kernel enforce an aggregated list of networks
// with no moment in which the block is missing, half-filled or duplicated.
//
//   lock ─► checks (binaries, baseline, SSH lock-out, shrink) ─► per family:
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
#include "net/cidr.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::apply {

struct ApplyOptions {
  // Sets are "<set_name>-v4" / "<set_name>-v6", filled as "<...>-new";
  // allow-only's chain is "<set_name>-allow". At most 24 characters.
  std::string set_name = "geoblock";
  net::Families families = net::Families::Both;
  Policy policy = Policy::Block;
  // Where the rule goes; empty means default_chains(policy).
  std::vector<Hook> chains;
  // iptables-save files restored together with the rule ("" = none: the
  // rule is then ensured without touching anything else).
  std::string baseline;
  std::string baseline6;
  // Chains (glob patterns) a baseline restore takes from the live ruleset,
  // with the jumps into them, so fail2ban's bans and Docker's networking
  // survive. geoblock's own rules and chain are always handled.
  std::vector<std::string> keep_chains = {"f2b-*", "DOCKER*"};
  // allow-only: networks accepted whatever their country.
  net::NetList allowlist;
  // Refuse when a family's new set is smaller than the live one by more
  // than this fraction (0.5 = 50%).
  double max_shrink = 0.5;
  // Skip the safety refusals (SSH lock-out, shrink).
  bool force = false;
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

// The default places of the rule. Block: raw:PREROUTING, before routing
// and before connection tracking, so it covers INPUT, FORWARD (port
// forwards, Docker) and spares conntrack under a flood. Allow-only needs
// conntrack (to accept replies), so it uses mangle:PREROUTING, which still
// covers both INPUT and FORWARD.
std::vector<Hook> default_chains(Policy policy);

// "geoblock" -> "geoblock-v4" / "geoblock-v6".
std::string set_name_for(const std::string& base, net::Family family);

struct FamilyReport {
  bool enabled = false;
  std::string set;                    // "geoblock-v4"
  bool existed = false;               // a live set was replaced (else created)
  std::uint64_t previous_entries = 0; // entries of the replaced set
  std::uint64_t entries = 0;          // entries now in the kernel (a /0 counts 2)
  SetSizing sizing;                   // maxelem / hashsize of the new set
  std::string rules; // "unchanged", "inserted in raw:PREROUTING", "restored with baseline FILE"
};

struct ApplyReport {
  FamilyReport v4;
  FamilyReport v6;
  std::vector<std::string> warnings; // also logged as they happen
};

// The whole update cycle for `aggregated` (sorted, disjoint networks, e.g.
// from net::aggregate). Needs root. Throws SafetyError (exit code 3) for the
// refusals, ConfigError for bad options, RulesError / IpsetError / Error
// for failures, each one line naming the set, file or line involved.
ApplyReport apply(const net::NetList& aggregated, const ApplyOptions& options);

// What is in the kernel now, for `status` and dry-run diffs.
struct HookState {
  Hook hook;
  int rules = 0; // copies of geoblock's rule in that chain (1 is right)
};
struct LiveFamily {
  bool enabled = false;
  std::string set;
  std::optional<SetHeader> header; // nothing when the set does not exist
  net::NetList members;            // filled when asked for
  bool leftover_temp = false;      // "<set>-new" from an interrupted run
  bool rules_known = false;        // false when iptables-save could not run
  std::vector<HookState> hooks;
};
struct LiveState {
  LiveFamily v4;
  LiveFamily v6;
  std::vector<std::string> warnings; // e.g. DOCKER-USER not covered
};
LiveState read_live_state(const ApplyOptions& options, bool with_members);

struct RemoveReport {
  int rules_removed_v4 = 0;
  int rules_removed_v6 = 0;
  bool set_removed_v4 = false;
  bool set_removed_v6 = false;
};
// Deletes geoblock's rules, then its sets (both enabled families), leaving
// the rest of the firewall untouched.
RemoveReport remove(const ApplyOptions& options);

// The safety checks apply() runs, exposed for dry runs: throw SafetyError
// with a one-line reason (never when options.force).
void check_ssh_lockout(const net::NetList& aggregated, const ApplyOptions& options);
void check_shrink(net::Family family, std::uint64_t live_entries, std::uint64_t new_entries,
                  const ApplyOptions& options);

} // namespace geoblock::apply
