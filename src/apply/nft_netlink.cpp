#include "apply/nft_netlink.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

namespace geoblock::apply::nft {

static_assert(static_cast<std::uint32_t>(MetaKey::L4Proto) == NFT_META_L4PROTO);
static_assert(static_cast<std::uint32_t>(MetaKey::NfProto) == NFT_META_NFPROTO);
static_assert(static_cast<std::uint32_t>(MetaKey::IifName) == NFT_META_IIFNAME);
static_assert(static_cast<std::uint32_t>(MetaKey::OifName) == NFT_META_OIFNAME);
static_assert(static_cast<std::uint32_t>(PayloadBase::Network) == NFT_PAYLOAD_NETWORK_HEADER);
static_assert(static_cast<std::uint32_t>(PayloadBase::Transport) == NFT_PAYLOAD_TRANSPORT_HEADER);
static_assert(static_cast<std::int32_t>(Verdict::Accept) == NF_ACCEPT);
static_assert(static_cast<std::int32_t>(Verdict::Drop) == NF_DROP);
static_assert(static_cast<std::int32_t>(Verdict::Return) == NFT_RETURN);
static_assert(static_cast<std::int32_t>(Verdict::Jump) == NFT_JUMP);
static_assert(static_cast<int>(Family::Inet) == NFPROTO_INET &&
              static_cast<int>(Family::Netdev) == NFPROTO_NETDEV);

namespace {

// The largest message the batch builder writes for anything but element
// lists (a rule with a long comment and a few dozen expressions).
constexpr std::size_t k_max_message = 64 * 1024;
// Element lists travel in one nested attribute, whose length field has
// 16 bits: keep each message's list well below 64 KiB.
constexpr std::size_t k_elements_bytes = 48 * 1024;

struct TableDel {
  void operator()(nftnl_table* p) const { nftnl_table_free(p); }
};
struct SetDel {
  void operator()(nftnl_set* p) const { nftnl_set_free(p); }
};
struct ChainDel {
  void operator()(nftnl_chain* p) const { nftnl_chain_free(p); }
};
struct RuleDel {
  void operator()(nftnl_rule* p) const { nftnl_rule_free(p); }
};
struct ExprDel {
  void operator()(nftnl_expr* p) const { nftnl_expr_free(p); }
};
struct ExprIterDel {
  void operator()(nftnl_expr_iter* p) const { nftnl_expr_iter_destroy(p); }
};
struct UdataDel {
  void operator()(nftnl_udata_buf* p) const { nftnl_udata_buf_free(p); }
};
using TablePtr = std::unique_ptr<nftnl_table, TableDel>;
using SetPtr = std::unique_ptr<nftnl_set, SetDel>;
using ChainPtr = std::unique_ptr<nftnl_chain, ChainDel>;
using RulePtr = std::unique_ptr<nftnl_rule, RuleDel>;
using ExprPtr = std::unique_ptr<nftnl_expr, ExprDel>;

template <class T, class D>
std::unique_ptr<T, D>
checked(T* p)
{
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return std::unique_ptr<T, D>(p);
}

std::string
where(Family family, const std::string& table)
{
  return family_name(family) + " " + table;
}

std::string
kernel_error(int err)
{
  switch (err) {
  case ENOENT:
    return "No such file or directory (the table, chain or set does not exist)";
  case EEXIST:
    return "File exists";
  case EBUSY:
    return "Device or resource busy (still in use)";
  case EOPNOTSUPP:
    return "Operation not supported (kernel module missing?)";
  case EPERM:
    return "Operation not permitted (needs root / CAP_NET_ADMIN)";
  default:
    return std::strerror(err);
  }
}

template <class A>
void
put_key(Element& e, A value)
{
  // Network byte order, most significant byte first.
  constexpr int n = sizeof(A);
  for (int i = n - 1; i >= 0; --i) {
    e.key[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(value & 0xff);
    value = static_cast<A>(value >> 8);
  }
}

template <class A>
A
get_key(const Element& e)
{
  A v = 0;
  for (std::size_t i = 0; i < sizeof(A); ++i) {
    v = static_cast<A>((v << 8) | e.key[i]);
  }
  return v;
}

template <class A>
std::vector<Element>
intervals(const std::vector<net::Prefix<A>>& nets)
{
  std::vector<Element> out;
  out.reserve(nets.size() * 2);
  for (const auto& p : nets) {
    Element start;
    put_key(start, p.first());
    out.push_back(start);
    const A last = p.last();
    if (last != static_cast<A>(~A{0})) {
      // The end element sits at the first address after the network. For
      // adjacent networks it shares its key with the next start element,
      // exactly as nft itself encodes them.
      Element end;
      put_key(end, static_cast<A>(last + 1));
      end.interval_end = true;
      out.push_back(end);
    }
  }
  return out;
}

// Minimal CIDR cover of [first, last].
template <class A>
void
range_to_prefixes(A first, A last, std::vector<net::Prefix<A>>& out)
{
  constexpr int bits = net::kBits<A>;
  while (true) {
    int len = bits;
    // Grow the block while it stays aligned and inside the range.
    while (len > 0) {
      const int host = bits - (len - 1);
      const A size_mask = host >= bits ? static_cast<A>(~A{0}) : static_cast<A>((A{1} << host) - 1);
      if ((first & size_mask) != 0 || static_cast<A>(first | size_mask) > last) {
        break;
      }
      --len;
    }
    out.push_back(net::Prefix<A>{first, static_cast<std::uint8_t>(len)});
    const A end = net::Prefix<A>{first, static_cast<std::uint8_t>(len)}.last();
    if (end >= last) {
      return;
    }
    first = static_cast<A>(end + 1);
  }
}

template <class A>
void
decode(const std::vector<Element>& elements, std::vector<net::Prefix<A>>& out)
{
  std::vector<std::pair<A, bool>> keys; // (key, is_end)
  keys.reserve(elements.size());
  for (const auto& e : elements) {
    keys.emplace_back(get_key<A>(e), e.interval_end);
  }
  // At equal keys the end of one interval comes before the start of the next.
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second > b.second;
  });
  out.clear();
  bool open = false;
  A start = 0;
  for (const auto& [key, end] : keys) {
    if (!end) {
      if (open) {
        throw RulesError("nftables: interval set holds two start elements in a row");
      }
      open = true;
      start = key;
    } else if (open) {
      if (key == start) {
        throw RulesError("nftables: interval set holds an empty interval");
      }
      // Each interval on its own: adjacent networks written as separate
      // intervals (an end and a start at one key) come back as written.
      range_to_prefixes(start, static_cast<A>(key - 1), out);
      open = false;
    }
    // An end element without a start (nft's leading 0 end) is no interval.
  }
  if (open) {
    range_to_prefixes(start, static_cast<A>(~A{0}), out);
  }
}

template <class A>
std::vector<Element>
map_intervals(const std::vector<std::pair<std::string, std::vector<net::Prefix<A>>>>& sources)
{
  std::vector<Element> out;
  for (const auto& [chain, nets] : sources) {
    for (Element e : intervals(nets)) {
      if (!e.interval_end) {
        e.jump = chain;
      }
      out.push_back(std::move(e));
    }
  }
  // Key order; at equal keys the end of one interval before the start of
  // the next, as decode() and intervals_of() read them.
  std::stable_sort(out.begin(), out.end(), [](const Element& a, const Element& b) {
    return a.key != b.key ? a.key < b.key : a.interval_end > b.interval_end;
  });
  return out;
}

template <class A>
void
decode_map_intervals(const std::vector<Element>& elements,
                     std::vector<std::pair<std::string, std::vector<net::Prefix<A>>>>& out)
{
  // Each interval decoded on its own, with its start's chain.
  std::vector<Element> sorted = elements;
  std::sort(sorted.begin(), sorted.end(), [](const Element& a, const Element& b) {
    return a.key != b.key ? a.key < b.key : a.interval_end > b.interval_end;
  });
  std::map<std::string, std::vector<net::Prefix<A>>> by_chain;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].interval_end) {
      continue; // an end without a start is no interval (decode() says the same)
    }
    std::vector<Element> one = {sorted[i]};
    if (i + 1 < sorted.size() && sorted[i + 1].interval_end) {
      one.push_back(sorted[i + 1]);
    } else if (i + 1 < sorted.size()) {
      throw RulesError("nftables: interval map holds two start elements in a row");
    }
    std::vector<net::Prefix<A>> nets;
    decode(one, nets);
    auto& dest = by_chain[sorted[i].jump];
    dest.insert(dest.end(), nets.begin(), nets.end());
  }
  out.clear();
  for (auto& [chain, nets] : by_chain) {
    std::sort(nets.begin(), nets.end());
    out.emplace_back(chain, std::move(nets));
  }
}

} // namespace

