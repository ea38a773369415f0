#include "flow/check.hpp"

#include "flow/report.hpp"
#include "flow/target.hpp"

#include <algorithm>

namespace geoblock::flow {

namespace {

template <class A>
const net::Prefix<A>*
find_net(const std::vector<net::Prefix<A>>& nets, A addr)
{
  for (const auto& p : nets) {
    if (p.contains(addr)) {
      return &p;
    }
  }
  return nullptr;
}

// The network of `nets` holding `a`, as text; "" when none does.
std::string
holding(const net::NetList& nets, const net::Address& a)
{
  if (a.family == net::Family::V4) {
    const auto* p = find_net(nets.v4, a.v4);
    return p ? net::to_string(*p) : std::string();
  }
  const auto* p = find_net(nets.v6, a.v6);
  return p ? net::to_string(*p) : std::string();
}

bool
has(const std::vector<std::uint32_t>& numbers, std::uint32_t n)
{
  return std::find(numbers.begin(), numbers.end(), n) != numbers.end();
}

// The fact of `kind` about address `index`, the ASN data's before a
// database's; null when the data said nothing.
const net::AddressFact*
fact_of(const std::vector<net::AddressFact>& facts, std::size_t index, net::AddressFact::Kind kind)
{
  const net::AddressFact* found = nullptr;
  for (const net::AddressFact& f : facts) {
    if (f.address == index && f.kind == kind && (!found || f.source == "asn")) {
      found = &f;
    }
  }
  return found;
}

} // namespace

std::string
check_address(const std::string& text, const net::Address& a, std::size_t index, const CheckData& data)
{
  const Settings& s = data.settings;
  // What of the configuration holds the address.
  std::string countries; // "cn (198.51.100.0/25)"
  std::vector<std::string> country_codes;
  for (const net::ZoneResult& z : data.zones) {
    if (const std::string n = holding(z.nets, a); !n.empty()) {
      countries += (countries.empty() ? "" : ", ") + z.country + " (" + n + ")";
      country_codes.push_back(z.country);
    }
  }
  std::string listed; // the blocklists and blocked ASes
  for (const net::BlocklistResult& b : data.lists) {
    if (const std::string n = holding(b.nets, a); !n.empty()) {
      listed += (listed.empty() ? "" : ", ") + std::string("blocklist ") + b.name + " (" + n + ")";
    }
  }
  std::vector<std::uint32_t> blocking; // the blocked ASes holding it
  std::string allowed_as;              // "allow-asn AS64497 Example Office (198.51.100.192/26)"
  const net::AsnResult* configured_as = nullptr;
  for (const net::AsnResult& as : data.asns) {
    const std::string n = as.usable() ? holding(as.nets, a) : std::string();
    if (n.empty()) {
      continue;
    }
    configured_as = configured_as ? configured_as : &as;
    if (as.allow) {
      allowed_as = allowed_as.empty() ? "allow-asn " + as.label() + " (" + n + ")" : allowed_as;
    } else {
      listed += (listed.empty() ? "" : ", ") + as.label() + " (" + n + ", asn)";
      blocking.push_back(as.number);
    }
  }

  // The verdict, in the order the plan decides it (flow/report.hpp).
  std::string out = text + ": ";
  bool blocked = false;
  const std::string allow = holding(s.allow, a);
  const std::string local = holding(never_blocked_local(s), a);
  if (!allow.empty()) {
    out += "allowed by the allowlist (" + allow + ")";
  } else if (!local.empty()) {
    out += "allowed: local network " + local + " (never blocked unless block-local)";
  } else if (!s.allow_only && !allowed_as.empty()) {
    out += "allowed by " + allowed_as;
  } else if (!listed.empty()) {
    blocked = true;
    out += "blocked by " + listed +
           (s.allow_only ? " (policy allow-only: taken out of what is allowed)"
                         : (countries.empty() ? "" : ", " + countries));
  } else if (s.allow_only) {
    if (!countries.empty()) {
      out += "allowed: listed country " + countries + " (policy allow-only)";
    } else if (!allowed_as.empty()) {
      out += "allowed: " + allowed_as + " (policy allow-only)";
    } else {
      blocked = true;
      out += std::string("blocked: in none of the allowed countries") +
             (s.allow_asns.empty() ? "" : " or ASes") + " (policy allow-only)";
    }
  } else if (!countries.empty()) {
    // The country whose action comes first (flow/report.hpp: the
    // strongest, then the first configured) decides.
    apply::SourceAction action;
    std::string decides;
    int best = 99;
    for (const std::string& code : s.countries) {
      const auto it = s.country_actions.find(code);
      const apply::SourceAction a_of = it == s.country_actions.end() ? apply::SourceAction{} : it->second;
      if (std::find(country_codes.begin(), country_codes.end(), code) != country_codes.end() &&
          action_rank(a_of) < best) {
        best = action_rank(a_of);
        action = a_of;
        decides = code;
      }
    }
    switch (action.kind) {
    case apply::SourceAction::Kind::Drop:
      blocked = true;
      out += "blocked by " + countries;
      break;
    case apply::SourceAction::Kind::Reject:
      blocked = true;
      out += "rejected by " + countries + " (" + decides + " reject: refused at once)";
      break;
    case apply::SourceAction::Kind::Limit:
      blocked = true;
      out += "limited by " + countries + " (" + decides + " limit " + action.rate + ": over it dropped)";
      break;
    case apply::SourceAction::Kind::Count:
      out += "counted, not blocked: " + countries + " (" + decides + " count)";
      break;
    }
  } else {
    out += "not blocked: in none of the listed countries";
  }

  // Its country, as the data says (source mmdb), or as a listed zone does.
  const net::AddressFact* country = fact_of(data.facts, index, net::AddressFact::Kind::Country);
  if (country || data.country_data) {
    std::string code, network;
    if (country) {
      code = country->country;
      network = country->network();
    } else if (!country_codes.empty()) {
      code = country_codes.front();
      for (const net::ZoneResult& z : data.zones) {
        if (z.country == code && network.empty()) {
          network = holding(z.nets, a);
        }
      }
    }
    if (code.empty()) {
      out += "; country: none in the data";
    } else {
      const bool configured = std::find(s.countries.begin(), s.countries.end(), code) != s.countries.end();
      const bool blocks = blocked && !s.allow_only &&
                          std::find(country_codes.begin(), country_codes.end(), code) != country_codes.end();
      out += "; country: " + code + " (" + network + "): " +
             (s.allow_only ? (configured ? "an allowed country" : "not an allowed country")
              : configured ? (blocks ? "listed, blocks it" : "listed, not blocked here")
                           : "not listed");
    }
  }

  // Its AS, as the ASN data (or a database with AS fields) says.
  const net::AddressFact* as = fact_of(data.facts, index, net::AddressFact::Kind::As);
  if (as || configured_as || data.as_data) {
    std::uint32_t number = 0;
    std::string name, network;
    if (as) {
      number = as->as_number;
      name = as->as_name;
      network = as->network();
    } else if (configured_as) {
      number = configured_as->number;
      name = configured_as->name;
      network = holding(configured_as->nets, a);
    }
    if (!as && !configured_as) {
      out += "; AS: none in the data";
    } else {
      std::string role = "not listed";
      if (has(s.asns, number)) {
        role = blocked && has(blocking, number) ? "asn, blocks it" : "asn, not blocked here";
      } else if (has(s.allow_asns, number)) {
        role = blocked ? "allow-asn, blocked here all the same"
                       : (s.allow_only ? "allow-asn, lets it in" : "allow-asn, never blocked");
      }
      out += "; AS: " + net::asn_label(number, name) + " (" + network + "): " + role;
    }
  }
  return out;
}

} // namespace geoblock::flow
