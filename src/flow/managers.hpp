// The host's own firewall managers beside geoblock: firewalld, Docker, ufw
// and fail2ban. Which of them the live firewall shows, and whether
// geoblock's block is protected from each (what it does on a reload,
// restart or stop cannot take the block away or put rules above it); the
// reasons are in docs/operations.md ("Beside the host's firewall
// managers").
//
// Seeing is read from the firewall itself, not from the managers' files or
// their D-Bus names: what a manager has loaded is what meets geoblock's
// rules, the firewall is what geoblock reads anyway, and so it works the
// same under the units' sandbox and in a test's namespaces. The rules are
// pure functions over FirewallFacts (tested without a kernel);
// probe_firewall() gathers the facts on this host.
#pragma once

#include "apply/state.hpp"
#include "net/cidr.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace geoblock::flow {

// What the live firewall holds, as far as the managers go.
struct FirewallFacts {
  bool nft_usable = false;             // the nf_tables interface answers (the nftables backend works)
  std::vector<std::string> nft_tables; // every nftables table: "inet firewalld", "inet f2b-table", ...
  struct Chain {
    net::Family family = net::Family::V4;
    std::string table; // "filter", "nat", ...
    std::string name;
    std::size_t rules = 0;
  };
  std::vector<Chain> chains; // every iptables chain of both families (iptables-save)
};

// This host's facts (nothing of what cannot be read: no nf_tables, no
// iptables program, no root).
FirewallFacts probe_firewall();

struct Manager {
  std::string name;      // "firewalld", "Docker", "ufw", "fail2ban"
  std::string seen;      // what shows it: "active: table inet firewalld (its nftables backend)"
  bool protects = false; // geoblock's block is protected from it
  std::string why;       // one line, why (not); for an unprotected one, what to set instead
};

// The managers `facts` show, each judged for the block geoblock keeps on
// `backend` ("iptables" or "nftables") with `rules`.
std::vector<Manager> managers_beside(const FirewallFacts& facts, const std::string& backend,
                                     const apply::RulesConfig& rules);

// firewalld's evidence ("table inet firewalld (its nftables backend)"), ""
// when firewalld is not active. `backend = auto` picks nftables beside it.
std::string firewalld_seen(const FirewallFacts& facts);

// Refuses (ConfigError, exit 2) a backend that a manager would take the
// block away from without repair: iptables while firewalld is active,
// where nftables works (the backend firewalld leaves alone). `where` names
// the setting ("geoblock.conf:3: key 'backend'").
void refuse_unprotected_backend(const FirewallFacts& facts, const std::string& backend,
                                const std::string& where);

} // namespace geoblock::flow
