#include "apply/nft_rule.hpp"

#include "apply/state.hpp"
#include "core/error.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

namespace geoblock::apply {

namespace {

using nft::Expr;

std::vector<std::uint8_t>
ifname_bytes(const std::string& name)
{
  // "ppp+" is a wildcard: compare the prefix only. Otherwise the whole
  // 16-byte, NUL-padded name.
  if (!name.empty() && name.back() == '+') {
    return {name.begin(), name.end() - 1};
  }
  std::vector<std::uint8_t> out(16, 0);
  std::copy(name.begin(), name.end(), out.begin());
  return out;
}

std::string
ifname_of(const std::vector<std::uint8_t>& bytes)
{
  if (bytes.size() == 16 && bytes.back() == 0) {
    return std::string(bytes.begin(), std::find(bytes.begin(), bytes.end(), 0));
  }
  return std::string(bytes.begin(), bytes.end()) + "+";
}

constexpr std::pair<const char*, std::uint8_t> k_protos[] = {
    {"tcp", 6}, {"udp", 17}, {"sctp", 132}, {"ipv6-icmp", 58}};

std::uint8_t
proto_number(const std::string& proto)
{
  for (const auto& [name, number] : k_protos) {
    if (proto == name) {
      return number;
    }
  }
  throw RulesError("nftables: unknown protocol '" + proto + "'");
}

// ct state is a host-order u32 in the register.
std::vector<std::uint8_t>
u32_host_bytes(std::uint32_t v)
{
  std::vector<std::uint8_t> out(4);
  std::memcpy(out.data(), &v, 4);
  return out;
}

// Payload offset of the source or destination address.
std::uint32_t
addr_offset(net::Family family, Side side)
{
  if (family == net::Family::V4) {
    return side == Side::Source ? 12 : 16;
  }
  return side == Side::Source ? 8 : 24;
}

std::uint32_t
addr_len(net::Family family)
{
  return family == net::Family::V4 ? 4 : 16;
}

constexpr std::pair<const char*, std::uint64_t> k_units[] = {
    {"sec", 1}, {"min", 60}, {"hour", 3600}, {"day", 86400}};

// "10/min" (parse_rate's canonical form) as a rate and a unit in seconds.
std::pair<std::uint64_t, std::uint64_t>
rate_of(const std::string& limit)
{
  const auto slash = limit.find('/');
  std::uint64_t n = 0;
  std::from_chars(limit.data(), limit.data() + (slash == std::string::npos ? limit.size() : slash), n);
  const std::string unit = slash == std::string::npos ? std::string() : limit.substr(slash + 1);
  for (const auto& [name, seconds] : k_units) {
    if (unit == name) {
      return {n, seconds};
    }
  }
  throw RulesError("nftables: bad rate '" + limit + "'");
}

template <class A>
void
append_bytes(std::vector<std::uint8_t>& out, A value)
{
  for (int b = static_cast<int>(sizeof(A)) - 1; b >= 0; --b) {
    out.push_back(static_cast<std::uint8_t>(value >> (8 * b)));
  }
}

// Loads the address of `side` and compares it with the network.
void
net_match(std::vector<Expr>& x, net::Family family, Side side, const auto& prefix)
{
  using A = decltype(prefix.addr);
  std::vector<std::uint8_t> addr;
  std::vector<std::uint8_t> mask;
  append_bytes(addr, prefix.addr);
  append_bytes(mask, net::mask<A>(prefix.len));
  x.push_back(nft::payload_load(nft::PayloadBase::Network, addr_offset(family, side), addr_len(family)));
  if (prefix.len < net::kBits<A>) {
    x.push_back(nft::bitwise_mask(mask));
  }
  x.push_back(nft::cmp_eq(addr));
}

std::string
serialize(const nft::Set& set)
{
  std::vector<nft::Element> elements = set.elements;
  std::sort(elements.begin(), elements.end(), [](const nft::Element& a, const nft::Element& b) {
    return a.key != b.key ? a.key < b.key : a.interval_end > b.interval_end;
  });
  std::string out = "{";
  for (const auto& e : elements) {
    for (std::uint32_t i = 0; i < set.key_len && i < e.key.size(); ++i) {
      static const char* hex = "0123456789abcdef";
      out += hex[e.key[i] >> 4];
      out += hex[e.key[i] & 15];
    }
    out += e.interval_end ? "e," : ",";
  }
  return out + "}";
}

// A rule's expressions with anonymous set names replaced by their contents,
// so a rendered rule and a live one compare equal when they do the same.
std::vector<Expr>
normalized(const nft::Rule& rule, const std::map<std::string, const nft::Set*>& live_anonymous)
{
  std::vector<Expr> out = rule.exprs;
  std::size_t k = 0;
  for (auto& x : out) {
    x.offset = x.kind == Expr::Kind::Lookup ? 0 : x.offset;
    if (x.kind != Expr::Kind::Lookup || x.name.rfind("__set", 0) != 0) {
      continue;
    }
    if (const auto it = live_anonymous.find(x.name); it != live_anonymous.end()) {
      x.name = serialize(*it->second);
    } else if (k < rule.anonymous.size()) {
      x.name = serialize(rule.anonymous[k++]);
    }
  }
  return out;
}

// Port spans of an anonymous inet_service interval set.
std::optional<std::vector<PortSpan>>
ports_of(const nft::Set& set)
{
  std::vector<std::pair<int, bool>> keys;
  for (const auto& e : set.elements) {
    keys.emplace_back(e.key[0] << 8 | e.key[1], e.interval_end);
  }
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second > b.second;
  });
  std::vector<PortSpan> out;
  bool open = false;
  for (const auto& [key, end] : keys) {
    if (!end) {
      if (open) {
        return std::nullopt;
      }
      out.push_back(PortSpan{key, 65535});
      open = true;
    } else if (open) {
      out.back().last = key - 1;
      open = false;
    }
  }
  return out;
}

