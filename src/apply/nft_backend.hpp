// The nftables backend: the same FirewallState as the iptables backend
// (desired_state()), rendered natively and committed in one netlink
// transaction (nft_netlink.hpp). See docs/nftables.md.
//
// Layout: one table `inet <set-name>` holds the sets <set-name>-v4
// (ipv4_addr, interval) and <set-name>-v6 and geoblock's chains. Every
// ChainState (family, table, chain) of the desired state is one nft chain
// named "<table>-<chain>-v4|v6" ("raw-PREROUTING-v4", "filter-geoblock-
// reject-v6"); the built-in chains become base chains at the matching hook
// and priority (raw:PREROUTING: prerouting -300, mangle:PREROUTING:
// prerouting -150, INPUT/FORWARD/OUTPUT: priority 0), policy accept.
// `ingress:IFACE` chains live in a table `netdev <set-name>` with its own
// copy of the sets. Each rule carries its iptables-style text (the
// FirewallState form) as its comment; reading compares the live
// expressions with what that text renders to, so an edited rule is drift.
#pragma once

#include "apply/backend.hpp"
#include "apply/nft_netlink.hpp"

#include <memory>
#include <string>
#include <vector>

namespace geoblock::apply {

std::unique_ptr<Backend> make_nftables_backend();

// Whether nf_tables can be used here, and the tables present
// ("inet filter", "ip nat", ...), for the `backend auto` rule.
struct NftProbe {
  bool usable = false;
  std::string error;
  std::vector<std::string> tables;
};
NftProbe probe_nftables();

// The nft chain of a FirewallState chain: "raw-PREROUTING-v4".
std::string nft_chain_name(net::Family family, const std::string& table, const std::string& chain);

// Renders one rule body of the closed vocabulary desired_state() writes
// (-i/-o IFACE, -p PROTO -m multiport --dports LIST, --dport N, -m
// conntrack --ctstate LIST, -m set --match-set SET src|dst, -s/-d NET, -m
// limit --limit R [--limit-burst N], -m comment --comment C, in IPv6 rules
// -p ipv6-icmp -m icmp6 --icmpv6-type N and -m hl --hl-eq N, -j DROP |
// RETURN | REJECT --reject-with ... | LOG --log-prefix P | own chain) into a
// rule of chain `chain` (nft name) of `table_name`. In a netdev table the
// family test is on the ethertype. Throws RulesError naming the word for
// anything else.
nft::Rule render_rule(const std::string& body, net::Family family, nft::Family table_family,
                      const std::string& table_name, const std::string& ip_table, const std::string& chain);

} // namespace geoblock::apply
