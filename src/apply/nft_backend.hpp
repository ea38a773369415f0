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
// copy of the sets. Rules are rendered from the typed model (nft_rule.hpp)
// and read back into it; an edited rule is Action::Unknown, i.e. drift.
#pragma once

#include "apply/backend.hpp"
#include "apply/nft_netlink.hpp"
#include "apply/nft_rule.hpp"

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

} // namespace geoblock::apply