std::vector<Element>
map_elements(const MapSources4& sources)
{
  return map_intervals(sources);
}
std::vector<Element>
map_elements(const MapSources6& sources)
{
  return map_intervals(sources);
}
void
decode_map(const std::vector<Element>& elements, MapSources4& out)
{
  decode_map_intervals(elements, out);
}
void
decode_map(const std::vector<Element>& elements, MapSources6& out)
{
  decode_map_intervals(elements, out);
}

std::string
family_name(Family family)
{
  switch (family) {
  case Family::Inet:
    return "inet";
  case Family::Ip:
    return "ip";
  case Family::Ip6:
    return "ip6";
  case Family::Arp:
    return "arp";
  case Family::Bridge:
    return "bridge";
  case Family::Netdev:
    return "netdev";
  }
  return "family " + std::to_string(static_cast<int>(family));
}

std::vector<Element>
interval_elements(const std::vector<net::Prefix4>& nets)
{
  return intervals(nets);
}
std::vector<Element>
interval_elements(const std::vector<net::Prefix6>& nets)
{
  return intervals(nets);
}
void
decode_intervals(const std::vector<Element>& elements, std::vector<net::Prefix4>& out)
{
  decode(elements, out);
}
void
decode_intervals(const std::vector<Element>& elements, std::vector<net::Prefix6>& out)
{
  decode(elements, out);
}

namespace {

// An interval of an interval set: its start element and, unless it runs to
// the top of the address space, its end element.
struct Interval {
  Element start;
  std::optional<Element> end;
  friend bool operator==(const Interval&, const Interval&) = default;
};

bool
interval_less(const Interval& a, const Interval& b)
{
  if (a.start.key != b.start.key) {
    return a.start.key < b.start.key;
  }
  if (a.end.has_value() != b.end.has_value()) {
    return b.end.has_value();
  }
  if (a.end.has_value() && a.end->key != b.end->key) {
    return a.end->key < b.end->key;
  }
  return a.start.jump < b.start.jump; // a verdict map's: the same interval to another chain differs
}

// The intervals the elements encode, ascending; nullopt when they are no
// clean encoding of disjoint intervals.
std::optional<std::vector<Interval>>
intervals_of(std::vector<Element> elements)
{
  // At equal keys the end of one interval comes before the start of the next.
  std::sort(elements.begin(), elements.end(), [](const Element& a, const Element& b) {
    return a.key != b.key ? a.key < b.key : a.interval_end > b.interval_end;
  });
  std::vector<Interval> out;
  bool open = false;
  for (const auto& e : elements) {
    if (!e.interval_end) {
      if (open) {
        return std::nullopt;
      }
      out.push_back(Interval{e, std::nullopt});
      open = true;
    } else {
      if (!open || e.key == out.back().start.key) {
        return std::nullopt;
      }
      out.back().end = e;
      open = false;
    }
  }
  return out;
}

void
append_intervals(const std::vector<Interval>& intervals, std::vector<Element>& out)
{
  for (const auto& i : intervals) {
    out.push_back(i.start);
    if (i.end) {
      out.push_back(*i.end);
    }
  }
}

} // namespace

IntervalDelta
interval_delta(const std::vector<Element>& live, const std::vector<Element>& want)
{
  IntervalDelta d;
  const auto have = intervals_of(live);
  const auto wanted = intervals_of(want);
  if (!wanted) {
    throw RulesError("nftables: the desired set is no valid interval encoding");
  }
  if (have) {
    std::vector<Interval> stale;
    std::vector<Interval> fresh;
    std::set_difference(have->begin(), have->end(), wanted->begin(), wanted->end(), std::back_inserter(stale),
                        interval_less);
    std::set_difference(wanted->begin(), wanted->end(), have->begin(), have->end(), std::back_inserter(fresh),
                        interval_less);
    append_intervals(stale, d.remove);
    append_intervals(fresh, d.add);
    if (d.remove.size() + d.add.size() <= want.size()) {
      return d;
    }
  }
  d.replace = true;
  d.remove.clear();
  d.add.clear();
  append_intervals(*wanted, d.add);
  return d;
}

