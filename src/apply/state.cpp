#include "apply/state.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <charconv>
#include <set>

namespace geoblock::apply {

namespace {

const std::string k_tag = std::string("-m comment --comment ") + k_owner_tag;

// iptables' multiport takes at most 15 ports per rule, a range counting 2.
constexpr int k_multiport_slots = 15;

int
parse_port(std::string_view text, const std::string& whole)
{
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw ConfigError("'" + whole + "': '" + std::string(text) + "' is not a port number");
  }
  if (value < 1 || value > 65535) {
    throw ConfigError("'" + whole + "': port " + std::string(text) + " is outside 1..65535");
  }
  return value;
}

// "-p tcp -m multiport --dports 22,80:90" for each protocol, at most 15
// slots each.
std::vector<std::string>
port_matches(const std::vector<PortRange>& ranges)
{
  std::vector<std::string> out;
  std::vector<std::string> protos;
  for (const auto& r : ranges) {
    if (std::find(protos.begin(), protos.end(), r.proto) == protos.end()) {
      protos.push_back(r.proto);
    }
  }
  for (const auto& proto : protos) {
    std::string list;
    int slots = 0;
    auto flush = [&] {
      if (!list.empty()) {
        out.push_back("-p " + proto + " -m multiport --dports " + list);
        list.clear();
        slots = 0;
      }
    };
    for (const auto& r : ranges) {
      if (r.proto != proto) {
        continue;
      }
      const int need = r.first == r.last ? 1 : 2;
      if (slots + need > k_multiport_slots) {
        flush();
      }
      list += (list.empty() ? "" : ",") + std::to_string(r.first) +
              (r.first == r.last ? std::string() : ":" + std::to_string(r.last));
      slots += need;
    }
    flush();
  }
  return out;
}

// ICMPv6 router solicitation and advertisement, neighbour solicitation and
// advertisement, redirect (RFC 4861). Hop limit 255 proves a packet comes
// from the link itself: a router decrements it, so nothing routed can pass
// for neighbour discovery.
constexpr int k_nd_types[] = {133, 134, 135, 136, 137};

// How geoblock refuses: a drop (nothing comes back), or a reject (the
// connection fails at once: TCP with a reset, everything else with the
// family's ICMP port unreachable).
enum class Verdict { Drop, Reject };

std::string
icmp_reject(net::Family family)
{
  return family == net::Family::V4 ? "REJECT --reject-with icmp-port-unreachable"
                                   : "REJECT --reject-with icmp6-port-unreachable";
}

// Hooks where packets the host sends itself arrive again, on the loopback
// interface: the reset or ICMP error of a connection the host's own
// firewall rejected carries the refused address as its source, so a drop
// by source there would turn every such reject into silence.
bool
sees_loopback(const Hook& h)
{
  return (h.chain == "PREROUTING" && (h.table == "raw" || h.table == "mangle")) || h.chain == "INPUT";
}

class Builder {
public:
  Builder(FirewallState& state, const RulesConfig& config, net::Family family)
      : m_state(state), m_config(config), m_family(family)
  {
  }

  void add(const std::string& table, const std::string& chain, bool own, const std::string& body)
  {
    for (auto& c : m_state.chains) {
      if (c.family == m_family && c.table == table && c.chain == chain) {
        c.rules.push_back(body);
        return;
      }
    }
    ChainState c;
    c.family = m_family;
    c.table = table;
    c.chain = chain;
    c.own = own;
    c.rules.push_back(body);
    m_state.chains.push_back(std::move(c));
  }

  bool has(const std::string& table, const std::string& chain) const
  {
    return m_state.chain(m_family, table, chain) != nullptr;
  }

  // "[-i IF] [-p P -m multiport --dports X] " combinations, one per rule.
  std::vector<std::string> selectors(const char* iface_flag) const
  {
    std::vector<std::string> ifaces;
    for (const auto& i : m_config.interfaces) {
      ifaces.push_back(std::string(iface_flag) + " " + i + " ");
    }
    if (ifaces.empty()) {
      ifaces.push_back("");
    }
    std::vector<std::string> ports;
    for (const auto& p : port_matches(m_config.ports)) {
      ports.push_back(p + " ");
    }
    if (ports.empty()) {
      ports.push_back("");
    }
    std::vector<std::string> out;
    for (const auto& i : ifaces) {
      for (const auto& p : ports) {
        out.push_back(i + p);
      }
    }
    return out;
  }

