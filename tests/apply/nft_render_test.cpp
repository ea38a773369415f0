// The typed rules in each backend's syntax without a kernel: every rule
// desired_state() can write renders to nft expressions and iptables text
// and reads back as the same rule, anything else is an error or an
// unknown rule, and interval elements encode and decode networks exactly.
#include "apply/iptables_rule.hpp"
#include "apply/nft_backend.hpp"
#include "apply/nft_netlink.hpp"
#include "apply/nft_rule.hpp"
#include "apply/state.hpp"
#include "core/error.hpp"
#include "net/aggregate.hpp"

#include "apply_test_util.hpp"
#include <gtest/gtest.h>
#include <random>

using namespace geoblock;
using namespace geoblock::apply;

namespace {

std::size_t
kind_count(const nft::Rule& r, nft::Expr::Kind kind)
{
  std::size_t n = 0;
  for (const auto& x : r.exprs) {
    n += x.kind == kind;
  }
  return n;
}

} // namespace

TEST(NftRender, EveryRuleOfEveryConfigurationRendersAndReadsBackAsItself)
{
  const std::vector<std::vector<Hook>> hook_sets = {{},
                                                    {Hook{"raw", "PREROUTING"}},
                                                    {Hook{"mangle", "PREROUTING"}},
                                                    {Hook{"filter", "INPUT"}, Hook{"filter", "FORWARD"}},
                                                    {Hook{"ingress", "eth0"}}};
  const net::NetList target = test::nets({"198.51.100.0/24", "2001:db8::/32"});
  std::size_t configs = 0;
  std::size_t rules = 0;
  for (const auto policy : {Policy::Block, Policy::AllowOnly}) {
    for (const auto match : {Match::All, Match::New}) {
      for (const auto direction : {Direction::In, Direction::Out, Direction::Both}) {
        for (const bool log : {false, true}) {
          for (int ports = 0; ports < 3; ++ports) {
            for (int ifaces = 0; ifaces < 3; ++ifaces) {
              for (const auto& hooks : hook_sets) {
                RulesConfig c;
                c.policy = policy;
                c.match = match;
                c.direction = direction;
                c.log = log;
                c.chains = hooks;
                if (ports == 1) {
                  c.ports = parse_ports("tcp:22,80-90,443, udp:53, sctp:9");
                } else if (ports == 2) {
                  c.except_ports = parse_ports("tcp:22,1-16,20,21,23,25,110,143,993,995,3000-4000,5000,"
                                               "6000,7000,8000,9000,10000");
                }
                if (ifaces == 1) {
                  c.interfaces = {"eth0"};
                } else if (ifaces == 2) {
                  c.interfaces = {"eth1", "ppp+"};
                }
                c.allowlist = test::nets({"192.0.2.0/24", "192.0.2.77", "2001:db8:ff::/48"});
                try {
                  validate(c);
                } catch (const ConfigError&) {
                  continue; // e.g. allow-only on raw:PREROUTING
                }
                ++configs;
                const FirewallState st = desired_state(target, c);
                for (const auto& chain : st.chains) {
                  const std::string name = nft_chain_name(chain.family, chain.table, chain.chain);
                  const auto tf = chain.table == "ingress" ? nft::Family::Netdev : nft::Family::Inet;
                  const NftPlace place{chain.family, tf, "geoblock", chain.table, name};
                  for (const Rule& rule : chain.rules) {
                    const std::string what = describe(rule);
                    nft::Rule r;
                    ASSERT_NO_THROW(r = render_rule(rule, place)) << what;
                    ++rules;
                    EXPECT_EQ(r.comment, k_owner_tag) << what;
                    EXPECT_EQ(kind_count(r, nft::Expr::Kind::Counter), 1u) << what;
                    // Family test first, one verdict or action last.
                    ASSERT_GE(r.exprs.size(), 4u);
                    EXPECT_EQ(r.exprs[0].kind, nft::Expr::Kind::Meta);
                    const auto last = r.exprs.back().kind;
                    EXPECT_TRUE(last == nft::Expr::Kind::Verdict || last == nft::Expr::Kind::Reject ||
                                last == nft::Expr::Kind::Log)
                        << what;
                    // Read back, it is the same rule: nftables' syntax and
                    // iptables' each say exactly the rule.
                    std::map<std::string, const nft::Set*> anonymous;
                    for (const auto& a : r.anonymous) {
                      anonymous["__set"] = &a;
                    }
                    EXPECT_EQ(read_rule(r, place, anonymous), rule) << what;
                    if (chain.table != "ingress") {
                      const std::string body = iptables_body(rule, chain.family);
                      EXPECT_EQ(parse_iptables_body(body, chain.family), rule) << body;
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(configs, 300u);
  EXPECT_GT(rules, 3000u);
}

namespace {

const NftPlace k_raw4{net::Family::V4, nft::Family::Inet, "geoblock", "raw", "raw-PREROUTING-v4"};
const NftPlace k_drop6{net::Family::V6, nft::Family::Inet, "geoblock", "raw", "raw-geoblock-drop-v6"};

Rule
drop_from(const std::string& set)
{
  Rule r;
  r.match.set = set;
  r.action = Action::Drop;
  return r;
}

} // namespace

TEST(NftRender, WhatABackendCannotExpressIsAnErrorOrAnUnknownRule)
{
  EXPECT_NO_THROW(render_rule(drop_from("geoblock-v4"), k_raw4));
  Rule unknown;
  unknown.action = Action::Unknown;
  unknown.text = "someone's rule";
  EXPECT_THROW(render_rule(unknown, k_raw4), RulesError);
  Rule reset = drop_from("geoblock-v4");
  reset.action = Action::TcpReset; // without -p tcp
  EXPECT_THROW(render_rule(reset, k_raw4), RulesError);
  Rule icmp6;
  icmp6.match.proto = "ipv6-icmp"; // in an IPv4 rule
  icmp6.action = Action::Return;
  EXPECT_THROW(render_rule(icmp6, k_raw4), RulesError);
  // iptables bodies outside the vocabulary (or not tagged) read as unknown
  // rules: never equal to a configured one, so they are drift.
  for (const char* bad :
       {"-m set --match-set geoblock-v4 src -m comment --comment geoblock -j MASQUERADE",
        "-m recent --name x -m comment --comment geoblock -j DROP", "-m set --match-set geoblock-v4 src",
        "-m set --match-set geoblock-v4 src -m comment --comment geoblock -j DROP -j RETURN",
        "--bogus -m comment --comment geoblock -j DROP", "-m set --match-set geoblock-v4 src -j DROP",
        "-m conntrack --ctstate FOO -m comment --comment geoblock -j DROP",
        "-m comment --comment geoblock -j ACCEPT"}) {
    const Rule r = parse_iptables_body(bad, net::Family::V4);
    EXPECT_EQ(r.action, Action::Unknown) << bad;
    EXPECT_EQ(r.text, bad);
  }
}

TEST(NftRender, NeighbourDiscoveryReturnIsIcmpv6TypeAndHopLimit)
{
  // meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type nd-neighbor-solicit
  // ip6 hoplimit 255 counter return
  Rule nd;
  nd.match.proto = "ipv6-icmp";
  nd.match.icmpv6_type = 135;
  nd.match.hop_limit = 255;
  nd.action = Action::Return;
  const nft::Rule r = render_rule(nd, k_drop6);
  const std::vector<nft::Expr> want = {nft::meta_load(nft::MetaKey::NfProto),
                                       nft::cmp_eq({10}),
                                       nft::meta_load(nft::MetaKey::L4Proto),
                                       nft::cmp_eq({58}),
                                       nft::payload_load(nft::PayloadBase::Transport, 0, 1),
                                       nft::cmp_eq({135}),
                                       nft::payload_load(nft::PayloadBase::Network, 7, 1),
                                       nft::cmp_eq({255}),
                                       nft::counter(),
                                       nft::verdict(nft::Verdict::Return)};
  EXPECT_EQ(r.exprs, want);
  EXPECT_EQ(
      iptables_body(nd, net::Family::V6),
      "-p ipv6-icmp -m icmp6 --icmpv6-type 135 -m hl --hl-eq 255 -m comment --comment geoblock -j RETURN");
  // The same expressions with hop limit 64 read back as that rule: of the
  // vocabulary, but not the configured one. Without the counter, or with
  // an expression geoblock never writes, they are no rule of geoblock's.
  nft::Rule edited = r;
  edited.exprs[7] = nft::cmp_eq({64});
  Rule want64 = nd;
  want64.match.hop_limit = 64;
  EXPECT_EQ(read_rule(edited, k_drop6, {}), want64);
  nft::Rule no_counter = r;
  no_counter.exprs.erase(no_counter.exprs.begin() + 8);
  EXPECT_EQ(read_rule(no_counter, k_drop6, {}).action, Action::Unknown);
  nft::Rule other = r;
  other.exprs.back() = nft::verdict(nft::Verdict::Accept);
  EXPECT_EQ(read_rule(other, k_drop6, {}).action, Action::Unknown);
  nft::Rule old_comment = r;
  old_comment.comment = "-p ipv6-icmp -m icmp6 --icmpv6-type 135 ...";
  const Rule older = read_rule(old_comment, k_drop6, {});
  EXPECT_EQ(older.action, Action::Unknown);
  EXPECT_NE(older.text.find("written by an older geoblock"), std::string::npos) << older.text;
}

TEST(NftRender, SameRuleRendersTheSameExpressionsAndEditsDiffer)
{
  const NftPlace input{net::Family::V4, nft::Family::Inet, "geoblock", "filter", "filter-INPUT-v4"};
  Rule a;
  a.match.in = Interface{"eth0", false};
  a.match.proto = "tcp";
  a.match.dports = {{22, 22}, {80, 90}};
  a.action = Action::Jump;
  a.chain = "geoblock-drop";
  Rule c = a;
  c.match.dports.back().last = 91;
  const auto ra = render_rule(a, input);
  const auto rb = render_rule(a, input);
  const auto rc = render_rule(c, input);
  EXPECT_EQ(ra.exprs, rb.exprs);
  ASSERT_EQ(ra.anonymous.size(), 1u);
  EXPECT_NE(ra.anonymous[0].elements, rc.anonymous[0].elements);
  EXPECT_EQ(ra.exprs.back().name, "filter-geoblock-drop-v4");
  EXPECT_EQ(iptables_body(a, net::Family::V4),
            "-i eth0 -p tcp -m multiport --dports 22,80:90 -m comment --comment geoblock -j geoblock-drop");
}

namespace {

template <class A>
std::vector<net::Prefix<A>>
roundtrip(const std::vector<net::Prefix<A>>& nets)
{
  std::vector<net::Prefix<A>> out;
  nft::decode_intervals(nft::interval_elements(nets), out);
  return out;
}

} // namespace

TEST(NftIntervals, EncodeAndDecodeExactlyIncludingAdjacentAndTopOfSpace)
{
  const net::NetList edge = test::nets({"0.0.0.0/8", "10.0.0.0/24", "10.0.1.0/25", "255.255.255.0/24",
                                        "::/16", "2001:db8::/32", "2001:db9::/48", "ffff::/16"});
  EXPECT_EQ(roundtrip(edge.v4), edge.v4);
  EXPECT_EQ(roundtrip(edge.v6), edge.v6);
  // No end element after a network reaching the top of the space; adjacent
  // networks share a key (an end, then the next start).
  const auto els = nft::interval_elements(edge.v4);
  EXPECT_EQ(els.size(), 7u);
  EXPECT_FALSE(els.back().interval_end);

  std::mt19937 rng(12);
  for (int round = 0; round < 20; ++round) {
    std::vector<net::Prefix4> raw;
    for (int i = 0; i < 2000; ++i) {
      const auto len = static_cast<std::uint8_t>(8 + rng() % 25);
      raw.push_back(net::Prefix4{static_cast<std::uint32_t>(rng()) & net::mask<std::uint32_t>(len), len});
    }
    const auto agg = net::aggregate(raw);
    EXPECT_EQ(roundtrip(agg), agg);
  }
}

TEST(NftIntervals, AdjacentNetworksThatDoNotMergeComeBackAsWritten)
{
  // Per-country lists concatenated: sorted, disjoint, adjacent but not
  // aggregated across countries.
  const std::vector<net::Prefix4> nets = {net::Prefix4{0x0a000000u, 25}, net::Prefix4{0x0a000080u, 25},
                                          net::Prefix4{0x0a000100u, 24}};
  EXPECT_EQ(roundtrip(nets), nets);
  // One continuous interval (nft's auto-merge, or a hand-made range) comes
  // back as the fewest networks covering it.
  std::vector<nft::Element> els(2);
  els[0].key = {10, 0, 0, 0};
  els[1].key = {10, 0, 3, 0};
  els[1].interval_end = true;
  std::vector<net::Prefix4> out;
  nft::decode_intervals(els, out);
  EXPECT_EQ(out, (std::vector<net::Prefix4>{net::Prefix4{0x0a000000u, 23}, net::Prefix4{0x0a000200u, 24}}));
}

TEST(NftIntervals, DecodesNftsOwnLeadingEndElement)
{
  // nft -f writes an end element at 0 before the first interval.
  std::vector<nft::Element> els = nft::interval_elements(test::nets({"198.51.100.0/24"}).v4);
  nft::Element zero;
  zero.interval_end = true;
  els.insert(els.begin(), zero);
  std::vector<net::Prefix4> out;
  nft::decode_intervals(els, out);
  EXPECT_EQ(out, test::nets({"198.51.100.0/24"}).v4);
}

namespace {

// The interval elements of `nets` and of ten networks that never change
// (so a delta costs less than refilling the set).
std::vector<nft::Element>
padded(std::initializer_list<const char*> nets)
{
  std::vector<const char*> all(nets);
  for (const char* p : {"10.9.0.0/24", "10.9.2.0/24", "10.9.4.0/24", "10.9.6.0/24", "10.9.8.0/24",
                        "10.9.10.0/24", "10.9.12.0/24", "10.9.14.0/24", "10.9.16.0/24", "10.9.18.0/24"}) {
    all.push_back(p);
  }
  net::NetList raw;
  for (const char* p : all) {
    net::parse_network(p, raw);
  }
  return nft::interval_elements(net::aggregate(raw.v4));
}

std::vector<nft::Element>
elements_of(std::initializer_list<const char*> nets)
{
  return nft::interval_elements(test::nets(nets).v4);
}

} // namespace

TEST(NftIntervals, OverlappingPortRangesBecomeOneInterval)
{
  auto key = [](int port) {
    nft::Element e;
    e.key[0] = static_cast<std::uint8_t>(port >> 8);
    e.key[1] = static_cast<std::uint8_t>(port & 0xff);
    return e;
  };
  auto end = [&key](int port) {
    nft::Element e = key(port);
    e.interval_end = true;
    return e;
  };
  EXPECT_EQ(nft::port_elements({{80, 80}, {79, 81}, {82, 90}, {100, 100}, {100, 100}, {65000, 65535}}),
            (std::vector<nft::Element>{key(79), end(91), key(100), end(101), key(65000)}));
}

TEST(NftIntervals, DeltaIsMadeOfWholeIntervals)
{
  // Live 10.0.0.0/21 (one interval); wanted 10.0.0.0/23 and 10.0.4.0/22.
  // Single elements (an end added at 10.0.2.0, a start at 10.0.4.0) are
  // refused by the kernel as an overlap: the live interval goes whole and
  // both wanted ones come whole.
  const auto live = padded({"10.0.0.0/21"});
  const auto want = padded({"10.0.0.0/23", "10.0.4.0/22"});
  const nft::IntervalDelta d = nft::interval_delta(live, want);
  EXPECT_FALSE(d.replace);
  EXPECT_EQ(d.remove, elements_of({"10.0.0.0/21"}));
  EXPECT_EQ(d.add, elements_of({"10.0.0.0/23", "10.0.4.0/22"}));
  // The reverse: the two go, each a start followed by its own end (the
  // kernel refuses a start followed by another interval's end).
  const nft::IntervalDelta back = nft::interval_delta(want, live);
  EXPECT_FALSE(back.replace);
  EXPECT_EQ(back.remove, elements_of({"10.0.0.0/23", "10.0.4.0/22"}));
  EXPECT_EQ(back.add, elements_of({"10.0.0.0/21"}));
  // Intervals that stay are not sent; adjacent intervals (an end and a
  // start at one key) are told apart.
  const auto a = padded({"10.0.0.0/24", "10.0.1.0/25"});
  const auto b = padded({"10.0.0.0/24", "10.0.1.128/25"});
  const nft::IntervalDelta ab = nft::interval_delta(a, b);
  EXPECT_FALSE(ab.replace);
  EXPECT_EQ(ab.remove, elements_of({"10.0.1.0/25"}));
  EXPECT_EQ(ab.add, elements_of({"10.0.1.128/25"}));
  EXPECT_TRUE(nft::interval_delta(a, a).remove.empty());
  EXPECT_TRUE(nft::interval_delta(a, a).add.empty());
  EXPECT_FALSE(nft::interval_delta(a, a).replace);
  // The top of the address space has no end element.
  const nft::IntervalDelta t = nft::interval_delta(padded({"255.255.255.0/24"}), padded({}));
  EXPECT_FALSE(t.replace);
  EXPECT_EQ(t.remove, elements_of({"255.255.255.0/24"}));
  EXPECT_EQ(t.remove.size(), 1u);
}

TEST(NftIntervals, DeltaReplacesWhatIsNoCleanEncodingOrCostsMore)
{
  const auto want = nft::interval_elements(test::nets({"10.0.0.0/24", "10.0.9.0/24"}).v4);
  // nft's leading end at 0, or two starts in a row: flushed and refilled.
  std::vector<nft::Element> nfts = want;
  nfts.insert(nfts.begin(), nft::Element{});
  nfts.back().interval_end = true;
  nfts.front().interval_end = true;
  EXPECT_TRUE(nft::interval_delta(nfts, want).replace);
  std::vector<nft::Element> starts = elements_of({"10.0.1.0/24", "10.0.3.0/24"});
  starts[1].interval_end = false;
  const nft::IntervalDelta s = nft::interval_delta(starts, want);
  EXPECT_TRUE(s.replace);
  EXPECT_TRUE(s.remove.empty());
  EXPECT_EQ(s.add, want);
  // Everything changed: refilling sends 4 elements, the delta 8.
  const auto other = nft::interval_elements(test::nets({"10.0.1.0/24", "10.0.8.0/24"}).v4);
  EXPECT_TRUE(nft::interval_delta(other, want).replace);
  // Emptied: a flush, nothing added.
  const nft::IntervalDelta e = nft::interval_delta(want, {});
  EXPECT_TRUE(e.replace);
  EXPECT_TRUE(e.add.empty());
}

TEST(NftRender, IngressHookParsesAndMapsToANetdevBaseChain)
{
  const Hook h = parse_hook("ingress:eth0");
  EXPECT_EQ(h, (Hook{"ingress", "eth0"}));
  EXPECT_EQ(to_string(h), "ingress:eth0");
  EXPECT_THROW(parse_hook("ingress:"), ConfigError);
  EXPECT_THROW(parse_hook("ingress:a b"), ConfigError);
  RulesConfig c;
  c.chains = {h};
  c.log = true;
  const FirewallState st = desired_state(test::nets({"198.51.100.0/24"}), c);
  const ChainState* base = st.chain(net::Family::V4, "ingress", "eth0");
  ASSERT_NE(base, nullptr);
  EXPECT_FALSE(base->own);
  const nft::Rule r =
      render_rule(base->rules.front(), NftPlace{net::Family::V4, nft::Family::Netdev, "geoblock", "ingress",
                                                nft_chain_name(net::Family::V4, "ingress", "eth0")});
  // In a netdev table the family test is on the ethertype (meta protocol).
  EXPECT_EQ(r.exprs[1].data, (std::vector<std::uint8_t>{0x08, 0x00}));
  EXPECT_EQ(r.exprs.back().name, "ingress-geoblock-drop-v4");
}