std::vector<Element>
port_elements(const std::vector<std::pair<int, int>>& ranges)
{
  std::vector<std::pair<int, int>> sorted = ranges;
  std::sort(sorted.begin(), sorted.end());
  // Overlapping or adjacent ranges as one interval ("tcp:79-81,tcp:80"):
  // the kernel refuses overlapping elements.
  std::vector<std::pair<int, int>> merged;
  for (const auto& r : sorted) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  std::vector<Element> out;
  for (const auto& [first, last] : merged) {
    Element s;
    put_key(s, static_cast<std::uint16_t>(first));
    out.push_back(s);
    if (last < 65535) {
      Element e;
      put_key(e, static_cast<std::uint16_t>(last + 1));
      e.interval_end = true;
      out.push_back(e);
    }
  }
  return out;
}

Expr
meta_load(MetaKey key)
{
  Expr e;
  e.kind = Expr::Kind::Meta;
  e.key = static_cast<std::uint32_t>(key);
  e.reg = NFT_REG_1;
  return e;
}

Expr
cmp_eq(std::vector<std::uint8_t> data)
{
  Expr e;
  e.kind = Expr::Kind::Cmp;
  e.reg = NFT_REG_1;
  e.op = NFT_CMP_EQ;
  e.data = std::move(data);
  return e;
}

Expr
cmp_neq(std::vector<std::uint8_t> data)
{
  Expr e = cmp_eq(std::move(data));
  e.op = NFT_CMP_NEQ;
  return e;
}

Expr
payload_load(PayloadBase base, std::uint32_t offset, std::uint32_t len)
{
  Expr e;
  e.kind = Expr::Kind::Payload;
  e.key = static_cast<std::uint32_t>(base);
  e.reg = NFT_REG_1;
  e.offset = offset;
  e.len = len;
  return e;
}

Expr
bitwise_mask(std::vector<std::uint8_t> mask)
{
  Expr e;
  e.kind = Expr::Kind::Bitwise;
  e.reg = NFT_REG_1;
  e.len = static_cast<std::uint32_t>(mask.size());
  e.xor_.assign(mask.size(), 0);
  e.data = std::move(mask);
  return e;
}

Expr
lookup(const std::string& set, std::uint32_t set_id)
{
  Expr e;
  e.kind = Expr::Kind::Lookup;
  e.reg = NFT_REG_1;
  e.name = set;
  e.offset = set_id; // batch only; not read back
  return e;
}

Expr
vmap_lookup(const std::string& set, std::uint32_t set_id)
{
  Expr e = lookup(set, set_id);
  e.verdict_map = true;
  return e;
}

Expr
ct_state_load()
{
  Expr e;
  e.kind = Expr::Kind::Ct;
  e.key = NFT_CT_STATE;
  e.reg = NFT_REG_1;
  return e;
}

Expr
counter()
{
  Expr e;
  e.kind = Expr::Kind::Counter;
  return e;
}

Expr
limit(std::uint64_t rate, std::uint64_t unit_seconds, std::uint32_t burst)
{
  Expr e;
  e.kind = Expr::Kind::Limit;
  e.rate = rate;
  e.unit = unit_seconds;
  e.burst = burst;
  return e;
}

Expr
log(const std::string& prefix)
{
  Expr e;
  e.kind = Expr::Kind::Log;
  e.name = prefix;
  return e;
}

Expr
reject_tcp_reset()
{
  Expr e;
  e.kind = Expr::Kind::Reject;
  e.key = NFT_REJECT_TCP_RST;
  return e;
}

Expr
reject_port_unreachable()
{
  Expr e;
  e.kind = Expr::Kind::Reject;
  e.key = NFT_REJECT_ICMPX_UNREACH;
  e.op = NFT_REJECT_ICMPX_PORT_UNREACH;
  return e;
}

Expr
verdict(Verdict v, const std::string& chain)
{
  Expr e;
  e.kind = Expr::Kind::Verdict;
  e.key = static_cast<std::uint32_t>(static_cast<std::int32_t>(v));
  e.reg = NFT_REG_VERDICT;
  e.name = chain;
  return e;
}

namespace {

ExprPtr
build_expr(const Expr& x)
{
  const auto make = [](const char* name) { return checked<nftnl_expr, ExprDel>(nftnl_expr_alloc(name)); };
  ExprPtr e;
  switch (x.kind) {
  case Expr::Kind::Meta:
    e = make("meta");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, x.key);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_DREG, x.reg);
    break;
  case Expr::Kind::Cmp:
    e = make("cmp");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_SREG, x.reg);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_OP, x.op);
    nftnl_expr_set(e.get(), NFTNL_EXPR_CMP_DATA, x.data.data(), static_cast<std::uint32_t>(x.data.size()));
    break;
  case Expr::Kind::Payload:
    e = make("payload");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_DREG, x.reg);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_BASE, x.key);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_OFFSET, x.offset);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_LEN, x.len);
    break;
  case Expr::Kind::Bitwise:
    e = make("bitwise");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_SREG, x.reg);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_DREG, x.reg);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_LEN, x.len);
    nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_MASK, x.data.data(),
                   static_cast<std::uint32_t>(x.data.size()));
    nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_XOR, x.xor_.data(), static_cast<std::uint32_t>(x.xor_.size()));
    break;
  case Expr::Kind::Lookup:
    e = make("lookup");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SREG, x.reg);
    nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOOKUP_SET, x.name.c_str());
    if (x.offset != 0) {
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SET_ID, x.offset);
    }
    if (x.op != 0) {
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_FLAGS, x.op);
    }
    if (x.verdict_map) {
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
    }
    break;
  case Expr::Kind::Ct:
    e = make("ct");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_KEY, x.key);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_DREG, x.reg);
    break;
  case Expr::Kind::Counter:
    e = make("counter");
    break;
  case Expr::Kind::Limit:
    e = make("limit");
    nftnl_expr_set_u64(e.get(), NFTNL_EXPR_LIMIT_RATE, x.rate);
    nftnl_expr_set_u64(e.get(), NFTNL_EXPR_LIMIT_UNIT, x.unit);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LIMIT_BURST, x.burst);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LIMIT_FLAGS, 0);
    break;
  case Expr::Kind::Log:
    e = make("log");
    nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOG_PREFIX, x.name.c_str());
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOG_LEVEL, 4); // warning, as iptables' LOG
    break;
  case Expr::Kind::Reject:
    e = make("reject");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_REJECT_TYPE, x.key);
    nftnl_expr_set_u8(e.get(), NFTNL_EXPR_REJECT_CODE, static_cast<std::uint8_t>(x.op));
    break;
  case Expr::Kind::Verdict:
    e = make("immediate");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, x.key);
    if (!x.name.empty()) {
      nftnl_expr_set_str(e.get(), NFTNL_EXPR_IMM_CHAIN, x.name.c_str());
    }
    break;
  case Expr::Kind::Other:
    throw RulesError("nftables: cannot write expression '" + x.name + "'");
  }
  return e;
}