  // Whether the family's drop goes through geoblock's own chain
  // (<set-name>-drop) rather than stand in the rule of the system's chain:
  // IPv6 always (neighbour discovery must return before the verdict, RFC
  // 4890), IPv4 for except-ports and log. A reject always does
  // (<set-name>-reject: TCP and the rest are rejected apart).
  bool drop_in_own_chain() const
  {
    return m_family == net::Family::V6 || m_config.log || !m_config.except_ports.empty();
  }

  // The tail of an own chain: neighbour discovery returns (IPv6), except-ports
  // returns, the log line, the verdict. Every drop and reject of geoblock's
  // is such a tail, so neighbour discovery never meets one (RFC 4890: an
  // on-link host that cannot resolve its neighbours cannot reach even the
  // ports left open). Returns only in geoblock's own chains: the rules of
  // other programs below geoblock's in the system's chains still see every
  // packet, as without geoblock.
  void finish_chain(const std::string& table, const std::string& chain, Verdict verdict)
  {
    if (m_family == net::Family::V6) {
      for (const int type : k_nd_types) {
        add(table, chain, true,
            "-p ipv6-icmp -m icmp6 --icmpv6-type " + std::to_string(type) + " -m hl --hl-eq 255 " + k_tag +
                " -j RETURN");
      }
    }
    for (const auto& p : port_matches(m_config.except_ports)) {
      add(table, chain, true, p + " " + k_tag + " -j RETURN");
    }
    if (m_config.log) {
      add(table, chain, true,
          "-m limit --limit " + m_config.log_rate + " " + k_tag + " -j LOG --log-prefix \"" +
              m_config.log_prefix + "\"");
    }
    if (verdict == Verdict::Drop) {
      add(table, chain, true, k_tag + " -j DROP");
      return;
    }
    // A reset ends a TCP connection attempt at once, also the host's own:
    // an ICMP error that reaches the connecting socket while connect()
    // still holds it only counts as a soft error, and the attempt then
    // waits for the next SYN (a second, and in IPv6 this happens every time).
    add(table, chain, true, "-p tcp " + k_tag + " -j REJECT --reject-with tcp-reset");
    add(table, chain, true, k_tag + " -j " + icmp_reject(m_family));
  }

  void inbound(const std::string& set)
  {
    const std::string& base = m_config.set_name;
    for (const Hook& h : hooks_of(m_config)) {
      if (m_config.policy == Policy::Block) {
        const bool chained = drop_in_own_chain();
        const std::string chain = base + "-drop";
        const std::string ct = m_config.match == Match::New ? "-m conntrack --ctstate NEW " : "";
        // Packets on loopback are the host's own (see sees_loopback); with
        // interfaces configured, loopback is not among them anyway.
        const std::string not_lo = m_config.interfaces.empty() && sees_loopback(h) ? "! -i lo " : "";
        const bool fresh = chained && !has(h.table, chain);
        for (const auto& sel : selectors("-i")) {
          add(h.table, h.chain, false,
              not_lo + sel + ct + "-m set --match-set " + set + " src " + k_tag + " -j " +
                  (chained ? chain : "DROP"));
        }
        if (fresh) {
          finish_chain(h.table, chain, Verdict::Drop);
        }
      } else {
        const std::string chain = base + "-allow";
        const bool fresh = !has(h.table, chain);
        for (const auto& sel : selectors("-i")) {
          add(h.table, h.chain, false, sel + k_tag + " -j " + chain);
        }
        if (fresh) {
          // Order matters: loopback and replies first (cheap, and they keep
          // the host's own connections alive), then the allowed countries,
          // the allowlist, neighbour discovery (IPv6), the ports open to
          // all, then the drop.
          add(h.table, chain, true, "-i lo " + k_tag + " -j RETURN");
          add(h.table, chain, true, "-m conntrack --ctstate RELATED,ESTABLISHED " + k_tag + " -j RETURN");
          add(h.table, chain, true, "-m set --match-set " + set + " src " + k_tag + " -j RETURN");
          for (const auto& net : allowlist()) {
            add(h.table, chain, true, "-s " + net + " " + k_tag + " -j RETURN");
          }
          finish_chain(h.table, chain, Verdict::Drop);
        }
      }
    }
  }

