// The block by source (flow::Report::sources): what the firewall counts
// and acts by. Random configurations (countries with actions, blocklists,
// blocked and allowed ASes, an allowlist, families) whose data overlap,
// nest and touch, checked against what the documentation promises: one
// address, one source, one action; the sources together are exactly the
// block; each holds only its own data; an address several hold belongs to
// the strongest action, then the most specific data, then the first
// configured.
#include "flow/report.hpp"
#include "net/aggregate.hpp"

#include <gtest/gtest.h>

#include <random>

namespace {

using namespace geoblock;
using Kind = apply::SourceAction::Kind;

template <class A>
net::Prefix<A>
draw(std::mt19937_64& rng, A region)
{
  constexpr int bits = net::kBits<A>;
  const int len = bits - 12 + static_cast<int>(rng() % 13); // inside a /(bits-12), down to one address
  const A addr = static_cast<A>(region | static_cast<A>(rng() % 4096));
  return net::Prefix<A>{static_cast<A>(addr & net::mask<A>(len)), static_cast<std::uint8_t>(len)};
}

net::NetList
random_nets(std::mt19937_64& rng)
{
  net::NetList n;
  const std::size_t k = rng() % 6;
  for (std::size_t i = 0; i < k; ++i) {
    n.v4.push_back(draw<std::uint32_t>(rng, 0x14000000u)); // 20.0.0.0/20: public, shared by all
    n.v6.push_back(draw<net::u128>(rng, static_cast<net::u128>(0x2a000000u) << 96));
  }
  return n;
}

template <class P>
bool
disjoint(const std::vector<P>& a, const std::vector<P>& b)
{
  return net::subtract(a, b) == net::aggregate(a);
}

struct Case {
  flow::Settings settings;
  std::vector<net::ZoneResult> zones;
  std::vector<net::BlocklistResult> lists;
  std::vector<net::AsnResult> asns;
};

Case
random_case(std::mt19937_64& rng)
{
  Case c;
  const char* pool[] = {"nz", "au", "cn", "ru", "de", "br"};
  c.settings.raw.block_local = true;
  const net::Families fams[] = {net::Families::Both, net::Families::V4, net::Families::V6};
  c.settings.families = fams[rng() % 3];
  for (const char* cc : pool) {
    if (rng() % 2 == 0) {
      continue;
    }
    c.settings.countries.push_back(cc);
    apply::SourceAction a;
    const Kind kinds[] = {Kind::Drop, Kind::Reject, Kind::Count, Kind::Limit};
    a.kind = kinds[rng() % 4];
    if (a.kind == Kind::Limit) {
      a.rate = "10/sec";
    }
    c.settings.country_actions[cc] = a;
    for (const net::Family f : {net::Family::V4, net::Family::V6}) {
      net::ZoneResult z;
      z.country = cc;
      z.family = f;
      z.origin = net::Origin::Downloaded;
      const net::NetList n = random_nets(rng);
      if (f == net::Family::V4) {
        z.nets.v4 = n.v4;
      } else {
        z.nets.v6 = n.v6;
      }
      c.zones.push_back(std::move(z));
    }
  }
  for (std::size_t i = rng() % 3; i > 0; --i) {
    net::BlocklistResult b;
    b.name = "list" + std::to_string(i) + ".txt";
    b.origin = net::Origin::Downloaded;
    b.nets = random_nets(rng);
    c.lists.push_back(std::move(b));
  }
  for (std::size_t i = rng() % 4; i > 0; --i) {
    net::AsnResult a;
    a.number = 64495 + static_cast<std::uint32_t>(i);
    a.allow = rng() % 2 == 0;
    a.origin = net::Origin::Downloaded;
    a.nets = random_nets(rng);
    (a.allow ? c.settings.allow_asns : c.settings.asns).push_back(a.number);
    c.asns.push_back(std::move(a));
  }
  c.settings.allow = random_nets(rng);
  if (rng() % 2 == 0) {
    c.settings.allow = {};
  }
  return c;
}

// The data a source was configured with (before any precedence).
net::NetList
own_data(const Case& c, const std::string& source)
{
  net::NetList out;
  const auto add = [&](const net::NetList& n) {
    out.v4.insert(out.v4.end(), n.v4.begin(), n.v4.end());
    out.v6.insert(out.v6.end(), n.v6.begin(), n.v6.end());
  };
  for (const auto& z : c.zones) {
    if (z.country == source) {
      add(z.nets);
    }
  }
  for (const auto& b : c.lists) {
    if ("list:" + b.name == source) {
      add(b.nets);
    }
  }
  for (const auto& a : c.asns) {
    if (!a.allow && "as:" + std::to_string(a.number) == source) {
      add(a.nets);
    }
  }
  return out;
}

int
specificity(const std::string& source)
{
  return source.rfind("list:", 0) == 0 ? 0 : source.rfind("as:", 0) == 0 ? 1 : 2;
}

TEST(Sources, OneAddressOneSourceTogetherExactlyTheBlockByPrecedence)
{
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 500; ++round) {
    const Case c = random_case(rng);
    const flow::Report r = flow::make_report(c.zones, c.lists, c.asns, c.settings, 1000);
    SCOPED_TRACE("round " + std::to_string(round));
    // Together exactly the block.
    net::NetList all;
    for (const auto& s : r.sources) {
      all.v4.insert(all.v4.end(), s.nets.v4.begin(), s.nets.v4.end());
      all.v6.insert(all.v6.end(), s.nets.v6.begin(), s.nets.v6.end());
    }
    ASSERT_EQ(net::aggregate(all.v4), r.target.v4);
    ASSERT_EQ(net::aggregate(all.v6), r.target.v6);
    for (std::size_t i = 0; i < r.sources.size(); ++i) {
      const auto& s = r.sources[i];
      SCOPED_TRACE(s.source);
      // Minimal, sorted, and only its own data.
      ASSERT_EQ(s.nets.v4, net::aggregate(s.nets.v4));
      ASSERT_EQ(s.nets.v6, net::aggregate(s.nets.v6));
      const net::NetList own = own_data(c, s.source);
      EXPECT_TRUE(net::subtract(s.nets.v4, own.v4).empty());
      EXPECT_TRUE(net::subtract(s.nets.v6, own.v6).empty());
      // The action the list gave it (countries); drop for lists and ASes.
      const auto it = c.settings.country_actions.find(s.source);
      EXPECT_EQ(s.action, it == c.settings.country_actions.end() ? apply::SourceAction{} : it->second);
      for (std::size_t j = 0; j < r.sources.size(); ++j) {
        if (i == j) {
          continue;
        }
        const auto& o = r.sources[j];
        // One address, one source.
        EXPECT_TRUE(disjoint(s.nets.v4, o.nets.v4) && disjoint(s.nets.v6, o.nets.v6)) << o.source;
        // A source that comes first by precedence keeps what it shares.
        const int a = flow::action_rank(s.action), b = flow::action_rank(o.action);
        const bool first = a != b ? a < b
                                  : specificity(s.source) < specificity(o.source) ||
                                        (specificity(s.source) == specificity(o.source) && i < j);
        if (first) {
          EXPECT_TRUE(disjoint(o.nets.v4, own.v4) && disjoint(o.nets.v6, own.v6))
              << o.source << " holds addresses of " << s.source << ", which comes first";
        }
      }
    }
  }
}

} // namespace