std::vector<std::uint8_t>
bytes_of(const nftnl_expr* e, std::uint16_t attr)
{
  std::uint32_t len = 0;
  const void* p = nftnl_expr_get(e, attr, &len);
  if (p == nullptr) {
    return {};
  }
  const auto* b = static_cast<const std::uint8_t*>(p);
  return {b, b + len};
}

std::uint32_t
u32_of(const nftnl_expr* e, std::uint16_t attr)
{
  return nftnl_expr_is_set(e, attr) ? nftnl_expr_get_u32(e, attr) : 0;
}

Expr
read_expr(const nftnl_expr* e, Rule& rule)
{
  const std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  Expr x;
  if (name == "meta" && nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG)) {
    x.kind = Expr::Kind::Meta;
    x.key = u32_of(e, NFTNL_EXPR_META_KEY);
    x.reg = u32_of(e, NFTNL_EXPR_META_DREG);
  } else if (name == "cmp") {
    x.kind = Expr::Kind::Cmp;
    x.reg = u32_of(e, NFTNL_EXPR_CMP_SREG);
    x.op = u32_of(e, NFTNL_EXPR_CMP_OP);
    x.data = bytes_of(e, NFTNL_EXPR_CMP_DATA);
  } else if (name == "payload" && nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_DREG)) {
    x.kind = Expr::Kind::Payload;
    x.reg = u32_of(e, NFTNL_EXPR_PAYLOAD_DREG);
    x.key = u32_of(e, NFTNL_EXPR_PAYLOAD_BASE);
    x.offset = u32_of(e, NFTNL_EXPR_PAYLOAD_OFFSET);
    x.len = u32_of(e, NFTNL_EXPR_PAYLOAD_LEN);
  } else if (name == "bitwise" && u32_of(e, NFTNL_EXPR_BITWISE_OP) == NFT_BITWISE_BOOL &&
             u32_of(e, NFTNL_EXPR_BITWISE_SREG) == u32_of(e, NFTNL_EXPR_BITWISE_DREG)) {
    x.kind = Expr::Kind::Bitwise;
    x.reg = u32_of(e, NFTNL_EXPR_BITWISE_SREG);
    x.len = u32_of(e, NFTNL_EXPR_BITWISE_LEN);
    x.data = bytes_of(e, NFTNL_EXPR_BITWISE_MASK);
    x.xor_ = bytes_of(e, NFTNL_EXPR_BITWISE_XOR);
  } else if (name == "lookup") {
    x.kind = Expr::Kind::Lookup;
    x.reg = u32_of(e, NFTNL_EXPR_LOOKUP_SREG);
    x.name = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_SET) ? nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET) : "";
    x.op = u32_of(e, NFTNL_EXPR_LOOKUP_FLAGS);
    if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG)) {
      if (u32_of(e, NFTNL_EXPR_LOOKUP_DREG) == NFT_REG_VERDICT) {
        x.verdict_map = true; // vmap
      } else {
        x.kind = Expr::Kind::Other; // a data map's lookup: not geoblock's
      }
    }
  } else if (name == "ct" && nftnl_expr_is_set(e, NFTNL_EXPR_CT_DREG)) {
    x.kind = Expr::Kind::Ct;
    x.key = u32_of(e, NFTNL_EXPR_CT_KEY);
    x.reg = u32_of(e, NFTNL_EXPR_CT_DREG);
    if (nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR)) {
      x.kind = Expr::Kind::Other;
    }
  } else if (name == "counter") {
    x.kind = Expr::Kind::Counter;
    rule.packets += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
    rule.bytes += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
  } else if (name == "limit" && u32_of(e, NFTNL_EXPR_LIMIT_TYPE) == NFT_LIMIT_PKTS &&
             u32_of(e, NFTNL_EXPR_LIMIT_FLAGS) == 0) {
    x.kind = Expr::Kind::Limit;
    x.rate = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE);
    x.unit = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_UNIT);
    x.burst = u32_of(e, NFTNL_EXPR_LIMIT_BURST);
  } else if (name == "log" && !nftnl_expr_is_set(e, NFTNL_EXPR_LOG_GROUP) &&
             u32_of(e, NFTNL_EXPR_LOG_LEVEL) == 4 && u32_of(e, NFTNL_EXPR_LOG_FLAGS) == 0) {
    x.kind = Expr::Kind::Log;
    x.name = nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX) ? nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX) : "";
  } else if (name == "reject") {
    x.kind = Expr::Kind::Reject;
    x.key = u32_of(e, NFTNL_EXPR_REJECT_TYPE);
    x.op = nftnl_expr_is_set(e, NFTNL_EXPR_REJECT_CODE) ? nftnl_expr_get_u8(e, NFTNL_EXPR_REJECT_CODE) : 0;
  } else if (name == "immediate" && u32_of(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT) {
    x.kind = Expr::Kind::Verdict;
    x.reg = NFT_REG_VERDICT;
    x.key = u32_of(e, NFTNL_EXPR_IMM_VERDICT);
    x.name = nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN) ? nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN) : "";
  } else {
    x.kind = Expr::Kind::Other;
  }
  if (x.kind == Expr::Kind::Other) {
    x = Expr{};
    x.name = name;
  }
  return x;
}

int
udata_comment_cb(const nftnl_udata* attr, void* data)
{
  if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT) {
    const auto* p = static_cast<const char*>(nftnl_udata_get(attr));
    const std::uint8_t len = nftnl_udata_len(attr);
    std::string s(p, len);
    if (!s.empty() && s.back() == '\0') {
      s.pop_back();
    }
    *static_cast<std::string*>(data) = s;
  }
  return MNL_CB_OK;
}

} // namespace

// ---------------------------------------------------------------- Batch

Batch::Batch()
{
  m_buf.resize(k_max_message);
  m_seq = 1;
  nftnl_batch_begin(m_buf.data(), m_seq++);
  m_used = NLMSG_ALIGN(reinterpret_cast<nlmsghdr*>(m_buf.data())->nlmsg_len);
  m_first_seq = m_seq;
}

Batch::~Batch() = default;

char*
Batch::reserve(std::size_t max)
{
  if (m_buf.size() < m_used + max) {
    m_buf.resize(std::max(m_buf.size() * 2, m_used + max));
  }
  std::memset(m_buf.data() + m_used, 0, sizeof(nlmsghdr));
  return m_buf.data() + m_used;
}