  void outbound(const std::string& set)
  {
    const std::string& base = m_config.set_name;
    for (const char* hook_chain : {"OUTPUT", "FORWARD"}) {
      if (m_config.policy == Policy::Block) {
        const std::string chain = base + "-reject";
        const bool fresh = !has("filter", chain);
        // Only connections this side opens: replies to a connection the
        // listed side opened are not "connections to" it (direction in
        // decides about those), so direction out alone leaves them alone.
        for (const auto& sel : selectors("-o")) {
          add("filter", hook_chain, false,
              sel + "-m conntrack --ctstate NEW -m set --match-set " + set + " dst " + k_tag + " -j " +
                  chain);
        }
        if (fresh) {
          finish_chain("filter", chain, Verdict::Reject);
        }
      } else {
        const std::string chain = base + "-allow-out";
        const bool fresh = !has("filter", chain);
        for (const auto& sel : selectors("-o")) {
          add("filter", hook_chain, false, sel + k_tag + " -j " + chain);
        }
        if (fresh) {
          add("filter", chain, true, "-o lo " + k_tag + " -j RETURN");
          add("filter", chain, true, "-m conntrack --ctstate RELATED,ESTABLISHED " + k_tag + " -j RETURN");
          add("filter", chain, true, "-m set --match-set " + set + " dst " + k_tag + " -j RETURN");
          for (const auto& net : allowlist()) {
            add("filter", chain, true, "-d " + net + " " + k_tag + " -j RETURN");
          }
          finish_chain("filter", chain, Verdict::Reject);
        }
      }
    }
  }

private:
  std::vector<std::string> allowlist() const
  {
    std::vector<std::string> out;
    if (m_family == net::Family::V4) {
      for (const auto& p : m_config.allowlist.v4) {
        out.push_back(net::to_string(p));
      }
    } else {
      for (const auto& p : m_config.allowlist.v6) {
        out.push_back(net::to_string(p));
      }
    }
    return out;
  }

  FirewallState& m_state;
  const RulesConfig& m_config;
  net::Family m_family;
};

bool
same_rules(const std::vector<std::string>& a, const std::vector<std::string>& b)
{
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same_rule(a[i], b[i])) {
      return false;
    }
  }
  return true;
}

void
diff_chain_into(const ChainState& want, const ChainState* live, std::vector<std::string>& out)
{
  const std::string where = want.where();
  if (want.own) {
    if (live == nullptr) {
      out.push_back("chain " + where + ": missing");
    } else if (!same_rules(want.rules, live->rules)) {
      out.push_back("chain " + where + ": rules differ from the configuration");
    }
    return;
  }
  const std::vector<std::string> none;
  const std::vector<std::string>& have = live ? live->rules : none;
  bool reported = false;
  std::vector<bool> matched(have.size(), false);
  for (const auto& r : want.rules) {
    bool found = false;
    for (std::size_t i = 0; i < have.size(); ++i) {
      if (!matched[i] && same_rule(r, have[i])) {
        matched[i] = true;
        found = true;
        break;
      }
    }
    if (!found) {
      out.push_back("rule missing in " + where + ": " + r);
      reported = true;
    }
  }
  for (std::size_t i = 0; i < have.size(); ++i) {
    if (!matched[i]) {
      const bool duplicate = std::any_of(want.rules.begin(), want.rules.end(),
                                         [&](const std::string& r) { return same_rule(r, have[i]); });
      out.push_back(std::string(duplicate ? "duplicate rule in " : "rule not configured in ") + where + ": " +
                    have[i]);
      reported = true;
    }
  }
  if (reported || live == nullptr) {
    return;
  }
  bool first = same_rules(want.rules, have);
  for (std::size_t i = 0; first && i < live->positions.size(); ++i) {
    first = live->positions[i] == i;
  }
  if (!first) {
    out.push_back("rules not first in " + where + " (another rule stands before geoblock's)");
  }
}

} // namespace

