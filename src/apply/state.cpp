#include "apply/state.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <charconv>
#include <set>

namespace geoblock::apply {

namespace {

// iptables' multiport takes at most 15 ports per rule, a range counting 2;
// both backends write the same rules, so the nftables one splits alike.
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

// The port matches of `ranges`: per protocol, at most 15 slots each.
std::vector<RuleMatch>
port_matches(const std::vector<PortRange>& ranges)
{
  std::vector<RuleMatch> out;
  std::vector<std::string> protos;
  for (const auto& r : ranges) {
    if (std::find(protos.begin(), protos.end(), r.proto) == protos.end()) {
      protos.push_back(r.proto);
    }
  }
  for (const auto& proto : protos) {
    // Sorted, overlapping and adjacent ranges merged: one canonical form,
    // which both backends write and read back the same.
    std::vector<PortSpan> spans;
    for (const auto& r : ranges) {
      if (r.proto == proto) {
        spans.push_back(PortSpan{r.first, r.last});
      }
    }
    std::sort(spans.begin(), spans.end(), [](const PortSpan& a, const PortSpan& b) {
      return a.first != b.first ? a.first < b.first : a.last < b.last;
    });
    std::vector<PortSpan> merged;
    for (const auto& p : spans) {
      if (!merged.empty() && p.first <= merged.back().last + 1) {
        merged.back().last = std::max(merged.back().last, p.last);
      } else {
        merged.push_back(p);
      }
    }
    RuleMatch m;
    int slots = 0;
    auto flush = [&] {
      if (!m.dports.empty()) {
        m.proto = proto;
        out.push_back(m);
        m = RuleMatch{};
        slots = 0;
      }
    };
    for (const auto& p : merged) {
      const int need = p.first == p.last ? 1 : 2;
      if (slots + need > k_multiport_slots) {
        flush();
      }
      m.dports.push_back(p);
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

// Hooks where packets the host sends itself arrive again, on the loopback
// interface: the reset or ICMP error of a connection the host's own
// firewall rejected carries the refused address as its source, so a drop
// by source there would turn every such reject into silence.
bool
sees_loopback(const Hook& h)
{
  return (h.chain == "PREROUTING" && (h.table == "raw" || h.table == "mangle")) || h.chain == "INPUT";
}

Rule
rule(RuleMatch match, Action action, std::string chain = {})
{
  Rule r;
  r.match = std::move(match);
  r.action = action;
  r.chain = std::move(chain);
  return r;
}

class Builder {
public:
  Builder(FirewallState& state, const RulesConfig& config, net::Family family)
      : m_state(state), m_config(config), m_family(family)
  {
  }

  void add(const std::string& table, const std::string& chain, bool own, Rule r)
  {
    for (auto& c : m_state.chains) {
      if (c.family == m_family && c.table == table && c.chain == chain) {
        c.rules.push_back(std::move(r));
        return;
      }
    }
    ChainState c;
    c.family = m_family;
    c.table = table;
    c.chain = chain;
    c.own = own;
    c.rules.push_back(std::move(r));
    m_state.chains.push_back(std::move(c));
  }

  bool has(const std::string& table, const std::string& chain) const
  {
    return m_state.chain(m_family, table, chain) != nullptr;
  }

  // One match per (interface, port group): "[in IF] [PROTO dport ...]".
  std::vector<RuleMatch> selectors(bool inbound) const
  {
    std::vector<std::optional<Interface>> ifaces;
    for (const auto& i : m_config.interfaces) {
      ifaces.push_back(Interface{i, false});
    }
    if (ifaces.empty()) {
      ifaces.push_back(std::nullopt);
    }
    std::vector<RuleMatch> ports = port_matches(m_config.ports);
    if (ports.empty()) {
      ports.push_back(RuleMatch{});
    }
    std::vector<RuleMatch> out;
    for (const auto& i : ifaces) {
      for (RuleMatch m : ports) {
        (inbound ? m.in : m.out) = i;
        out.push_back(std::move(m));
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
        RuleMatch m;
        m.proto = "ipv6-icmp";
        m.icmpv6_type = type;
        m.hop_limit = 255;
        add(table, chain, true, rule(m, Action::Return));
      }
    }
    for (const auto& m : port_matches(m_config.except_ports)) {
      add(table, chain, true, rule(m, Action::Return));
    }
    if (m_config.log) {
      RuleMatch m;
      m.limit = m_config.log_rate;
      Rule log = rule(m, Action::Log);
      log.log_prefix = m_config.log_prefix;
      add(table, chain, true, log);
    }
    if (verdict == Verdict::Drop) {
      add(table, chain, true, rule({}, Action::Drop));
      return;
    }
    // A reset ends a TCP connection attempt at once, also the host's own:
    // an ICMP error that reaches the connecting socket while connect()
    // still holds it only counts as a soft error, and the attempt then
    // waits for the next SYN (a second, and in IPv6 this happens every time).
    RuleMatch tcp;
    tcp.proto = "tcp";
    add(table, chain, true, rule(tcp, Action::TcpReset));
    add(table, chain, true, rule({}, Action::Reject));
  }

  // loopback, replies, the set, the allowlist: the returns an allow chain
  // starts with (inbound: sources; outbound: destinations).
  void allow_returns(const std::string& table, const std::string& chain, const std::string& set, bool inbound)
  {
    const Side side = inbound ? Side::Source : Side::Destination;
    RuleMatch lo;
    (inbound ? lo.in : lo.out) = Interface{"lo", false};
    add(table, chain, true, rule(lo, Action::Return));
    RuleMatch replies;
    replies.ct_states = k_ct_related | k_ct_established;
    add(table, chain, true, rule(replies, Action::Return));
    RuleMatch member;
    member.set = set;
    member.set_side = side;
    add(table, chain, true, rule(member, Action::Return));
    for (const auto& p : m_config.allowlist.v4) {
      if (m_family == net::Family::V4) {
        RuleMatch m;
        m.net4 = p;
        m.net_side = side;
        add(table, chain, true, rule(m, Action::Return));
      }
    }
    for (const auto& p : m_config.allowlist.v6) {
      if (m_family == net::Family::V6) {
        RuleMatch m;
        m.net6 = p;
        m.net_side = side;
        add(table, chain, true, rule(m, Action::Return));
      }
    }
  }

  void inbound(const std::string& set)
  {
    const std::string& base = m_config.set_name;
    for (const Hook& h : hooks_of(m_config)) {
      if (m_config.policy == Policy::Block) {
        const bool chained = drop_in_own_chain();
        const std::string chain = base + "-drop";
        const bool fresh = chained && !has(h.table, chain);
        for (RuleMatch m : selectors(true)) {
          // Packets on loopback are the host's own (see sees_loopback);
          // with interfaces configured, loopback is not among them anyway.
          if (!m.in && sees_loopback(h)) {
            m.in = Interface{"lo", true};
          }
          if (m_config.match == Match::New) {
            m.ct_states = k_ct_new;
          }
          m.set = set;
          m.set_side = Side::Source;
          add(h.table, h.chain, false, chained ? rule(m, Action::Jump, chain) : rule(m, Action::Drop));
        }
        if (fresh) {
          finish_chain(h.table, chain, Verdict::Drop);
        }
      } else {
        const std::string chain = base + "-allow";
        const bool fresh = !has(h.table, chain);
        for (const RuleMatch& m : selectors(true)) {
          add(h.table, h.chain, false, rule(m, Action::Jump, chain));
        }
        if (fresh) {
          // Order matters: loopback and replies first (cheap, and they keep
          // the host's own connections alive), then the allowed countries,
          // the allowlist, neighbour discovery (IPv6), the ports open to
          // all, then the drop.
          allow_returns(h.table, chain, set, true);
          finish_chain(h.table, chain, Verdict::Drop);
        }
      }
    }
  }

  // By source: in every hook, the lookup in the verdict map; every
  // source's own chain (once per table), whatever networks it has now, so
  // that its counters stay while its data changes.
  void classify(const std::string& map, const std::vector<SourceBlock>& sources)
  {
    for (const Hook& h : hooks_of(m_config)) {
      for (RuleMatch m : selectors(true)) {
        if (!m.in && sees_loopback(h)) {
          m.in = Interface{"lo", true};
        }
        if (m_config.match == Match::New) {
          m.ct_states = k_ct_new;
        }
        m.set = map;
        m.set_side = Side::Source;
        add(h.table, h.chain, false, rule(m, Action::Classify));
      }
      for (const SourceBlock& s : sources) {
        const std::string chain = source_chain(m_config.set_name, s.source);
        if (!has(h.table, chain)) {
          finish_source(h.table, chain, s.action);
        }
      }
    }
  }

  // A source's chain: neighbour discovery and except-ports return, the log
  // line (what is refused), then the action; the rules after the returns
  // count the source's packets.
  void finish_source(const std::string& table, const std::string& chain, const SourceAction& action)
  {
    switch (action.kind) {
    case SourceAction::Kind::Drop:
      finish_chain(table, chain, Verdict::Drop);
      return;
    case SourceAction::Kind::Reject:
      finish_chain(table, chain, Verdict::Reject);
      return;
    case SourceAction::Kind::Count:
      add(table, chain, true, rule({}, Action::Return));
      return;
    case SourceAction::Kind::Limit: {
      RuleMatch under;
      under.limit = action.rate;
      ChainState* c = nullptr;
      finish_chain(table, chain, Verdict::Drop);
      for (auto& cs : m_state.chains) {
        if (cs.family == m_family && cs.table == table && cs.chain == chain) {
          c = &cs;
        }
      }
      // Within the rate: on, before the log line and the drop.
      c->rules.insert(c->rules.end() - (m_config.log ? 2 : 1), rule(under, Action::Return));
      return;
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
        for (RuleMatch m : selectors(false)) {
          m.ct_states = k_ct_new;
          m.set = set;
          m.set_side = Side::Destination;
          add("filter", hook_chain, false, rule(m, Action::Jump, chain));
        }
        if (fresh) {
          finish_chain("filter", chain, Verdict::Reject);
        }
      } else {
        const std::string chain = base + "-allow-out";
        const bool fresh = !has("filter", chain);
        for (const RuleMatch& m : selectors(false)) {
          add("filter", hook_chain, false, rule(m, Action::Jump, chain));
        }
        if (fresh) {
          allow_returns("filter", chain, set, false);
          finish_chain("filter", chain, Verdict::Reject);
        }
      }
    }
  }

private:
  FirewallState& m_state;
  const RulesConfig& m_config;
  net::Family m_family;
};

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

Hook
parse_hook(std::string_view text)
{
  std::string table = "filter";
  std::string chain(text);
  if (const auto colon = text.find(':'); colon != std::string_view::npos) {
    table = std::string(text.substr(0, colon));
    chain = std::string(text.substr(colon + 1));
  }
  if (table == "ingress") {
    // nftables only: the netdev ingress hook of one interface.
    if (!valid_interface(chain) || chain.back() == '+') {
      throw ConfigError("unsupported chain '" + std::string(text) +
                        "': ingress:IFACE needs one interface name (no '+' wildcard)");
    }
    return {table, chain};
  }
  const bool ok = (table == "raw" && chain == "PREROUTING") || (table == "mangle" && chain == "PREROUTING") ||
                  (table == "filter" && (chain == "INPUT" || chain == "FORWARD" || chain == "DOCKER-USER"));
  if (!ok) {
    throw ConfigError("unsupported chain '" + std::string(text) +
                      "': use raw:PREROUTING, mangle:PREROUTING, INPUT, FORWARD, DOCKER-USER or (nftables) "
                      "ingress:IFACE");
  }
  return {table, chain};
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
source_chain(const std::string& set_name, const std::string& source)
{
  return set_name + "-src-" + source;
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

bool
by_source_possible(const RulesConfig& config)
{
  const std::vector<Hook> hooks = hooks_of(config);
  if (config.policy != Policy::Block || config.direction != Direction::In) {
    return false;
  }
  return std::all_of(hooks.begin(), hooks.end(),
                     [&](const Hook& h) { return h.table != "ingress" && h.table == hooks.front().table; });
}

FirewallState
desired_state_by_source(const std::vector<SourceBlock>& sources, const RulesConfig& config)
{
  const std::vector<Hook> hooks = hooks_of(config);
  if (!by_source_possible(config)) {
    throw ConfigError(
        "per-source actions (reject, count, limit in the countries list) work with policy block, "
        "direction in and chains of one table other than ingress:IFACE, for now");
  }
  FirewallState state;
  for (const auto f : {net::Family::V4, net::Family::V6}) {
    if (!net::includes(config.families, f)) {
      continue;
    }
    SetState map;
    map.name = set_name_for(config.set_name, f);
    map.family = f;
    map.verdict_map = true;
    for (const SourceBlock& s : sources) {
      MapPart part;
      part.table = hooks.front().table;
      part.chain = source_chain(config.set_name, s.source);
      if (f == net::Family::V4) {
        part.members.v4 = s.nets.v4;
      } else {
        part.members.v6 = s.nets.v6;
      }
      if (part.members.v4.empty() && part.members.v6.empty()) {
        continue;
      }
      map.members.v4.insert(map.members.v4.end(), part.members.v4.begin(), part.members.v4.end());
      map.members.v6.insert(map.members.v6.end(), part.members.v6.begin(), part.members.v6.end());
      map.parts.push_back(std::move(part));
    }
    std::sort(map.parts.begin(), map.parts.end(),
              [](const MapPart& a, const MapPart& b) { return a.chain < b.chain; });
    std::sort(map.members.v4.begin(), map.members.v4.end());
    std::sort(map.members.v6.begin(), map.members.v6.end());
    map.entries = map.members.v4.size() + map.members.v6.size();
    state.sets.push_back(std::move(map));
    Builder b(state, config, f);
    b.classify(state.sets.back().name, sources);
  }
  return state;
}

} // namespace geoblock::apply
