#include "flow/managers.hpp"

#include "apply/nft_backend.hpp"
#include "apply/rules.hpp"
#include "core/error.hpp"
#include "flow/backend_choice.hpp"

#include <algorithm>
#include <functional>

namespace geoblock::flow {

namespace {

// "a, b and c".
std::string
listed(const std::vector<std::string>& names)
{
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  }
  return out;
}

// The names of the chains `keep` selects, each once, in the order seen.
std::vector<std::string>
chain_names(const FirewallFacts& facts, const std::function<bool(const FirewallFacts::Chain&)>& keep)
{
  std::vector<std::string> out;
  for (const FirewallFacts::Chain& c : facts.chains) {
    if (keep(c) && std::find(out.begin(), out.end(), c.name) == out.end()) {
      out.push_back(c.name);
    }
  }
  return out;
}

bool
starts_with(const std::string& s, const std::string& prefix)
{
  return s.rfind(prefix, 0) == 0;
}

std::string
docker_seen(const FirewallFacts& facts)
{
  // DOCKER, not DOCKER-USER: geoblock creates DOCKER-USER itself when it
  // is configured before Docker has run.
  const auto docker =
      chain_names(facts, [](const auto& c) { return c.table == "filter" && c.name == "DOCKER"; });
  if (docker.empty()) {
    return {};
  }
  return "chains " +
         listed(chain_names(facts,
                            [](const auto& c) {
                              return c.table == "filter" && (c.name == "DOCKER" || c.name == "DOCKER-USER");
                            })) +
         " (iptables)";
}

std::string
ufw_seen(const FirewallFacts& facts)
{
  // Disabled, ufw leaves its chains in place, empty.
  const auto full = chain_names(facts, [](const auto& c) {
    return (starts_with(c.name, "ufw-") || starts_with(c.name, "ufw6-")) && c.rules > 0;
  });
  return full.empty() ? std::string() : "enabled: its chains ufw-* hold rules";
}

std::string
fail2ban_seen(const FirewallFacts& facts)
{
  std::vector<std::string> what;
  const auto chains = chain_names(facts, [](const auto& c) { return starts_with(c.name, "f2b-"); });
  if (!chains.empty()) {
    what.push_back((chains.size() == 1 ? "chain " : "chains ") + listed(chains));
  }
  for (const std::string& t : facts.nft_tables) {
    // nftables-common.conf's table: "inet f2b-table".
    if (t.size() > 10 && t.compare(t.size() - 10, 10, " f2b-table") == 0) {
      what.push_back("table " + t);
    }
  }
  return listed(what);
}

struct Hooks {
  bool prerouting = false; // raw or mangle PREROUTING, or nftables ingress: before Docker's NAT
  bool forward = false;    // FORWARD or DOCKER-USER
  bool docker_user = false;
  bool input = false;
};

Hooks
hooks_in(const apply::RulesConfig& rules)
{
  Hooks h;
  for (const apply::Hook& hook : apply::hooks_of(rules)) {
    h.prerouting |= hook.chain == "PREROUTING" || hook.table == "ingress";
    h.forward |= hook.chain == "FORWARD" || hook.chain == "DOCKER-USER";
    h.docker_user |= hook.chain == "DOCKER-USER";
    h.input |= hook.chain == "INPUT";
  }
  return h;
}

Manager
judge_firewalld(std::string seen, const std::string& backend)
{
  if (backend == k_nftables) {
    return {"firewalld", std::move(seen), true,
            "firewalld deletes only its own tables on reload, restart and stop; geoblock's table is not one"};
  }
  return {
      "firewalld", std::move(seen), false,
      "its reload, restart and stop delete geoblock's iptables rules (before firewalld 2.0 it flushes every "
      "iptables table): set backend = nftables"};
}

Manager
judge_docker(std::string seen, const std::string& backend, const apply::RulesConfig& rules)
{
  const Hooks h = hooks_in(rules);
  Manager m{"Docker", std::move(seen), false, ""};
  if (h.prerouting) {
    m.protects = true;
    m.why = "geoblock drops in PREROUTING, before Docker's NAT and its chains see a packet";
  } else if (!h.forward) {
    m.why = "connections to published ports are forwarded to the containers, past INPUT: use the default "
            "chain raw:PREROUTING, or DOCKER-USER with INPUT";
  } else if (backend != k_nftables && !h.docker_user) {
    m.why = "Docker puts its rules above geoblock's in FORWARD whenever it starts, and published ports then "
            "pass: use chain = DOCKER-USER with INPUT, or the default raw:PREROUTING";
  } else if (net::includes(rules.families, net::Family::V6) && !h.input) {
    m.why = "docker-proxy answers IPv6 connections to published ports on the host itself, past " +
            std::string(h.docker_user ? "DOCKER-USER" : "FORWARD") + ": add chain = INPUT";
  } else {
    m.protects = true;
    m.why = backend == k_nftables
                ? "Docker changes only iptables, and a drop in geoblock's own table is final"
                : "Docker keeps DOCKER-USER as it is and jumps to it first in FORWARD";
  }
  return m;
}

} // namespace

