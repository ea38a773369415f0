// A typed rule (model.hpp) as nf_tables expressions and back: the
// nftables backend's own syntax. Reading a live rule reconstructs the typed
// rule and renders it again; only a rule whose expressions are exactly
// what geoblock writes for it counts as that rule, anything else (edited by
// hand, written by another program) is Action::Unknown, i.e. drift.
#pragma once

#include "apply/model.hpp"
#include "apply/nft_netlink.hpp"

#include <map>
#include <string>

namespace geoblock::apply {

// Where a rule goes: its table and chain (nft names) and what they stand
// for in the model.
struct NftPlace {
  net::Family family = net::Family::V4; // the chain's family ("-v4" / "-v6")
  nft::Family table_family = nft::Family::Inet;
  std::string table;    // "geoblock"
  std::string ip_table; // the model's table: raw, mangle, filter, ingress
  std::string chain;    // nft name: "raw-PREROUTING-v4"
};

// The nft chain of a model chain: "raw-PREROUTING-v4".
std::string nft_chain_name(net::Family family, const std::string& table, const std::string& chain);

// The rule's expressions in `place`: a family test first (inet base chains
// see both families; in a netdev table, the ethertype), the matches, a
// counter, the verdict; comment: the owner tag. Throws RulesError for a
// rule nftables cannot express (Action::Unknown, an unknown protocol).
nft::Rule render_rule(const Rule& rule, const NftPlace& place);

// The typed rule of `live` (a rule of `place`), given the anonymous sets of
// its table by name.
Rule read_rule(const nft::Rule& live, const NftPlace& place,
               const std::map<std::string, const nft::Set*>& anonymous);

} // namespace geoblock::apply
