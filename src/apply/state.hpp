// What the configuration asks of the firewall (RulesConfig, every value
// checked), and the one function that turns it and the aggregated data into
// the desired state: geoblock's sets, chains and typed rules (model.hpp).
// Every policy decision lives in desired_state(): allow-only, allowlist and
// local networks, interfaces, ports, match, direction, log, neighbour
// discovery, loopback.
//
// Ownership: geoblock's chains and sets are named after the set name
// (<name>-v4, <name>-v6, <name>-allow, <name>-drop, ...) and every rule it
// writes is tagged by the backend (k_owner_tag). Reading the live state
// means reading all of that, for the current set name and every one
// recorded as used before, so leftovers of an older configuration are
// found and removed, and nobody else's rules are touched.
#pragma once

#include "apply/model.hpp"
#include "net/cidr.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::apply {

// The comment every rule of geoblock's carries.
inline constexpr const char* k_owner_tag = "geoblock";

enum class Policy {
  Block,     // drop new packets from the listed networks
  AllowOnly, // drop packets from everywhere else (except lo, established, allowlist)
};

// Accepts "raw:PREROUTING", "mangle:PREROUTING", "INPUT", "FORWARD",
// "DOCKER-USER" (a bare chain means the filter table) and "filter:CHAIN",
// and "ingress:IFACE" (table "ingress", chain IFACE: nftables' netdev
// ingress hook; the iptables backend refuses it). Throws ConfigError for
// anything else.
Hook parse_hook(std::string_view text);

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

// What one source (a country, a blocklist, an AS) puts in the block, and
// what its packets meet: the firewall counts and acts by source.
struct SourceBlock {
  std::string source; // "nz", "list:drop.txt", "as:64496"
  SourceAction action;
  net::NetList nets; // sorted, disjoint from every other source's
};

// The chain of a source's packets: "<set-name>-src-<source>".
std::string source_chain(const std::string& set_name, const std::string& source);

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
  // By source: one verdict map per family sends each source's networks to
  // a chain of its own, which counts them and applies the source's action
  // (desired_state(sources, config); nftables). Policy block, direction
  // in, hooks of one table, no ingress, for now.
  bool by_source = false;
  std::vector<SourceBlock> sources;
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
  bool owns_chain(const std::string& name) const;
  bool owns_set(const std::string& name) const;
};
Ownership ownership_of(const RulesConfig& config);

// The complete desired state for aggregated data `target` (sorted,
// disjoint networks) under `config`.
FirewallState desired_state(const net::NetList& target, const RulesConfig& config);
// The same by source (RulesConfig::by_source): the map `<set-name>-v4` /
// `-v6` from every source's networks to its chain, the rule that looks the
// address up in each configured hook, and each source's chain: neighbour
// discovery and except-ports return, the log line, then the action (drop;
// reject; count: counted and on; limit: counted, over the rate dropped).
// Throws ConfigError for what it cannot do yet.
// Whether desired_state_by_source() can build `config`'s rules: policy
// block, direction in, hooks of one table, no ingress (for now).
bool by_source_possible(const RulesConfig& config);
FirewallState desired_state_by_source(const std::vector<SourceBlock>& sources, const RulesConfig& config);

} // namespace geoblock::apply