FirewallFacts
probe_firewall()
{
  FirewallFacts f;
  const apply::NftProbe nft = apply::probe_nftables();
  f.nft_usable = nft.usable;
  f.nft_tables = nft.tables;
  for (const net::Family family : {net::Family::V4, net::Family::V6}) {
    try {
      const apply::Xtables x(family, family == net::Family::V4 ? "iptables" : "ip6tables");
      x.require();
      for (const apply::Table& t : x.save().tables) {
        for (const apply::ChainDecl& c : t.chains) {
          const auto rules = std::count_if(t.rules.begin(), t.rules.end(),
                                           [&](const apply::RuleLine& r) { return r.chain == c.name; });
          f.chains.push_back({family, t.name, c.name, static_cast<std::size_t>(rules)});
        }
      }
    } catch (const Error&) {
      // No iptables here (or no root): nothing of a manager to see there.
    }
  }
  return f;
}

std::string
firewalld_seen(const FirewallFacts& facts)
{
  if (std::find(facts.nft_tables.begin(), facts.nft_tables.end(), "inet firewalld") !=
      facts.nft_tables.end()) {
    return "table inet firewalld (its nftables backend)";
  }
  // Its iptables backend (FirewallBackend=iptables) builds INPUT_direct,
  // INPUT_ZONES, IN_public, ... and deletes them when it stops.
  if (!chain_names(facts, [](const auto& c) {
         return c.table == "filter" && c.name == "INPUT_direct";
       }).empty()) {
    return "chain INPUT_direct (its iptables backend)";
  }
  return {};
}

std::vector<Manager>
managers_beside(const FirewallFacts& facts, const std::string& backend, const apply::RulesConfig& rules)
{
  std::vector<Manager> out;
  if (std::string seen = firewalld_seen(facts); !seen.empty()) {
    out.push_back(judge_firewalld("active: " + seen, backend));
  }
  if (std::string seen = docker_seen(facts); !seen.empty()) {
    out.push_back(judge_docker(std::move(seen), backend, rules));
  }
  if (std::string seen = ufw_seen(facts); !seen.empty()) {
    out.push_back({"ufw", std::move(seen), true,
                   "ufw rewrites only its own chains and appends its jumps, below geoblock's rules"});
  }
  if (std::string seen = fail2ban_seen(facts); !seen.empty()) {
    out.push_back({"fail2ban", std::move(seen), true,
                   "fail2ban changes only its own chains or table and the jumps into them"});
  }
  return out;
}

void
refuse_unprotected_backend(const FirewallFacts& facts, const std::string& backend, const std::string& where)
{
  if (backend == k_nftables || !facts.nft_usable) {
    return;
  }
  if (const std::string seen = firewalld_seen(facts); !seen.empty()) {
    throw ConfigError(where + ": iptables is refused while firewalld is active (" + seen +
                      "): its reload, restart and stop delete geoblock's iptables rules; set backend = "
                      "nftables (or auto), which firewalld leaves alone");
  }
}

} // namespace geoblock::flow
