// The firewall as plain data: what geoblock owns (sets and rules), built
// from the configuration as the desired state, read from the kernel as the
// live state by a backend, and compared by one pure function. "Nothing to
// apply" means diff() is empty, never a shortcut over part of the state.
//
// Ownership: every rule geoblock writes carries the comment match
// `-m comment --comment geoblock`; its chains and sets are named after the
// set name (<name>-v4, <name>-v6, <name>-allow, <name>-drop, ...). Reading
// the live state means reading all of that (for the current set name and
// every one recorded as used before), so leftovers of an older
// configuration are found and removed, and nobody else's rules are touched.
#pragma once

#include "apply/rules.hpp"
#include "net/cidr.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace geoblock::apply {

// The comment every rule of geoblock's carries.
inline constexpr const char* k_owner_tag = "geoblock";

enum class Match {
  All, // every packet from a listed source, before connection tracking where the chain allows
  New, // only packets that open a connection (conntrack state NEW): replies to the host's own connections
       // pass
};
enum class Direction {
  In,   // packets from the listed sources
  Out,  // connections to the listed destinations (OUTPUT and FORWARD, rejected); replies to connections
        // the listed side opened pass
  Both, // both of the above
};

// "tcp:22", "udp:60000-61000".
struct PortRange {
  std::string proto; // tcp, udp, sctp
  int first = 0;
  int last = 0;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};
// Parses "tcp:22", "tcp:80,443", "udp:1000-2000, sctp:5" (comma lists).
// Throws ConfigError with the problem (unknown protocol, port 0 or above
// 65535, reversed range).
std::vector<PortRange> parse_ports(const std::string& text);
std::string to_string(const PortRange& range); // "tcp:80-90"

// "10/minute", "3/s" -> iptables' canonical "10/min", "3/sec". Throws
// ConfigError for anything else.
std::string parse_rate(const std::string& text);

// True for a valid interface name: 1..15 characters, no '/', blanks,
// quotes or ':'; a trailing '+' is iptables' wildcard ("ppp+").
bool valid_interface(const std::string& name);

// What the configuration asks the firewall to do, backend-neutral.
struct RulesConfig {
  // Sets are "<set_name>-v4" / "<set_name>-v6"; chains "<set_name>-allow",
  // "<set_name>-drop", ... At most 24 characters.
  std::string set_name = "geoblock";
  net::Families families = net::Families::Both;
  Policy policy = Policy::Block;
  // Where the rule goes; empty means default_chains(policy, match).
  std::vector<Hook> chains;
  std::vector<std::string> interfaces; // incoming (outgoing for Direction::Out) interfaces; empty: all
  std::vector<PortRange> ports;        // only these destination ports
  std::vector<PortRange> except_ports; // all but these destination ports
  Match match = Match::All;
  Direction direction = Direction::In;
  bool log = false;
  std::string log_prefix = "geoblock: ";
  std::string log_rate = "10/min"; // canonical (parse_rate)
  // allow-only: networks accepted whatever their country.
  net::NetList allowlist;
  // Set names used before (from the state file): their sets and rules are
  // geoblock's too, and removed when no longer configured.
  std::vector<std::string> previous_set_names;
};

// The default places of the rule. Block with match all: raw:PREROUTING,
// before routing and connection tracking, so it covers INPUT and FORWARD
// and spares conntrack under a flood. Allow-only and match new need
// conntrack, so they use mangle:PREROUTING, which still covers both.
std::vector<Hook> default_chains(Policy policy, Match match = Match::All);
std::vector<Hook> hooks_of(const RulesConfig& config);

// Each throws ConfigError with the problem (the caller names the key):
// a set name other than 1..24 letters, digits, '_', '-';
void check_set_name(const std::string& name);
// ports together with except-ports;
void check_ports(const RulesConfig& config);
// raw:PREROUTING with allow-only or match new (both need conntrack);
void check_hooks(const RulesConfig& config);
// a name valid_interface() refuses.
void check_interface(const std::string& name);
// All of the above.
void validate(const RulesConfig& config);

// "geoblock" -> "geoblock-v4" / "geoblock-v6".
std::string set_name_for(const std::string& base, net::Family family);

// Names geoblock owns: its sets and chains for the current and previous
// set names.
struct Ownership {
  std::vector<std::string> sets;   // "geoblock-v4", "geoblock-v6", ...
  std::vector<std::string> chains; // "geoblock-allow", ...
  // Tagged rules, rules in geoblock's chains, and the untagged rule forms
  // of geoblock 0.1 (so that an upgrade takes them over).
  bool owns(const RuleLine& rule) const;
  bool owns_chain(const std::string& name) const;
  bool owns_set(const std::string& name) const;
};
Ownership ownership_of(const RulesConfig& config);

struct Counters {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

// geoblock's part of one chain of one family's ruleset.
struct ChainState {
  net::Family family = net::Family::V4;
  std::string table; // raw, mangle, filter
  std::string chain;
  // A chain geoblock created (its whole body is geoblock's); otherwise a
  // chain of the system (PREROUTING, INPUT, DOCKER-USER) in which
  // geoblock's rules must stand first, in order, each once.
  bool own = false;
  std::vector<std::string> rules; // bodies as iptables-save prints them after "-A CHAIN "
  // Live state only: where each rule stands among all rules of the chain
  // (0-based), and its counters.
  std::vector<std::size_t> positions;
  std::vector<Counters> counters;

  std::string where() const; // "raw:PREROUTING (IPv4)"
};

struct SetState {
  std::string name;
  net::Family family = net::Family::V4;
  net::NetList members;      // sorted; the desired members, or the live ones when read with members
  bool members_known = true; // false: live state read without members (compare counts only)
  std::uint64_t entries = 0; // kernel entries (a /0 counts 2)
  // Live state only, as the kernel reports them.
  std::uint64_t memory = 0; // bytes
  std::uint64_t references = 0;
  std::uint64_t maxelem = 0;
};

struct FirewallState {
  std::vector<SetState> sets;
  std::vector<ChainState> chains;
  // Live state only: whether each family's rules could be read.
  bool rules_known_v4 = true;
  bool rules_known_v6 = true;
  // Live state only, per family (net::family_index): SHA-256 of what a
  // configured baseline manages in the live ruleset
  // (baseline_managed_text), empty without a baseline.
  std::string baseline_digest[2];

  const SetState* set(const std::string& name) const;
  const ChainState* chain(net::Family family, const std::string& table, const std::string& chain) const;
  // Packets and bytes counted by geoblock's DROP and REJECT rules.
  Counters dropped(net::Family family) const;
};

// The complete desired state for aggregated data `target` (sorted,
// disjoint networks) under `config`.
FirewallState desired_state(const net::NetList& target, const RulesConfig& config);

// Every difference between the desired and the live state, one line each
// ("set geoblock-v4: 3 entries to add, 1 to remove", "rule missing in
// raw:PREROUTING (IPv4): -m set ..."). Empty when they are equal.
std::vector<std::string> diff(const FirewallState& desired, const FirewallState& live);
// The same for one chain (`live` null when geoblock has nothing there).
std::vector<std::string> diff_chain(const ChainState& desired, const ChainState* live);

} // namespace geoblock::apply
