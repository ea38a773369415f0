// The nftables backend's set updates against the real kernel, as a
// property: any sequence of desired contents (disjoint, overlapping,
// adjacent, contained, single addresses, whole /8s, the top of the address
// space, both families) reaches exactly the desired set in one update.
//
// Seeded: GEOBLOCK_WALK_SEED replays a walk, GEOBLOCK_WALK_STEPS makes it
// longer. A failure prints the seed and the step.
#include "apply/backend.hpp"
#include "apply/nft_backend.hpp"
#include "core/error.hpp"
#include "net/aggregate.hpp"

#include "apply_test_util.hpp"
#include "set_walk_draw.hpp"
#include <cstdlib>
#include <gtest/gtest.h>
#include <random>
#include <sstream>

using namespace geoblock;
using namespace geoblock::apply;
using namespace geoblock::test;

namespace {

net::NetList
random_list(std::mt19937_64& rng, const net::NetList& previous)
{
  net::NetList out;
  // Often a mutation of the previous list (networks leave, come, split),
  // sometimes something new.
  if (rng() % 4 != 0) {
    for (const auto& p : previous.v4) {
      if (rng() % 3 != 0) {
        out.v4.push_back(p);
      }
    }
    for (const auto& p : previous.v6) {
      if (rng() % 3 != 0) {
        out.v6.push_back(p);
      }
    }
  }
  const std::size_t n4 = rng() % 40;
  const std::size_t n6 = rng() % 25;
  for (std::size_t i = 0; i < n4; ++i) {
    out.v4.push_back(draw<std::uint32_t>(rng, 0x0a010000u, 16, 8));
  }
  if (rng() % 8 == 0) {
    // Thousands at once: the delta spans several netlink messages.
    for (std::size_t i = 0; i < 3000; ++i) {
      out.v4.push_back(
          prefix<std::uint32_t>(0x0a400000u | static_cast<std::uint32_t>((rng() % 8192) << 8), 24));
    }
  }
  const net::u128 region6 = (static_cast<net::u128>(0x20010db8u) << 96) | (static_cast<net::u128>(1) << 80);
  for (std::size_t i = 0; i < n6; ++i) {
    out.v6.push_back(draw<net::u128>(rng, region6, 48, 16));
  }
  out.v4 = net::aggregate(out.v4);
  out.v6 = net::aggregate(out.v6);
  return out;
}

std::string
describe(const net::NetList& l)
{
  std::ostringstream o;
  o << l.v4.size() << " IPv4 and " << l.v6.size() << " IPv6 networks:";
  for (const auto& p : l.v4) {
    o << ' ' << net::to_string(p);
  }
  for (const auto& p : l.v6) {
    o << ' ' << net::to_string(p);
  }
  return o.str();
}

} // namespace

TEST(NftSetWalk, EverySequenceOfContentsConverges)
{
  GEOBLOCK_REQUIRE_NETNS();
  const std::uint64_t seed = env_number("GEOBLOCK_WALK_SEED", std::random_device{}());
  const std::uint64_t steps = env_number("GEOBLOCK_WALK_STEPS", 60);
  std::printf("NftSetWalk seed %llu (replay with GEOBLOCK_WALK_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  in_fresh_netns(
      [seed, steps] {
        TempDir dir;
        ApplyOptions o = options_in(dir);
        o.force = true; // the walk changes contents freely; the shrink guard has its own tests
        auto backend = make_nftables_backend();
        std::mt19937_64 rng(seed);
        net::NetList list;
        for (std::uint64_t step = 0; step < steps; ++step) {
          const net::NetList previous = list;
          list = random_list(rng, list);
          SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step) + ": from " +
                       describe(previous) + " to " + describe(list));
          try {
            backend->apply(list, o);
          } catch (const std::exception& e) {
            FAIL() << "update failed: " << e.what();
          }
          const LiveState live = backend->read(o, true);
          const SetState* v4 = live.state.set("geoblock-v4");
          const SetState* v6 = live.state.set("geoblock-v6");
          ASSERT_NE(v4, nullptr);
          ASSERT_NE(v6, nullptr);
          ASSERT_EQ(v4->members.v4, list.v4);
          ASSERT_EQ(v6->members.v6, list.v6);
          ASSERT_TRUE(describe(diff(desired_state(list, o), live.state)).empty());
        }
      },
      std::chrono::seconds(280));
}