void
Batch::commit_message(const std::string& what)
{
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(m_buf.data() + m_used);
  m_what.emplace_back(nlh->nlmsg_seq, what);
  m_used += NLMSG_ALIGN(nlh->nlmsg_len);
  ++m_messages;
}

void
Batch::add_table(const Table& table)
{
  auto t = checked<nftnl_table, TableDel>(nftnl_table_alloc());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, static_cast<std::uint32_t>(table.family));
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.name.c_str());
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(reserve(k_max_message), NFT_MSG_NEWTABLE,
                            static_cast<std::uint16_t>(table.family), NLM_F_CREATE | NLM_F_ACK, next_seq());
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  commit_message("table " + where(table.family, table.name));
}

void
Batch::delete_table(const Table& table)
{
  auto t = checked<nftnl_table, TableDel>(nftnl_table_alloc());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, static_cast<std::uint32_t>(table.family));
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.name.c_str());
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reserve(k_max_message), NFT_MSG_DELTABLE,
                                        static_cast<std::uint16_t>(table.family), NLM_F_ACK, next_seq());
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  commit_message("deleting table " + where(table.family, table.name));
}

namespace {

SetPtr
set_object(const Set& set)
{
  auto s = checked<nftnl_set, SetDel>(nftnl_set_alloc());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, static_cast<std::uint32_t>(set.family));
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, set.table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.name.c_str());
  if (set.id != 0) {
    nftnl_set_set_u32(s.get(), NFTNL_SET_ID, set.id);
  }
  return s;
}

} // namespace

void
Batch::add_set(const Set& set)
{
  // The kernel wants an id on every new set (rules of the same batch may
  // refer to it by that id).
  auto s = set_object(set);
  if (set.id == 0) {
    nftnl_set_set_u32(s.get(), NFTNL_SET_ID, ++m_next_anon);
  }
  std::uint32_t flags = set.interval ? NFT_SET_INTERVAL : 0;
  if (set.anonymous) {
    flags |= NFT_SET_ANONYMOUS | NFT_SET_CONSTANT;
  }
  if (set.verdict_map) {
    flags |= NFT_SET_MAP;
    // The kernel sizes a verdict's data itself.
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
  }
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, flags);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, static_cast<std::uint32_t>(set.key_type));
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, set.key_len);
  if (set.anonymous) {
    nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, static_cast<std::uint32_t>(set.elements.size()));
  }
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(reserve(k_max_message), NFT_MSG_NEWSET, static_cast<std::uint16_t>(set.family),
                            NLM_F_CREATE | NLM_F_ACK, next_seq());
  nftnl_set_nlmsg_build_payload(nlh, s.get());
  commit_message("set " + set.name + " in " + where(set.family, set.table));
  if (!set.elements.empty()) {
    add_elements(set, set.elements);
  }
}

void
Batch::elements(int type, const Set& set, const std::vector<Element>& elements, const std::string& verb)
{
  // Written with libmnl directly: one nftnl_set_elem object per element
  // would cost an allocation each for world-sized sets.
  std::size_t longest_jump = 0;
  for (const Element& e : elements) {
    longest_jump = std::max(longest_jump, e.jump.size());
  }
  const std::size_t per_element = set.key_len + 40 + (longest_jump == 0 ? 0 : longest_jump + 32);
  // An even count: an interval's start and end never straddle two
  // messages (lists of whole intervals start each one at an even index).
  const std::size_t chunk = std::max<std::size_t>(2, k_elements_bytes / per_element / 2 * 2);
  for (std::size_t from = 0; from < elements.size(); from += chunk) {
    const std::size_t to = std::min(elements.size(), from + chunk);
    const std::uint16_t flags = to == elements.size() ? NLM_F_CREATE | NLM_F_ACK : NLM_F_CREATE;
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reserve(k_max_message), static_cast<std::uint16_t>(type),
                                          static_cast<std::uint16_t>(set.family), flags, next_seq());
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, set.table.c_str());
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set.name.c_str());
    if (set.id != 0) {
      mnl_attr_put_u32(nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(set.id));
    }
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
    for (std::size_t i = from; i < to; ++i) {
      nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
      nlattr* key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
      mnl_attr_put(nlh, NFTA_DATA_VALUE, set.key_len, elements[i].key.data());
      mnl_attr_nest_end(nlh, key);
      if (elements[i].interval_end) {
        mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
      }
      if (type == NFT_MSG_NEWSETELEM && !elements[i].jump.empty()) {
        // DATA > VERDICT > CODE (jump), CHAIN.
        nlattr* data = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
        nlattr* verdict = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
        mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(static_cast<std::uint32_t>(NFT_JUMP)));
        mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, elements[i].jump.c_str());
        mnl_attr_nest_end(nlh, verdict);
        mnl_attr_nest_end(nlh, data);
      }
      mnl_attr_nest_end(nlh, elem);
    }
    mnl_attr_nest_end(nlh, list);
    commit_message("set " + set.name + " in " + where(set.family, set.table) + " (" + verb + " elements " +
                   std::to_string(from) + ".." + std::to_string(to - 1) + ")");
  }
}

void
Batch::add_elements(const Set& set, const std::vector<Element>& elements)
{
  this->elements(NFT_MSG_NEWSETELEM, set, elements, "adding");
}

void
Batch::delete_elements(const Set& set, const std::vector<Element>& elements)
{
  this->elements(NFT_MSG_DELSETELEM, set, elements, "deleting");
}

void
Batch::flush_set(const Set& set)
{
  // DELSETELEM without an element list flushes the set.
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reserve(k_max_message), NFT_MSG_DELSETELEM,
                                        static_cast<std::uint16_t>(set.family), NLM_F_ACK, next_seq());
  mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, set.table.c_str());
  mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set.name.c_str());
  commit_message("flushing set " + set.name + " in " + where(set.family, set.table));
}

void
Batch::delete_set(const Set& set)
{
  auto s = set_object(set);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reserve(k_max_message), NFT_MSG_DELSET,
                                        static_cast<std::uint16_t>(set.family), NLM_F_ACK, next_seq());
  nftnl_set_nlmsg_build_payload(nlh, s.get());
  commit_message("deleting set " + set.name + " in " + where(set.family, set.table));
}

namespace {

ChainPtr
chain_object(const Chain& chain)
{
  auto c = checked<nftnl_chain, ChainDel>(nftnl_chain_alloc());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, static_cast<std::uint32_t>(chain.family));
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, chain.table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
  return c;
}

} // namespace