std::vector<PortRange>
parse_ports(const std::string& text)
{
  std::vector<PortRange> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) {
      comma = text.size();
    }
    const std::string item(text::trim(std::string_view(text).substr(start, comma - start)));
    start = comma + 1;
    if (item.empty()) {
      if (comma == text.size()) {
        break;
      }
      throw ConfigError("'" + text + "': empty item in the list");
    }
    // "tcp:80" or, after "tcp:80,", a bare "443" continuing the protocol.
    PortRange r;
    std::string ports = item;
    if (const auto colon = item.find(':'); colon != std::string::npos) {
      r.proto = item.substr(0, colon);
      ports = item.substr(colon + 1);
    } else if (!out.empty()) {
      r.proto = out.back().proto;
    } else {
      throw ConfigError("'" + text + "': expected PROTO:PORT[-PORT], e.g. tcp:22");
    }
    if (r.proto != "tcp" && r.proto != "udp" && r.proto != "sctp") {
      throw ConfigError("'" + text + "': unknown protocol '" + r.proto + "' (tcp, udp or sctp)");
    }
    const auto dash = ports.find('-');
    r.first = parse_port(std::string_view(ports).substr(0, dash), text);
    r.last = dash == std::string::npos ? r.first : parse_port(std::string_view(ports).substr(dash + 1), text);
    if (r.last < r.first) {
      throw ConfigError("'" + text + "': reversed range " + ports);
    }
    out.push_back(r);
    if (comma == text.size()) {
      break;
    }
  }
  if (out.empty()) {
    throw ConfigError("'" + text + "': no ports given");
  }
  return out;
}

std::string
to_string(const PortRange& range)
{
  return range.proto + ":" + std::to_string(range.first) +
         (range.first == range.last ? std::string() : "-" + std::to_string(range.last));
}

std::string
parse_rate(const std::string& text)
{
  const auto slash = text.find('/');
  const std::string number = text.substr(0, slash);
  int n = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (slash == std::string::npos || ec != std::errc() || end != number.data() + number.size() || n < 1 ||
      n > 10000) {
    throw ConfigError("'" + text + "': expected N/second, N/minute, N/hour or N/day with N from 1 to 10000");
  }
  const std::string unit = text.substr(slash + 1);
  static const std::pair<const char*, const char*> units[] = {
      {"s", "sec"},      {"sec", "sec"}, {"second", "sec"}, {"m", "min"}, {"min", "min"},
      {"minute", "min"}, {"h", "hour"},  {"hour", "hour"},  {"d", "day"}, {"day", "day"}};
  for (const auto& [name, canonical] : units) {
    if (unit == name) {
      return std::to_string(n) + "/" + canonical;
    }
  }
  throw ConfigError("'" + text + "': unknown unit '" + unit + "' (second, minute, hour or day)");
}

