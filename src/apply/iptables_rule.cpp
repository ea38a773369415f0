#include "apply/iptables_rule.hpp"

#include "core/error.hpp"

#include "net/zone.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace geoblock::apply {

namespace {

const std::string k_tag = std::string("-m comment --comment ") + k_owner_tag;

std::string
interface(const char* flag, const Interface& i)
{
  return std::string(i.negated ? "! " : "") + flag + " " + i.name + " ";
}

std::string
port_list(const std::vector<PortSpan>& ports)
{
  std::string out;
  for (const auto& p : ports) {
    out += (out.empty() ? "" : ",") + std::to_string(p.first) +
           (p.last != p.first ? ":" + std::to_string(p.last) : std::string());
  }
  return out;
}

// In the order xt_conntrack prints them.
std::string
ct_list(std::uint32_t mask)
{
  std::string out;
  for (const auto& [bit, name] :
       {std::pair{k_ct_invalid, "INVALID"}, std::pair{k_ct_new, "NEW"}, std::pair{k_ct_related, "RELATED"},
        std::pair{k_ct_established, "ESTABLISHED"}, std::pair{k_ct_untracked, "UNTRACKED"}}) {
    if ((mask & bit) != 0) {
      out += (out.empty() ? "" : ",") + std::string(name);
    }
  }
  return out;
}

std::optional<int>
number(const std::string& text)
{
  int v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

bool
parse_ports(const std::string& text, std::vector<PortSpan>& out)
{
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const auto colon = item.find(':');
    const auto first = number(item.substr(0, colon));
    const auto last = colon == std::string::npos ? first : number(item.substr(colon + 1));
    if (!first || !last) {
      return false;
    }
    out.push_back(PortSpan{*first, *last});
    start = comma + 1;
  }
  return true;
}

bool
parse_ct(const std::string& text, std::uint32_t& mask)
{
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string s = text.substr(start, comma - start);
    if (s == "INVALID") {
      mask |= k_ct_invalid;
    } else if (s == "ESTABLISHED") {
      mask |= k_ct_established;
    } else if (s == "RELATED") {
      mask |= k_ct_related;
    } else if (s == "NEW") {
      mask |= k_ct_new;
    } else if (s == "UNTRACKED") {
      mask |= k_ct_untracked;
    } else {
      return false;
    }
    start = comma + 1;
  }
  return true;
}