void
Batch::add_chain(const Chain& chain)
{
  auto c = chain_object(chain);
  if (chain.hook) {
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, chain.hook->hooknum);
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, chain.hook->priority);
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, chain.hook->type.c_str());
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, chain.hook->policy_accept ? NF_ACCEPT : NF_DROP);
    if (!chain.hook->device.empty()) {
      nftnl_chain_set_str(c.get(), NFTNL_CHAIN_DEV, chain.hook->device.c_str());
    }
  }
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(reserve(k_max_message), NFT_MSG_NEWCHAIN,
                            static_cast<std::uint16_t>(chain.family), NLM_F_CREATE | NLM_F_ACK, next_seq());
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  commit_message("chain " + chain.name + " in " + where(chain.family, chain.table));
}

void
Batch::flush_chain(const Chain& chain)
{
  auto r = checked<nftnl_rule, RuleDel>(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, static_cast<std::uint32_t>(chain.family));
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, chain.table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.name.c_str());
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reserve(k_max_message), NFT_MSG_DELRULE,
                                        static_cast<std::uint16_t>(chain.family), NLM_F_ACK, next_seq());
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  commit_message("flushing chain " + chain.name + " in " + where(chain.family, chain.table));
}

void
Batch::delete_chain(const Chain& chain)
{
  auto c = chain_object(chain);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reserve(k_max_message), NFT_MSG_DELCHAIN,
                                        static_cast<std::uint16_t>(chain.family), NLM_F_ACK, next_seq());
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  commit_message("deleting chain " + chain.name + " in " + where(chain.family, chain.table));
}

void
Batch::add_rule(const Rule& rule)
{
  // Anonymous sets first, each with a batch-local id the lookup refers to.
  std::vector<std::uint32_t> ids;
  for (const Set& s : rule.anonymous) {
    Set copy = s;
    copy.family = rule.family;
    copy.table = rule.table;
    copy.anonymous = true;
    copy.name = "__set%d";
    copy.id = ++m_next_anon;
    ids.push_back(copy.id);
    add_set(copy);
  }
  auto r = checked<nftnl_rule, RuleDel>(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, static_cast<std::uint32_t>(rule.family));
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, rule.table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, rule.chain.c_str());
  std::size_t anon = 0;
  for (const Expr& x : rule.exprs) {
    ExprPtr e;
    if (x.kind == Expr::Kind::Lookup && x.name.rfind("__set", 0) == 0) {
      if (anon >= ids.size()) {
        throw RulesError("nftables: rule in chain " + rule.chain + " names more anonymous sets than it has");
      }
      Expr y = x;
      y.name = "__set%d";
      y.offset = ids[anon++];
      e = build_expr(y);
    } else {
      e = build_expr(x);
    }
    nftnl_rule_add_expr(r.get(), e.release()); // the rule owns it now
  }
  std::unique_ptr<nftnl_udata_buf, UdataDel> ud;
  if (!rule.comment.empty()) {
    ud.reset(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
    if (!ud || !nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_RULE_COMMENT, rule.comment.c_str())) {
      throw RulesError("nftables: rule comment too long in chain " + rule.chain);
    }
    nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud.get()),
                        nftnl_udata_buf_len(ud.get()));
  }
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(reserve(k_max_message), NFT_MSG_NEWRULE, static_cast<std::uint16_t>(rule.family),
                            NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, next_seq());
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  commit_message("rule in chain " + rule.chain + " of " + where(rule.family, rule.table) +
                 (rule.comment.empty() ? std::string() : " (" + rule.comment + ")"));
}

// ---------------------------------------------------------------- Socket

Socket::Socket()
{
  m_nl = mnl_socket_open(NETLINK_NETFILTER);
  if (m_nl == nullptr) {
    throw RulesError(std::string("nftables: cannot open a netlink socket: ") + std::strerror(errno));
  }
  if (mnl_socket_bind(m_nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int err = errno;
    mnl_socket_close(m_nl);
    throw RulesError(std::string("nftables: cannot bind the netlink socket: ") + std::strerror(err));
  }
  m_portid = mnl_socket_get_portid(m_nl);
  m_seq = static_cast<std::uint32_t>(::getpid()) << 8;
  // Errors carry only the failed message's header, not its (possibly
  // 48 KiB) payload, so many errors still fit the receive buffer.
  int one = 1;
  // Best effort, each: without NETLINK_CAP_ACK an error reply carries the
  // whole failed message (the receive buffer below still holds several),
  // without NETLINK_EXT_ACK it has no extended message; a receive buffer
  // below 4 MiB (SO_RCVBUFFORCE needs CAP_NET_ADMIN, SO_RCVBUF is capped by
  // rmem_max) only limits how many replies a batch may produce at once,
  // which the acknowledgements asked for per message keep small.
  static_cast<void>(mnl_socket_setsockopt(m_nl, NETLINK_CAP_ACK, &one, sizeof(one)));
  static_cast<void>(mnl_socket_setsockopt(m_nl, NETLINK_EXT_ACK, &one, sizeof(one)));
  int rcv = 4 * 1024 * 1024;
  if (setsockopt(mnl_socket_get_fd(m_nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) != 0) {
    static_cast<void>(setsockopt(mnl_socket_get_fd(m_nl), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)));
  }
  m_rbuf.resize(1 << 20);
}

Socket::~Socket()
{
  mnl_socket_close(m_nl);
}

void
Socket::commit(Batch& batch)
{
  if (batch.empty()) {
    return;
  }
  // Batch end; then the whole batch goes out in one sendmsg (the kernel
  // handles a batch per skb), so the send buffer must hold it.
  nftnl_batch_end(batch.reserve(k_max_message), batch.next_seq());
  const std::size_t len =
      batch.m_used + NLMSG_ALIGN(reinterpret_cast<nlmsghdr*>(batch.m_buf.data() + batch.m_used)->nlmsg_len);
  const int fd = mnl_socket_get_fd(m_nl);
  int snd = static_cast<int>(std::min<std::size_t>(len + 4096, 1u << 30));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)) != 0) {
    throw RulesError("nftables: cannot size the netlink send buffer for a transaction of " +
                     std::to_string(len) + " bytes: " + std::strerror(errno) + "; nothing was changed");
  }
  // Give every message of this socket's sequence space a number of its own.
  const std::uint32_t base = m_seq;
  std::uint32_t last_acked = 0;
  for (std::size_t off = 0; off < len;) {
    auto* nlh = reinterpret_cast<nlmsghdr*>(batch.m_buf.data() + off);
    nlh->nlmsg_seq += base;
    if (nlh->nlmsg_flags & NLM_F_ACK) {
      last_acked = nlh->nlmsg_seq;
    }
    off += NLMSG_ALIGN(nlh->nlmsg_len);
  }
  m_seq += batch.m_seq + 1;
  const ssize_t sent = mnl_socket_sendto(m_nl, batch.m_buf.data(), len);
  if (sent < 0) {
    throw RulesError(std::string("nftables: sending the transaction (") + std::to_string(len) +
                     " bytes) failed: " + std::strerror(errno));
  }
  // The kernel processes the batch inside sendmsg: the acks and errors are
  // queued on the socket by now.
  std::string first_error;
  std::size_t errors = 0;
  bool last_seen = false;
  for (int rounds = 0; rounds < 100000; ++rounds) {
    const ssize_t n = recv(fd, m_rbuf.data(), m_rbuf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == ENOBUFS) {
        if (first_error.empty()) {
          first_error = "too many errors to read (ENOBUFS)";
        }
        ++errors;
        continue;
      }
      break; // EAGAIN: nothing more queued
    }
    auto* nlh = reinterpret_cast<const nlmsghdr*>(m_rbuf.data());
    int left = static_cast<int>(n);
    for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) {
        continue;
      }
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (nlh->nlmsg_seq == last_acked) {
        last_seen = true;
      }
      if (err->error == 0) {
        continue;
      }
      ++errors;
      if (first_error.empty()) {
        const std::uint32_t local = nlh->nlmsg_seq - base;
        std::string what = "message " + std::to_string(local);
        for (const auto& [seq, text] : batch.m_what) {
          if (seq == local) {
            what = text;
            break;
          }
        }
        first_error = what + ": " + kernel_error(-err->error);
      }
    }
  }
  if (!first_error.empty()) {
    throw RulesError("nftables: " + first_error +
                     (errors > 1 ? " (and " + std::to_string(errors - 1) + " more errors)" : "") +
                     "; nothing was changed");
  }
  if (!last_seen) {
    throw RulesError("nftables: the kernel did not acknowledge the transaction");
  }
}

