// net::partition: lists made disjoint by precedence, checked against its
// definition (each list minus every list before it, by net::subtract) on
// random lists that overlap, nest, touch and reach both ends of the
// address space, in both families.
#include "net/aggregate.hpp"

#include <gtest/gtest.h>

#include <random>

namespace {

using namespace geoblock::net;

template <class A>
Prefix<A>
random_prefix(std::mt19937_64& rng)
{
  constexpr int bits = kBits<A>;
  // Mostly inside one small region so that lists collide; now and then a
  // short prefix or one at either end of the address space.
  const int kind = static_cast<int>(rng() % 10);
  int len = 0;
  A addr = 0;
  if (kind == 0) {
    len = static_cast<int>(rng() % 9);
    addr = static_cast<A>(static_cast<A>(rng()) << (bits - 8));
  } else if (kind == 1) {
    len = bits - static_cast<int>(rng() % 12);
    addr = rng() % 2 ? A{0} : static_cast<A>(~A{0});
  } else {
    len = bits - static_cast<int>(rng() % 12);
    addr = static_cast<A>(static_cast<A>(A{10} << (bits - 8)) | static_cast<A>(rng() % 4096));
  }
  return Prefix<A>{static_cast<A>(addr & mask<A>(len)), static_cast<std::uint8_t>(len)};
}

template <class A>
void
check(std::mt19937_64& rng)
{
  std::vector<std::vector<Prefix<A>>> lists(1 + rng() % 8);
  for (auto& l : lists) {
    const std::size_t n = rng() % 20;
    for (std::size_t i = 0; i < n; ++i) {
      l.push_back(random_prefix<A>(rng));
    }
  }
  const auto got = partition(lists);
  ASSERT_EQ(got.size(), lists.size());
  std::vector<Prefix<A>> before;
  for (std::size_t i = 0; i < lists.size(); ++i) {
    EXPECT_EQ(got[i], subtract(lists[i], before)) << "list " << i;
    before.insert(before.end(), lists[i].begin(), lists[i].end());
  }
}

TEST(Partition, EachListIsItselfMinusTheListsBeforeIt)
{
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 2000; ++round) {
    check<std::uint32_t>(rng);
    check<u128>(rng);
  }
}

TEST(Partition, AdjacentListsStayApartAndTheWholeSpaceIsOneListsOnly)
{
  using P = Prefix<std::uint32_t>;
  const P a{0x0a000000u, 24}, b{0x0a000100u, 24}; // 10.0.0.0/24, 10.0.1.0/24: adjacent
  const auto got = partition<std::uint32_t>({{a}, {b}});
  EXPECT_EQ(got[0], std::vector<P>{a});
  EXPECT_EQ(got[1], std::vector<P>{b});
  const auto all = partition<std::uint32_t>({{P{0, 0}}, {a, b}});
  EXPECT_EQ(all[0], (std::vector<P>{P{0, 0}}));
  EXPECT_TRUE(all[1].empty());
}

} // namespace
