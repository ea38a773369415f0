// nftables verdict maps against the real kernel, as a property: any
// sequence of per-source contents (networks that overlap, nest and touch
// within a source, touch across sources, move from one source to another,
// reach the top of the address space, both families) is reached exactly
// by one interval delta in one transaction, and every network comes back
// jumping to its own source's chain: two sources' adjacent networks are
// never merged.
//
// Seeded: GEOBLOCK_WALK_SEED replays a walk, GEOBLOCK_WALK_STEPS makes it
// longer. A failure prints the seed and the step.
#include "apply/nft_netlink.hpp"
#include "net/aggregate.hpp"

#include "apply_test_util.hpp"
#include "set_walk_draw.hpp"
#include <gtest/gtest.h>
#include <random>
#include <sstream>

using namespace geoblock;
using namespace geoblock::apply;
using namespace geoblock::test;

namespace {

const char* const k_chains[] = {"src-au", "src-cn", "src-nz", "src-list-x", "src-as-64496"};

// Each source's networks, aggregated on their own, and disjoint from the
// sources before it (an overlap belongs to the first: the precedence a
// firewall needs to decide one chain per address). Often a mutation of
// the previous contents, sometimes a network moving to another source.
template <class A>
std::vector<std::pair<std::string, std::vector<net::Prefix<A>>>>
random_sources(std::mt19937_64& rng,
               const std::vector<std::pair<std::string, std::vector<net::Prefix<A>>>>& previous, A region,
               int region_len, int top_len)
{
  std::vector<std::vector<net::Prefix<A>>> drawn(std::size(k_chains));
  for (const auto& [chain, nets] : previous) {
    for (const auto& p : nets) {
      if (rng() % 3 != 0) {
        // Mostly where it was; now and then to another source.
        const std::size_t to =
            rng() % 6 == 0
                ? rng() % std::size(k_chains)
                : static_cast<std::size_t>(std::find_if(std::begin(k_chains), std::end(k_chains),
                                                        [&](const char* c) { return chain == c; }) -
                                           std::begin(k_chains));
        drawn[to].push_back(p);
      }
    }
  }
  for (auto& nets : drawn) {
    const std::size_t n = rng() % 12;
    for (std::size_t i = 0; i < n; ++i) {
      nets.push_back(draw<A>(rng, region, region_len, top_len));
    }
  }
  std::vector<std::pair<std::string, std::vector<net::Prefix<A>>>> out;
  std::vector<net::Prefix<A>> taken;
  for (std::size_t i = 0; i < std::size(k_chains); ++i) {
    auto mine = net::subtract(net::aggregate(drawn[i]), taken);
    if (mine.empty()) {
      continue;
    }
    taken = net::aggregate([&] {
      auto all = taken;
      all.insert(all.end(), mine.begin(), mine.end());
      return all;
    }());
    out.emplace_back(k_chains[i], std::move(mine));
  }
  std::sort(out.begin(), out.end());
  return out;
}

template <class A>
std::string
describe(const std::vector<std::pair<std::string, std::vector<net::Prefix<A>>>>& sources)
{
  std::ostringstream o;
  for (const auto& [chain, nets] : sources) {
    o << chain << ":";
    for (const auto& p : nets) {
      o << ' ' << net::to_string(p);
    }
    o << "; ";
  }
  return o.str();
}

// One update of a map: the delta, or flush and refill, in one transaction.
void
update(nft::Socket& socket, const nft::Set& map, const std::vector<nft::Element>& want)
{
  const nft::IntervalDelta d = nft::interval_delta(socket.elements(map), want);
  nft::Batch b;
  if (d.replace) {
    b.flush_set(map);
  } else if (!d.remove.empty()) {
    b.delete_elements(map, d.remove);
  }
  if (!d.add.empty()) {
    b.add_elements(map, d.add);
  }
  if (!b.empty()) {
    socket.commit(b);
  }
}

} // namespace

TEST(NftMapWalk, EverySequenceOfSourcesConvergesEachNetworkToItsOwnChain)
{
  GEOBLOCK_REQUIRE_NETNS();
  const std::uint64_t seed = env_number("GEOBLOCK_WALK_SEED", std::random_device{}());
  const std::uint64_t steps = env_number("GEOBLOCK_WALK_STEPS", 60);
  std::printf("NftMapWalk seed %llu (replay with GEOBLOCK_WALK_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  in_fresh_netns(
      [seed, steps] {
        nft::Socket socket;
        const nft::Table table{nft::Family::Inet, "gbmap"};
        nft::Set m4;
        m4.table = table.name;
        m4.name = "m4";
        m4.verdict_map = true;
        nft::Set m6 = m4;
        m6.name = "m6";
        m6.key_type = nft::KeyType::Ipv6Addr;
        m6.key_len = 16;
        {
          nft::Batch b;
          b.add_table(table);
          for (const char* c : k_chains) {
            b.add_chain(nft::Chain{table.family, table.name, c, std::nullopt});
            nft::Rule count;
            count.table = table.name;
            count.chain = c;
            count.exprs = {nft::counter()};
            b.add_rule(count);
          }
          b.add_set(m4);
          b.add_set(m6);
          // Bound to a base chain, as a backend uses them: the kernel then
          // checks every element's jump (that the chain exists, no loop).
          b.add_chain(nft::Chain{table.family, table.name, "pre",
                                 nft::BaseHook{0 /* NF_INET_PRE_ROUTING */, -300, "filter", "", true}});
          nft::Rule by_source;
          by_source.table = table.name;
          by_source.chain = "pre";
          by_source.exprs = {nft::meta_load(nft::MetaKey::NfProto), nft::cmp_eq({2 /* NFPROTO_IPV4 */}),
                             nft::payload_load(nft::PayloadBase::Network, 12, 4), nft::vmap_lookup("m4")};
          b.add_rule(by_source);
          socket.commit(b);
        }
        // The rule reads back as a verdict-map lookup.
        bool found = false;
        for (const nft::Rule& r : socket.rules(table)) {
          for (const nft::Expr& x : r.exprs) {
            found = found || (x.kind == nft::Expr::Kind::Lookup && x.verdict_map && x.name == "m4");
          }
        }
        ASSERT_TRUE(found) << "the vmap rule did not read back as a verdict-map lookup";
        const auto sets = socket.sets(table, false);
        ASSERT_TRUE(std::all_of(sets.begin(), sets.end(), [](const nft::Set& s) { return s.verdict_map; }));

        std::mt19937_64 rng(seed);
        nft::MapSources4 s4;
        nft::MapSources6 s6;
        const net::u128 region6 =
            (static_cast<net::u128>(0x20010db8u) << 96) | (static_cast<net::u128>(1) << 80);
        for (std::uint64_t step = 0; step < steps; ++step) {
          const std::string before = describe(s4) + describe(s6);
          s4 = random_sources<std::uint32_t>(rng, s4, 0x0a010000u, 16, 8);
          s6 = random_sources<net::u128>(rng, s6, region6, 48, 16);
          SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step) + ": from " + before +
                       " to " + describe(s4) + describe(s6));
          try {
            update(socket, m4, nft::map_elements(s4));
            update(socket, m6, nft::map_elements(s6));
          } catch (const std::exception& e) {
            FAIL() << "update failed: " << e.what();
          }
          nft::MapSources4 got4;
          nft::MapSources6 got6;
          nft::decode_map(socket.elements(m4), got4);
          nft::decode_map(socket.elements(m6), got6);
          ASSERT_EQ(describe(got4), describe(s4));
          ASSERT_EQ(describe(got6), describe(s6));
        }
      },
      std::chrono::seconds(240));
}