void
Socket::dump(int type, Family family, const std::string& table, const std::string& set,
             const std::function<void(const void*)>& each)
{
  std::vector<char> req(8192);
  const std::uint32_t seq = ++m_seq;
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(req.data(), static_cast<std::uint16_t>(type),
                                        static_cast<std::uint16_t>(family), NLM_F_DUMP | NLM_F_ACK, seq);
  if (type == NFT_MSG_GETSETELEM) {
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table.c_str());
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set.c_str());
  } else if (!table.empty()) {
    // Sets, chains and rules can be asked for by table.
    const int attr = type == NFT_MSG_GETSET     ? static_cast<int>(NFTA_SET_TABLE)
                     : type == NFT_MSG_GETCHAIN ? static_cast<int>(NFTA_CHAIN_TABLE)
                                                : static_cast<int>(NFTA_RULE_TABLE);
    mnl_attr_put_strz(nlh, static_cast<std::uint16_t>(attr), table.c_str());
  }
  if (mnl_socket_sendto(m_nl, nlh, nlh->nlmsg_len) < 0) {
    throw RulesError(std::string("nftables: cannot send a request: ") + std::strerror(errno));
  }
  struct Ctx {
    const std::function<void(const void*)>* each;
  } ctx{&each};
  const auto cb = [](const nlmsghdr* h, void* data) -> int {
    (*static_cast<Ctx*>(data)->each)(h);
    return MNL_CB_OK;
  };
  while (true) {
    const ssize_t n = mnl_socket_recvfrom(m_nl, m_rbuf.data(), m_rbuf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw RulesError(std::string("nftables: reading from the kernel failed: ") + std::strerror(errno));
    }
    const int r = mnl_cb_run(m_rbuf.data(), static_cast<std::size_t>(n), seq, m_portid, cb, &ctx);
    if (r < 0) {
      if (errno == ENOENT) {
        return; // the table or set is gone: nothing to list
      }
      if (errno == EINTR) {
        throw RulesError("nftables: the ruleset changed while it was read; try again");
      }
      throw RulesError(std::string("nftables: listing failed: ") + std::strerror(errno));
    }
    if (r == MNL_CB_STOP) {
      return;
    }
  }
}

std::vector<Table>
Socket::tables()
{
  std::vector<Table> out;
  dump(NFT_MSG_GETTABLE, static_cast<Family>(NFPROTO_UNSPEC), "", "", [&](const void* p) {
    auto t = checked<nftnl_table, TableDel>(nftnl_table_alloc());
    if (nftnl_table_nlmsg_parse(static_cast<const nlmsghdr*>(p), t.get()) < 0) {
      return;
    }
    Table x;
    x.family = static_cast<Family>(nftnl_table_get_u32(t.get(), NFTNL_TABLE_FAMILY));
    x.name = nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME);
    out.push_back(std::move(x));
  });
  return out;
}

std::vector<Set>
Socket::sets(const Table& table, bool with_elements)
{
  std::vector<Set> out;
  dump(NFT_MSG_GETSET, table.family, table.name, "", [&](const void* p) {
    auto s = checked<nftnl_set, SetDel>(nftnl_set_alloc());
    if (nftnl_set_nlmsg_parse(static_cast<const nlmsghdr*>(p), s.get()) < 0) {
      return;
    }
    Set x;
    x.family = table.family;
    x.table = nftnl_set_get_str(s.get(), NFTNL_SET_TABLE);
    if (x.table != table.name) {
      return;
    }
    x.name = nftnl_set_get_str(s.get(), NFTNL_SET_NAME);
    const std::uint32_t flags = nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS);
    x.interval = (flags & NFT_SET_INTERVAL) != 0;
    x.anonymous = (flags & NFT_SET_ANONYMOUS) != 0;
    x.verdict_map = (flags & NFT_SET_MAP) != 0 && nftnl_set_is_set(s.get(), NFTNL_SET_DATA_TYPE) &&
                    nftnl_set_get_u32(s.get(), NFTNL_SET_DATA_TYPE) == NFT_DATA_VERDICT;
    x.key_type = static_cast<KeyType>(nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_TYPE));
    x.key_len = nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_LEN);
    x.elements_known = false;
    out.push_back(std::move(x));
  });
  if (with_elements) {
    for (auto& s : out) {
      s.elements = elements(s);
      s.elements_known = true;
    }
  }
  return out;
}

