// The firewall as typed data: what geoblock owns (sets, chains, rules), the
// same types for the desired state (built from the configuration by
// desired_state(), state.hpp) and the live one (read by a backend). A rule
// is a match and a target, never the text of one firewall's syntax: each
// backend renders rules its own way (iptables argv, nft expressions) and
// reads its own back.
#pragma once

#include "net/cidr.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::apply {

// Where a rule goes: a table and a chain, in iptables' terms, which the
// nftables backend maps to its hooks ("ingress" is netdev's ingress hook,
// chain = the device).
struct Hook {
  std::string table; // "raw", "mangle", "filter", "ingress"
  std::string chain; // "PREROUTING", "INPUT", "FORWARD", "DOCKER-USER"; the device for ingress
  friend bool operator==(const Hook&, const Hook&) = default;
};
std::string to_string(const Hook& hook); // "raw:PREROUTING", "INPUT", "ingress:eth0"

enum class Side { Source, Destination };

struct Interface {
  std::string name; // "eth0"; "ppp+" matches every name starting with "ppp"
  bool negated = false;
  friend bool operator==(const Interface&, const Interface&) = default;
};

// Connection tracking states, as a mask.
enum CtState : std::uint32_t {
  k_ct_invalid = 1,
  k_ct_established = 2,
  k_ct_related = 4,
  k_ct_new = 8,
  k_ct_untracked = 64,
};

struct PortSpan {
  int first = 0;
  int last = 0;
  friend bool operator==(const PortSpan&, const PortSpan&) = default;
};

// What a rule matches; every field empty matches every packet.
struct RuleMatch {
  std::optional<Interface> in;
  std::optional<Interface> out;
  std::string proto;            // "", "tcp", "udp", "sctp", "ipv6-icmp"
  std::vector<PortSpan> dports; // destination ports (with proto)
  std::uint32_t ct_states = 0;  // any of these (CtState), 0: no conntrack match
  std::string set;              // the address is a member of this set ("" none)
  Side set_side = Side::Source;
  std::optional<net::Prefix4> net4; // the address is in this network (IPv4 rules)
  std::optional<net::Prefix6> net6; // (IPv6 rules)
  Side net_side = Side::Source;
  std::optional<int> icmpv6_type;
  std::optional<int> hop_limit; // equal to
  std::string limit;            // at most this rate, canonical "10/min" ("" none)
  int limit_burst = 5;
  friend bool operator==(const RuleMatch&, const RuleMatch&) = default;
};

enum class Action {
  Drop,
  Reject,   // the family's ICMP port unreachable
  TcpReset, // a TCP reset (the rule matches TCP)
  Return,
  Jump, // to `chain`, one of geoblock's own
  Log,  // with `log_prefix`, then on to the next rule
  // To the chain that the verdict map `match.set` names for the address
  // (its source's chain: one lookup decides the source and the action);
  // an address in no source goes on to the next rule.
  Classify,
  Unknown, // read from the kernel, not of geoblock's vocabulary (`text` says what)
};

struct Rule {
  RuleMatch match;
  Action action = Action::Drop;
  std::string chain;      // Jump
  std::string log_prefix; // Log
  std::string text;       // Unknown: the backend's own description of the rule
  friend bool operator==(const Rule&, const Rule&) = default;
};

// One line that names what a rule does, in no firewall's syntax, for
// messages: "in != lo, src in @geoblock-v4: drop".
std::string describe(const Rule& rule);
// True for the verdicts geoblock counts as blocked traffic.
bool blocks(Action action);

struct Counters {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

// What geoblock does with the packets of one source (a country, a
// blocklist, an AS): the words after its entry in the countries file
// ("nz", "nz reject", "nz count", "nz limit 10/second").
struct SourceAction {
  enum class Kind {
    Drop,   // the default
    Reject, // refused at once (TCP reset, else ICMP port unreachable)
    Count,  // counted, never dropped: watch a source before blocking it
    Limit,  // packets over `rate` dropped
  };
  Kind kind = Kind::Drop;
  std::string rate; // Limit: canonical (parse_rate: "10/sec")
  friend bool operator==(const SourceAction&, const SourceAction&) = default;
};
// "drop", "reject", "count", "limit 10/sec".
std::string to_string(const SourceAction& action);

// geoblock's part of one chain of one family.
struct ChainState {
  net::Family family = net::Family::V4;
  std::string table; // raw, mangle, filter, ingress
  std::string chain;
  // A chain geoblock created (its whole body is geoblock's); otherwise a
  // chain of the system (PREROUTING, INPUT, DOCKER-USER) in which
  // geoblock's rules must stand first, in order, each once.
  bool own = false;
  std::vector<Rule> rules;
  // Live state only: where each rule stands among all rules of the chain
  // (0-based), and its counters.
  std::vector<std::size_t> positions;
  std::vector<Counters> counters;
  // Live state only: what is wrong with the chain itself (hooked
  // differently, not written by geoblock), one line each.
  std::vector<std::string> problems;

  Hook hook() const { return Hook{table, chain}; }
  std::string where() const; // "raw:PREROUTING (IPv4)"
};

// A verdict map's part: the networks whose packets go to one chain (one of
// geoblock's own, in `table`: a source's).
struct MapPart {
  std::string table; // the model's table of the chain: raw, mangle, filter
  std::string chain;
  net::NetList members; // sorted, disjoint from every other part's
  friend bool operator==(const MapPart&, const MapPart&) = default;
};

struct SetState {
  std::string name;
  net::Family family = net::Family::V4;
  // A verdict map (nftables): `parts` say which chain each network goes
  // to, sorted by chain; `members` is all of them.
  bool verdict_map = false;
  std::vector<MapPart> parts;
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
  // configured baseline manages in the live ruleset, empty without one.
  std::string baseline_digest[2];

  const SetState* set(const std::string& name) const;
  const ChainState* chain(net::Family family, const std::string& table, const std::string& chain) const;
  // Packets and bytes counted by geoblock's drops and rejects.
  Counters dropped(net::Family family) const;
};

} // namespace geoblock::apply