bool
valid_interface(const std::string& name)
{
  if (name.empty() || name.size() > 15 || name == "." || name == "..") {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == '@' || (c == '+' && i + 1 == name.size());
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::vector<Hook>
default_chains(Policy policy, Match match)
{
  if (policy == Policy::AllowOnly || match == Match::New) {
    return {Hook{"mangle", "PREROUTING"}};
  }
  return {Hook{"raw", "PREROUTING"}};
}

std::vector<Hook>
hooks_of(const RulesConfig& config)
{
  return config.chains.empty() ? default_chains(config.policy, config.match) : config.chains;
}

void
check_set_name(const std::string& name)
{
  if (name.empty() || name.size() > 24 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
          std::string::npos) {
    // "<name>-v4-new" must fit ipset's 31 characters.
    throw ConfigError("expected 1 to 24 letters, digits, '_' or '-', got '" + name + "'");
  }
}

void
check_ports(const RulesConfig& config)
{
  if (!config.ports.empty() && !config.except_ports.empty()) {
    throw ConfigError("ports and except-ports exclude each other (block only some ports, or all but some)");
  }
}

void
check_hooks(const RulesConfig& config)
{
  for (const auto& h : hooks_of(config)) {
    if (h.table == "ingress" && (config.policy == Policy::AllowOnly || config.match == Match::New)) {
      throw ConfigError("allow-only and match new need connection tracking, which has not run at " +
                        to_string(h) + ": use mangle:PREROUTING, INPUT or FORWARD");
    }
    if (h.table != "raw") {
      continue;
    }
    if (config.policy == Policy::AllowOnly) {
      throw ConfigError("policy allow-only needs connection tracking to accept replies: use "
                        "mangle:PREROUTING, INPUT or FORWARD instead of raw:PREROUTING");
    }
    if (config.match == Match::New) {
      throw ConfigError("match new needs connection tracking, which runs after the raw table: use "
                        "mangle:PREROUTING, INPUT or FORWARD instead of raw:PREROUTING");
    }
  }
}

void
check_interface(const std::string& name)
{
  if (!valid_interface(name)) {
    throw ConfigError("'" + name +
                      "' is not an interface name (1 to 15 letters, digits, '-', '_', '.', '@'; "
                      "'+' at the end matches any suffix)");
  }
}

void
validate(const RulesConfig& config)
{
  try {
    check_set_name(config.set_name);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("set name: ") + e.what());
  }
  check_ports(config);
  check_hooks(config);
  for (const auto& i : config.interfaces) {
    check_interface(i);
  }
}

std::string
set_name_for(const std::string& base, net::Family family)
{
  return base + (family == net::Family::V4 ? "-v4" : "-v6");
}

bool
Ownership::owns_chain(const std::string& name) const
{
  return std::find(chains.begin(), chains.end(), name) != chains.end();
}

bool
Ownership::owns_set(const std::string& name) const
{
  return std::find(sets.begin(), sets.end(), name) != sets.end();
}

bool
Ownership::owns(const RuleLine& rule) const
{
  if (owns_chain(rule.chain)) {
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
      owns_set(words[3]) && words[4] == "src" && words[5] == "-j" && words[6] == "DROP") {
    return true;
  }
  return words.size() == 2 && words[0] == "-j" && owns_chain(words[1]);
}

Ownership
ownership_of(const RulesConfig& config)
{
  Ownership o;
  std::vector<std::string> bases = {config.set_name};
  for (const auto& b : config.previous_set_names) {
    if (std::find(bases.begin(), bases.end(), b) == bases.end()) {
      bases.push_back(b);
    }
  }
  for (const auto& b : bases) {
    for (const auto f : {net::Family::V4, net::Family::V6}) {
      o.sets.push_back(set_name_for(b, f));
    }
    for (const char* suffix : {"-allow", "-allow-out", "-drop", "-reject"}) {
      o.chains.push_back(b + suffix);
    }
  }
  return o;
}

std::string
ChainState::where() const
{
  return to_string(Hook{table, chain}) + " (" + net::family_name(family) + ")";
}

const SetState*
FirewallState::set(const std::string& name) const
{
  for (const auto& s : sets) {
    if (s.name == name) {
      return &s;
    }
  }
  return nullptr;
}

const ChainState*
FirewallState::chain(net::Family family, const std::string& table, const std::string& chain_name) const
{
  for (const auto& c : chains) {
    if (c.family == family && c.table == table && c.chain == chain_name) {
      return &c;
    }
  }
  return nullptr;
}

Counters
FirewallState::dropped(net::Family family) const
{
  Counters sum;
  for (const auto& c : chains) {
    if (c.family != family) {
      continue;
    }
    for (std::size_t i = 0; i < c.rules.size() && i < c.counters.size(); ++i) {
      const auto words = split_rule(c.rules[i]);
      const auto j = std::find(words.begin(), words.end(), "-j");
      if (j != words.end() && j + 1 != words.end() && (j[1] == "DROP" || j[1] == "REJECT")) {
        sum.packets += c.counters[i].packets;
        sum.bytes += c.counters[i].bytes;
      }
    }
  }
  return sum;
}

FirewallState
desired_state(const net::NetList& target, const RulesConfig& config)
{
  FirewallState state;
  for (const auto f : {net::Family::V4, net::Family::V6}) {
    if (!net::includes(config.families, f)) {
      continue;
    }
    SetState set;
    set.name = set_name_for(config.set_name, f);
    set.family = f;
    // The kernel holds a /0 as its two halves (hash:net refuses /0).
    const auto halves = [](auto nets) {
      if (!nets.empty() && nets.front().len == 0) {
        using P = typename decltype(nets)::value_type;
        nets = {P{0, 1},
                P{static_cast<decltype(P::addr)>(decltype(P::addr){1} << (sizeof(P::addr) * 8 - 1)), 1}};
      }
      return nets;
    };
    if (f == net::Family::V4) {
      set.members.v4 = halves(target.v4);
      set.entries = set.members.v4.size();
    } else {
      set.members.v6 = halves(target.v6);
      set.entries = set.members.v6.size();
    }
    state.sets.push_back(std::move(set));
    Builder b(state, config, f);
    if (config.direction != Direction::Out) {
      b.inbound(state.sets.back().name);
    }
    if (config.direction != Direction::In) {
      b.outbound(state.sets.back().name);
    }
  }
  return state;
}

std::vector<std::string>
diff_chain(const ChainState& desired, const ChainState* live)
{
  std::vector<std::string> out;
  diff_chain_into(desired, live, out);
  return out;
}

std::vector<std::string>
diff(const FirewallState& desired, const FirewallState& live)
{
  std::vector<std::string> out;
  for (const auto& want : desired.sets) {
    const SetState* have = live.set(want.name);
    if (have == nullptr) {
      out.push_back("set " + want.name + ": missing");
      continue;
    }
    if (!have->members_known) {
      if (have->entries != want.entries) {
        out.push_back("set " + want.name + ": " + std::to_string(have->entries) + " entries, configured " +
                      std::to_string(want.entries));
      }
      continue;
    }
    std::size_t added = 0;
    std::size_t removed = 0;
    const auto count = [&](const auto& w, const auto& h) {
      std::vector<std::decay_t<decltype(w[0])>> only;
      std::set_difference(w.begin(), w.end(), h.begin(), h.end(), std::back_inserter(only));
      added += only.size();
      only.clear();
      std::set_difference(h.begin(), h.end(), w.begin(), w.end(), std::back_inserter(only));
      removed += only.size();
    };
    count(want.members.v4, have->members.v4);
    count(want.members.v6, have->members.v6);
    if (added + removed > 0) {
      out.push_back("set " + want.name + ": " + std::to_string(added) + " entries to add, " +
                    std::to_string(removed) + " to remove");
    }
  }
  for (const auto& have : live.sets) {
    if (desired.set(have.name) == nullptr) {
      out.push_back("set " + have.name + ": not configured (left over)");
    }
  }
  for (const auto& want : desired.chains) {
    if ((want.family == net::Family::V4 ? live.rules_known_v4 : live.rules_known_v6)) {
      diff_chain_into(want, live.chain(want.family, want.table, want.chain), out);
    }
  }
  for (const auto& have : live.chains) {
    if (desired.chain(have.family, have.table, have.chain) != nullptr) {
      continue;
    }
    if (have.own) {
      out.push_back("chain " + have.where() + ": not configured (left over)");
    } else {
      for (const auto& r : have.rules) {
        out.push_back("rule not configured in " + have.where() + ": " + r);
      }
    }
  }
  for (const auto f : {net::Family::V4, net::Family::V6}) {
    if (!(f == net::Family::V4 ? live.rules_known_v4 : live.rules_known_v6) &&
        std::any_of(desired.chains.begin(), desired.chains.end(),
                    [f](const ChainState& c) { return c.family == f; })) {
      out.push_back(std::string("rules (") + net::family_name(f) + "): cannot be read");
    }
  }
  return out;
}

} // namespace geoblock::apply