namespace {

// A map element's DATA attribute: the chain of a jump verdict; another
// verdict as "(verdict N)", so that it never equals a chain geoblock
// writes.
std::string
verdict_chain(const nlattr* data)
{
  struct Verdict {
    std::int32_t code = 0;
    std::string chain;
    bool seen = false;
  } v;
  mnl_attr_parse_nested(
      data,
      [](const nlattr* a, void* d) -> int {
        if (mnl_attr_get_type(a) != NFTA_DATA_VERDICT) {
          return MNL_CB_OK;
        }
        mnl_attr_parse_nested(
            a,
            [](const nlattr* b, void* d2) -> int {
              auto* out = static_cast<Verdict*>(d2);
              if (mnl_attr_get_type(b) == NFTA_VERDICT_CODE && mnl_attr_get_payload_len(b) >= 4) {
                out->code = static_cast<std::int32_t>(ntohl(mnl_attr_get_u32(b)));
                out->seen = true;
              } else if (mnl_attr_get_type(b) == NFTA_VERDICT_CHAIN) {
                const auto* text = static_cast<const char*>(mnl_attr_get_payload(b));
                out->chain.assign(text, strnlen(text, mnl_attr_get_payload_len(b)));
              }
              return MNL_CB_OK;
            },
            d);
        return MNL_CB_OK;
      },
      &v);
  if (v.seen && v.code == NFT_JUMP && !v.chain.empty()) {
    return v.chain;
  }
  return "(verdict " + std::to_string(v.code) + ")";
}

} // namespace

std::vector<Element>
Socket::elements(const Set& set)
{
  std::vector<Element> out;
  struct Walk {
    std::vector<Element>* out;
    std::uint32_t key_len;
  } walk{&out, set.key_len};
  dump(NFT_MSG_GETSETELEM, set.family, set.table, set.name, [&](const void* p) {
    const auto* nlh = static_cast<const nlmsghdr*>(p);
    // NFTA_SET_ELEM_LIST_ELEMENTS > NFTA_LIST_ELEM* > KEY > DATA_VALUE, FLAGS.
    mnl_attr_parse(
        nlh, sizeof(nfgenmsg),
        [](const nlattr* attr, void* data) -> int {
          if (mnl_attr_get_type(attr) != NFTA_SET_ELEM_LIST_ELEMENTS) {
            return MNL_CB_OK;
          }
          mnl_attr_parse_nested(
              attr,
              [](const nlattr* elem, void* data2) -> int {
                Element e;
                bool has_key = false;
                struct One {
                  Element* e;
                  bool* has_key;
                  std::uint32_t key_len;
                } one{&e, &has_key, static_cast<Walk*>(data2)->key_len};
                mnl_attr_parse_nested(
                    elem,
                    [](const nlattr* a, void* d) -> int {
                      auto* o = static_cast<One*>(d);
                      if (mnl_attr_get_type(a) == NFTA_SET_ELEM_FLAGS) {
                        o->e->interval_end = (ntohl(mnl_attr_get_u32(a)) & NFT_SET_ELEM_INTERVAL_END) != 0;
                      } else if (mnl_attr_get_type(a) == NFTA_SET_ELEM_DATA) {
                        o->e->jump = verdict_chain(a);
                      } else if (mnl_attr_get_type(a) == NFTA_SET_ELEM_KEY) {
                        mnl_attr_parse_nested(
                            a,
                            [](const nlattr* v, void* d2) -> int {
                              auto* o2 = static_cast<One*>(d2);
                              if (mnl_attr_get_type(v) == NFTA_DATA_VALUE) {
                                const std::size_t n = std::min<std::size_t>(
                                    {mnl_attr_get_payload_len(v), o2->e->key.size(), o2->key_len});
                                std::memcpy(o2->e->key.data(), mnl_attr_get_payload(v), n);
                                *o2->has_key = true;
                              }
                              return MNL_CB_OK;
                            },
                            o);
                      }
                      return MNL_CB_OK;
                    },
                    &one);
                if (has_key) {
                  static_cast<Walk*>(data2)->out->push_back(e);
                }
                return MNL_CB_OK;
              },
              data);
          return MNL_CB_OK;
        },
        &walk);
  });
  return out;
}

std::vector<Chain>
Socket::chains(const Table& table)
{
  std::vector<Chain> out;
  dump(NFT_MSG_GETCHAIN, table.family, table.name, "", [&](const void* p) {
    auto c = checked<nftnl_chain, ChainDel>(nftnl_chain_alloc());
    if (nftnl_chain_nlmsg_parse(static_cast<const nlmsghdr*>(p), c.get()) < 0) {
      return;
    }
    Chain x;
    x.family = table.family;
    x.table = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE);
    if (x.table != table.name) {
      return;
    }
    x.name = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM)) {
      BaseHook h;
      h.hooknum = nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM);
      h.priority = nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO);
      if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_TYPE)) {
        h.type = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TYPE);
      }
      if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_DEV)) {
        h.device = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_DEV);
      }
      h.policy_accept = !nftnl_chain_is_set(c.get(), NFTNL_CHAIN_POLICY) ||
                        nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_POLICY) == NF_ACCEPT;
      x.hook = h;
    }
    out.push_back(std::move(x));
  });
  return out;
}

std::vector<Rule>
Socket::rules(const Table& table)
{
  std::vector<Rule> out;
  dump(NFT_MSG_GETRULE, table.family, table.name, "", [&](const void* p) {
    auto r = checked<nftnl_rule, RuleDel>(nftnl_rule_alloc());
    if (nftnl_rule_nlmsg_parse(static_cast<const nlmsghdr*>(p), r.get()) < 0) {
      return;
    }
    Rule x;
    x.family = table.family;
    x.table = nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE);
    if (x.table != table.name) {
      return;
    }
    x.chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
    x.handle = nftnl_rule_get_u64(r.get(), NFTNL_RULE_HANDLE);
    std::unique_ptr<nftnl_expr_iter, ExprIterDel> it(nftnl_expr_iter_create(r.get()));
    for (nftnl_expr* e = it ? nftnl_expr_iter_next(it.get()) : nullptr; e != nullptr;
         e = nftnl_expr_iter_next(it.get())) {
      x.exprs.push_back(read_expr(e, x));
    }
    if (nftnl_rule_is_set(r.get(), NFTNL_RULE_USERDATA)) {
      std::uint32_t len = 0;
      const void* data = nftnl_rule_get_data(r.get(), NFTNL_RULE_USERDATA, &len);
      nftnl_udata_parse(data, len, udata_comment_cb, &x.comment);
    }
    out.push_back(std::move(x));
  });
  return out;
}

} // namespace geoblock::apply::nft