// The typed rule the expressions spell, loosely: read_rule() renders it
// again and keeps it only when that gives the same expressions.
std::optional<Rule>
parse(const nft::Rule& live, const NftPlace& place, const std::map<std::string, const nft::Set*>& anonymous)
{
  const auto& x = live.exprs;
  Rule r;
  RuleMatch& m = r.match;
  std::size_t i = 2; // after the family test, which the comparison checks
  auto at = [&](std::size_t k) -> const Expr* { return k < x.size() ? &x[k] : nullptr; };
  const Expr eq = nft::cmp_eq({});
  bool done = false;
  for (; i < x.size() && !done; ++i) {
    const Expr& e = x[i];
    const Expr* next = at(i + 1);
    switch (e.kind) {
    case Expr::Kind::Meta: {
      if (!next || next->kind != Expr::Kind::Cmp) {
        return std::nullopt;
      }
      if (e == nft::meta_load(nft::MetaKey::IifName) || e == nft::meta_load(nft::MetaKey::OifName)) {
        (e == nft::meta_load(nft::MetaKey::IifName) ? m.in : m.out) =
            Interface{ifname_of(next->data), next->op != eq.op};
      } else if (e == nft::meta_load(nft::MetaKey::L4Proto) && next->data.size() == 1) {
        for (const auto& [name, number] : k_protos) {
          if (number == next->data[0]) {
            m.proto = name;
          }
        }
      } else {
        return std::nullopt;
      }
      ++i;
      break;
    }
    case Expr::Kind::Payload: {
      if (!next) {
        return std::nullopt;
      }
      const bool transport = e == nft::payload_load(nft::PayloadBase::Transport, e.offset, e.len);
      const bool network = e == nft::payload_load(nft::PayloadBase::Network, e.offset, e.len);
      if (!transport && !network) {
        return std::nullopt;
      }
      if (transport && e.offset == 2 && e.len == 2) {
        if (next->kind == Expr::Kind::Lookup) {
          const auto it = anonymous.find(next->name);
          const auto spans = it == anonymous.end() ? std::nullopt : ports_of(*it->second);
          if (!spans) {
            return std::nullopt;
          }
          m.dports = *spans;
        } else if (next->data.size() == 2) {
          const int port = next->data[0] << 8 | next->data[1];
          m.dports = {PortSpan{port, port}};
        }
        ++i;
      } else if (transport && e.offset == 0 && e.len == 1 && next->data.size() == 1) {
        m.icmpv6_type = next->data[0];
        ++i;
      } else if (!transport && e.offset == 7 && e.len == 1 && next->data.size() == 1) {
        m.hop_limit = next->data[0];
        ++i;
      } else if (!transport && e.len == addr_len(place.family)) {
        const Side side =
            e.offset == addr_offset(place.family, Side::Source) ? Side::Source : Side::Destination;
        if (next->kind == Expr::Kind::Lookup) {
          m.set = next->name;
          m.set_side = side;
          ++i;
          if (next->verdict_map) {
            // `vmap @set`: the verdict comes from the map; the counter
            // after it counts what no source holds.
            r.action = Action::Classify;
            done = true;
          }
          break;
        }
        const Expr* cmp = next->kind == Expr::Kind::Bitwise ? at(i + 2) : next;
        if (!cmp || cmp->kind != Expr::Kind::Cmp || cmp->data.size() != e.len) {
          return std::nullopt;
        }
        int len = static_cast<int>(e.len) * 8;
        if (next->kind == Expr::Kind::Bitwise) {
          len = 0;
          for (const std::uint8_t b : next->data) {
            len += __builtin_popcount(b);
          }
        }
        m.net_side = side;
        if (place.family == net::Family::V4) {
          std::uint32_t a = 0;
          for (const std::uint8_t b : cmp->data) {
            a = a << 8 | b;
          }
          m.net4 = net::Prefix4{a, static_cast<std::uint8_t>(len)};
        } else {
          net::u128 a = 0;
          for (const std::uint8_t b : cmp->data) {
            a = a << 8 | b;
          }
          m.net6 = net::Prefix6{a, static_cast<std::uint8_t>(len)};
        }
        i += next->kind == Expr::Kind::Bitwise ? 2 : 1;
      } else {
        return std::nullopt;
      }
      break;
    }
    case Expr::Kind::Ct: {
      if (!next || next->kind != Expr::Kind::Bitwise || next->data.size() != 4) {
        return std::nullopt;
      }
      std::memcpy(&m.ct_states, next->data.data(), 4);
      i += 2;
      break;
    }
    case Expr::Kind::Limit: {
      std::string unit;
      for (const auto& [name, seconds] : k_units) {
        if (seconds == e.unit) {
          unit = name;
        }
      }
      m.limit = std::to_string(e.rate) + "/" + unit;
      m.limit_burst = static_cast<int>(e.burst);
      break;
    }
    case Expr::Kind::Counter:
      break;
    case Expr::Kind::Log:
      r.action = Action::Log;
      r.log_prefix = e.name;
      done = true;
      break;
    case Expr::Kind::Reject:
      r.action = e == nft::reject_tcp_reset() ? Action::TcpReset : Action::Reject;
      done = true;
      break;
    case Expr::Kind::Verdict:
      if (e == nft::verdict(nft::Verdict::Drop)) {
        r.action = Action::Drop;
      } else if (e == nft::verdict(nft::Verdict::Return)) {
        r.action = Action::Return;
      } else if (e.key == nft::verdict(nft::Verdict::Jump, "x").key) {
        // "raw-geoblock-drop-v4" -> "geoblock-drop"
        const std::string prefix = place.ip_table + "-";
        const std::string suffix = place.family == net::Family::V4 ? "-v4" : "-v6";
        if (e.name.size() <= prefix.size() + suffix.size() || e.name.rfind(prefix, 0) != 0) {
          return std::nullopt;
        }
        r.action = Action::Jump;
        r.chain = e.name.substr(prefix.size(), e.name.size() - prefix.size() - suffix.size());
      } else {
        return std::nullopt;
      }
      done = true;
      break;
    default:
      return std::nullopt;
    }
  }
  if (!done) {
    return std::nullopt;
  }
  return r;
}

} // namespace