// The typed rule of `w`, or nullopt when a word is not of the vocabulary.
std::optional<Rule>
parse_words(const std::vector<std::string>& w, net::Family family)
{
  Rule r;
  RuleMatch& m = r.match;
  bool tagged = false;
  bool target = false;
  for (std::size_t i = 0; i < w.size(); ++i) {
    auto value = [&](std::size_t k) -> const std::string* { return i + k < w.size() ? &w[i + k] : nullptr; };
    const std::string& word = w[i];
    if (target) {
      return std::nullopt; // nothing follows the target's own options
    }
    if (word == "!" || word == "-i" || word == "-o") {
      const bool negated = word == "!";
      const std::string* flag = negated ? value(1) : &word;
      const std::string* name = value(negated ? 2 : 1);
      if (!flag || !name || (*flag != "-i" && *flag != "-o")) {
        return std::nullopt;
      }
      (*flag == "-i" ? m.in : m.out) = Interface{*name, negated};
      i += negated ? 2 : 1;
    } else if (word == "-s" || word == "-d") {
      const std::string* text = value(1);
      net::NetList nl;
      if (!text || !net::parse_network(*text, nl) || nl.v4.size() + nl.v6.size() != 1 ||
          (family == net::Family::V4) != (nl.v4.size() == 1)) {
        return std::nullopt;
      }
      if (family == net::Family::V4) {
        m.net4 = nl.v4.front();
      } else {
        m.net6 = nl.v6.front();
      }
      m.net_side = word == "-s" ? Side::Source : Side::Destination;
      ++i;
    } else if (word == "-p") {
      const std::string* p = value(1);
      if (!p) {
        return std::nullopt;
      }
      m.proto = *p == "icmpv6" || *p == "58" ? "ipv6-icmp" : *p;
      ++i;
    } else if (word == "-m") {
      const std::string* module = value(1);
      const std::string* option = value(2);
      const std::string* arg = value(3);
      if (!module || !option || !arg) {
        return std::nullopt;
      }
      if (*module == "comment" && *option == "--comment") {
        tagged = *arg == k_owner_tag;
      } else if (*module == "multiport" && *option == "--dports") {
        if (!parse_ports(*arg, m.dports)) {
          return std::nullopt;
        }
      } else if ((*module == "conntrack" && *option == "--ctstate") ||
                 (*module == "state" && *option == "--state")) {
        if (!parse_ct(*arg, m.ct_states)) {
          return std::nullopt;
        }
      } else if (*module == "set" && *option == "--match-set") {
        const std::string* side = value(4);
        if (!side || (*side != "src" && *side != "dst")) {
          return std::nullopt;
        }
        m.set = *arg;
        m.set_side = *side == "src" ? Side::Source : Side::Destination;
        ++i;
      } else if (*module == "icmp6" && *option == "--icmpv6-type") {
        m.icmpv6_type = number(*arg);
        if (!m.icmpv6_type) {
          return std::nullopt;
        }
      } else if (*module == "hl" && *option == "--hl-eq") {
        m.hop_limit = number(*arg);
        if (!m.hop_limit) {
          return std::nullopt;
        }
      } else if (*module == "limit" && *option == "--limit") {
        m.limit = *arg;
        if (value(4) && *value(4) == "--limit-burst") {
          const std::string* burst = value(5);
          const auto b = burst ? number(*burst) : std::nullopt;
          if (!b) {
            return std::nullopt;
          }
          m.limit_burst = *b;
          i += 2;
        }
      } else {
        return std::nullopt;
      }
      i += 3;
    } else if (word == "-j") {
      const std::string* t = value(1);
      if (!t) {
        return std::nullopt;
      }
      target = true;
      ++i;
      if (*t == "DROP") {
        r.action = Action::Drop;
      } else if (*t == "RETURN") {
        r.action = Action::Return;
      } else if (*t == "REJECT") {
        r.action = Action::Reject;
        if (value(1) && *value(1) == "--reject-with") {
          const std::string* with = value(2);
          if (!with) {
            return std::nullopt;
          }
          if (*with == "tcp-reset") {
            r.action = Action::TcpReset;
          } else if (*with !=
                     (family == net::Family::V4 ? "icmp-port-unreachable" : "icmp6-port-unreachable")) {
            return std::nullopt;
          }
          i += 2;
        }
      } else if (*t == "LOG") {
        r.action = Action::Log;
        if (!value(1) || *value(1) != "--log-prefix" || !value(2)) {
          return std::nullopt;
        }
        r.log_prefix = *value(2);
        i += 2;
      } else if (std::any_of(t->begin(), t->end(), [](char c) { return c < 'A' || c > 'Z'; })) {
        // A chain (geoblock's own are lower case); an upper-case word is
        // a target module (ACCEPT, MARK, ...), not geoblock's vocabulary.
        r.action = Action::Jump;
        r.chain = *t;
      } else {
        return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  }
  if (!target || !tagged) {
    return std::nullopt;
  }
  return r;
}

} // namespace

std::string
iptables_body(const Rule& rule, net::Family family)
{
  if (rule.action == Action::Unknown) {
    return rule.text;
  }
  const RuleMatch& m = rule.match;
  std::string out;
  if (m.in) {
    out += interface("-i", *m.in);
  }
  if (m.out) {
    out += interface("-o", *m.out);
  }
  const char* side = m.net_side == Side::Source ? "-s " : "-d ";
  if (m.net4) {
    out += side + net::to_string(*m.net4) + " ";
  }
  if (m.net6) {
    out += side + net::to_string(*m.net6) + " ";
  }
  if (!m.proto.empty()) {
    out += "-p " + m.proto + " ";
  }
  if (!m.dports.empty()) {
    out += "-m multiport --dports " + port_list(m.dports) + " ";
  }
  if (m.icmpv6_type) {
    out += "-m icmp6 --icmpv6-type " + std::to_string(*m.icmpv6_type) + " ";
  }
  if (m.hop_limit) {
    out += "-m hl --hl-eq " + std::to_string(*m.hop_limit) + " ";
  }
  if (m.ct_states != 0) {
    out += "-m conntrack --ctstate " + ct_list(m.ct_states) + " ";
  }
  if (!m.set.empty()) {
    out += "-m set --match-set " + m.set + (m.set_side == Side::Source ? " src " : " dst ");
  }
  if (!m.limit.empty()) {
    out += "-m limit --limit " + m.limit + " ";
    if (m.limit_burst != 5) {
      out += "--limit-burst " + std::to_string(m.limit_burst) + " ";
    }
  }
  out += k_tag + " -j ";
  switch (rule.action) {
  case Action::Drop:
    return out + "DROP";
  case Action::Reject:
    return out + "REJECT --reject-with " +
           (family == net::Family::V4 ? "icmp-port-unreachable" : "icmp6-port-unreachable");
  case Action::TcpReset:
    return out + "REJECT --reject-with tcp-reset";
  case Action::Return:
    return out + "RETURN";
  case Action::Jump:
    return out + rule.chain;
  case Action::Log:
    return out + "LOG --log-prefix \"" + rule.log_prefix + "\"";
  case Action::Classify:
    throw RulesError("iptables has no verdict maps: per-source actions need backend nftables");
  case Action::Unknown:
    break;
  }
  return out;
}

Rule
parse_iptables_body(const std::string& body, net::Family family)
{
  if (auto r = parse_words(split_rule(body), family)) {
    return *r;
  }
  Rule unknown;
  unknown.action = Action::Unknown;
  unknown.text = body;
  return unknown;
}

bool
owned(const Ownership& own, const RuleLine& rule)
{
  if (own.owns_chain(rule.chain)) {
    return true;
  }
  const auto words = split_rule(rule.body);
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "--comment" && words[i + 1] == k_owner_tag) {
      return true;
    }
  }
  // geoblock 0.1 wrote its rules without the tag, in exactly these forms.
  if (words.size() == 7 && words[0] == "-m" && words[1] == "set" && words[2] == "--match-set" &&
      own.owns_set(words[3]) && words[4] == "src" && words[5] == "-j" && words[6] == "DROP") {
    return true;
  }
  return words.size() == 2 && words[0] == "-j" && own.owns_chain(words[1]);
}

} // namespace geoblock::apply