std::string
nft_chain_name(net::Family family, const std::string& table, const std::string& chain)
{
  return table + "-" + chain + (family == net::Family::V4 ? "-v4" : "-v6");
}

nft::Rule
render_rule(const Rule& rule, const NftPlace& place)
{
  if (rule.action == Action::Unknown) {
    throw RulesError("nftables: cannot write a rule that is not geoblock's: " + rule.text);
  }
  nft::Rule out;
  out.family = place.table_family;
  out.table = place.table;
  out.chain = place.chain;
  out.comment = k_owner_tag;
  auto& x = out.exprs;
  // Every rule of a per-family chain first tests the family: inet base
  // chains see both, and a rule without an address match (in lo: return)
  // must not act on the other family.
  if (place.table_family == nft::Family::Netdev) {
    x.push_back(nft::meta_load(static_cast<nft::MetaKey>(1))); // NFT_META_PROTOCOL: the ethertype
    x.push_back(nft::cmp_eq(place.family == net::Family::V4 ? std::vector<std::uint8_t>{0x08, 0x00}
                                                            : std::vector<std::uint8_t>{0x86, 0xdd}));
  } else {
    x.push_back(nft::meta_load(nft::MetaKey::NfProto));
    x.push_back(nft::cmp_eq({static_cast<std::uint8_t>(place.family == net::Family::V4 ? 2 : 10)}));
  }
  const RuleMatch& m = rule.match;
  for (const auto& [iface, key] :
       {std::pair{&m.in, nft::MetaKey::IifName}, std::pair{&m.out, nft::MetaKey::OifName}}) {
    if (*iface) {
      x.push_back(nft::meta_load(key));
      x.push_back((*iface)->negated ? nft::cmp_neq(ifname_bytes((*iface)->name))
                                    : nft::cmp_eq(ifname_bytes((*iface)->name)));
    }
  }
  if (m.net4) {
    net_match(x, place.family, m.net_side, *m.net4);
  }
  if (m.net6) {
    net_match(x, place.family, m.net_side, *m.net6);
  }
  if (!m.proto.empty()) {
    if (m.proto == "ipv6-icmp" && place.family != net::Family::V6) {
      throw RulesError("nftables: ICMPv6 in an IPv4 rule");
    }
    x.push_back(nft::meta_load(nft::MetaKey::L4Proto));
    x.push_back(nft::cmp_eq({proto_number(m.proto)}));
  }
  if (!m.dports.empty()) {
    x.push_back(nft::payload_load(nft::PayloadBase::Transport, 2, 2));
    if (m.dports.size() == 1 && m.dports[0].first == m.dports[0].last) {
      const auto p = static_cast<std::uint16_t>(m.dports[0].first);
      x.push_back(nft::cmp_eq({static_cast<std::uint8_t>(p >> 8), static_cast<std::uint8_t>(p & 0xff)}));
    } else {
      nft::Set s;
      s.key_type = nft::KeyType::InetService;
      s.key_len = 2;
      s.interval = true;
      s.anonymous = true;
      std::vector<std::pair<int, int>> ranges;
      for (const auto& span : m.dports) {
        ranges.emplace_back(span.first, span.last);
      }
      s.elements = nft::port_elements(ranges);
      out.anonymous.push_back(std::move(s));
      x.push_back(nft::lookup("__set"));
    }
  }
  if (m.icmpv6_type) {
    x.push_back(nft::payload_load(nft::PayloadBase::Transport, 0, 1));
    x.push_back(nft::cmp_eq({static_cast<std::uint8_t>(*m.icmpv6_type)}));
  }
  if (m.hop_limit) {
    x.push_back(nft::payload_load(nft::PayloadBase::Network, 7, 1));
    x.push_back(nft::cmp_eq({static_cast<std::uint8_t>(*m.hop_limit)}));
  }
  if (m.ct_states != 0) {
    x.push_back(nft::ct_state_load());
    x.push_back(nft::bitwise_mask(u32_host_bytes(m.ct_states)));
    x.push_back(nft::cmp_neq({0, 0, 0, 0}));
  }
  if (!m.set.empty()) {
    x.push_back(nft::payload_load(nft::PayloadBase::Network, addr_offset(place.family, m.set_side),
                                  addr_len(place.family)));
    x.push_back(rule.action == Action::Classify ? nft::vmap_lookup(m.set) : nft::lookup(m.set));
  }
  if (!m.limit.empty()) {
    const auto [rate, unit] = rate_of(m.limit);
    x.push_back(nft::limit(rate, unit, static_cast<std::uint32_t>(m.limit_burst)));
  }
  x.push_back(nft::counter());
  switch (rule.action) {
  case Action::Drop:
    x.push_back(nft::verdict(nft::Verdict::Drop));
    break;
  case Action::Return:
    x.push_back(nft::verdict(nft::Verdict::Return));
    break;
  case Action::Jump:
    x.push_back(nft::verdict(nft::Verdict::Jump, nft_chain_name(place.family, place.ip_table, rule.chain)));
    break;
  case Action::Reject:
    x.push_back(nft::reject_port_unreachable());
    break;
  case Action::TcpReset:
    if (m.proto != "tcp") {
      throw RulesError("nftables: a TCP reset for a rule that does not match TCP");
    }
    x.push_back(nft::reject_tcp_reset());
    break;
  case Action::Log:
    x.push_back(nft::log(rule.log_prefix));
    break;
  case Action::Classify:
    if (m.set.empty()) {
      throw RulesError("nftables: a source lookup without its map");
    }
    break; // the map's verdict; the counter counts the packets of no source
  case Action::Unknown:
    break;
  }
  return out;
}

Rule
read_rule(const nft::Rule& live, const NftPlace& place,
          const std::map<std::string, const nft::Set*>& anonymous)
{
  if (const auto r = parse(live, place, anonymous)) {
    bool same = false;
    try {
      same = normalized(render_rule(*r, place), {}) == normalized(live, anonymous);
    } catch (const Error&) {
      // not expressible: not geoblock's
    }
    if (same && live.comment == k_owner_tag) {
      return *r;
    }
    Rule changed;
    changed.action = Action::Unknown;
    changed.text =
        describe(*r) +
        (same ? " [written by an older geoblock, with another comment]" : " [changed outside geoblock]") +
        " (handle " + std::to_string(live.handle) + ")";
    return changed;
  }
  Rule unknown;
  unknown.action = Action::Unknown;
  unknown.text = "[a rule geoblock does not write, handle " + std::to_string(live.handle) + "]";
  return unknown;
}

} // namespace geoblock::apply
