// Merging, range splitting at the edges of the address space, subtraction,
// counting and the prefix-length reduction, on hand-checked examples.
#include "net/reduce.hpp"
#include "net_test_util.hpp"

namespace geoblock::net_test {
namespace {

using net::Range;

constexpr std::uint32_t k_top4 = 0xffffffffu;
constexpr u128 k_top6 = ~u128{0};

template <class A>
std::string
split(A first, A last)
{
  std::vector<net::Prefix<A>> out;
  net::split_range(Range<A>{first, last}, out);
  return str(out);
}

TEST(MergeRanges, MergesOverlappingAdjacentAndContained)
{
  const auto r =
      net::merge_ranges(v4("10.0.1.0/24 10.0.0.0/24 10.0.0.0/16 10.2.0.0/16 10.1.255.255 10.3.0.0/16 "
                           "192.168.0.1 192.168.0.1 192.168.0.3"));
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0], (Range<std::uint32_t>{0x0a000000, 0x0a00ffff}));
  EXPECT_EQ(r[1], (Range<std::uint32_t>{0x0a01ffff, 0x0a03ffff}));
  EXPECT_EQ(r[2], (Range<std::uint32_t>{0xc0a80001, 0xc0a80001}));
  EXPECT_EQ(r[3], (Range<std::uint32_t>{0xc0a80003, 0xc0a80003}));
  EXPECT_TRUE(net::merge_ranges(std::vector<Prefix4>{}).empty());
}

TEST(MergeRanges, ReachesTheTopOfTheSpace)
{
  const auto r4 = net::merge_ranges(v4("255.255.255.255 255.255.255.254 255.0.0.0/8 254.0.0.0/8"));
  ASSERT_EQ(r4.size(), 1u);
  EXPECT_EQ(r4[0], (Range<std::uint32_t>{0xfe000000, k_top4}));
  const auto r6 = net::merge_ranges(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff::/16 fffe::/16 ::/0"));
  ASSERT_EQ(r6.size(), 1u);
  EXPECT_EQ(r6[0], (Range<u128>{0, k_top6}));
}

TEST(SplitRange, EdgesOfIpv4)
{
  EXPECT_EQ(split<std::uint32_t>(0, 0), "0.0.0.0/32");
  EXPECT_EQ(split<std::uint32_t>(k_top4, k_top4), "255.255.255.255/32");
  EXPECT_EQ(split<std::uint32_t>(0, k_top4), "0.0.0.0/0");
  EXPECT_EQ(split<std::uint32_t>(0x80000000, k_top4), "128.0.0.0/1");
  EXPECT_EQ(split<std::uint32_t>(k_top4 - 1, k_top4), "255.255.255.254/31");
  EXPECT_EQ(split<std::uint32_t>(0, 2), "0.0.0.0/31 0.0.0.2/32");
  EXPECT_EQ(split<std::uint32_t>(0x0a000001, 0x0a000006), "10.0.0.1/32 10.0.0.2/31 10.0.0.4/31 10.0.0.6/32");
  // All but the first address: /32, /31, ..., /1.
  std::vector<Prefix4> out;
  net::split_range(Range<std::uint32_t>{1, k_top4}, out);
  ASSERT_EQ(out.size(), 32u);
  EXPECT_EQ(net::to_string(out.front()), "0.0.0.1/32");
  EXPECT_EQ(net::to_string(out.back()), "128.0.0.0/1");
  // All but the last address: /1, /2, ..., /32.
  out.clear();
  net::split_range(Range<std::uint32_t>{0, k_top4 - 1}, out);
  ASSERT_EQ(out.size(), 32u);
  EXPECT_EQ(net::to_string(out.front()), "0.0.0.0/1");
  EXPECT_EQ(net::to_string(out.back()), "255.255.255.254/32");
  // All but both ends: 31 networks on each side.
  out.clear();
  net::split_range(Range<std::uint32_t>{1, k_top4 - 1}, out);
  EXPECT_EQ(out.size(), 62u);
}

TEST(SplitRange, EdgesOfIpv6)
{
  EXPECT_EQ(split<u128>(0, 0), "::/128");
  EXPECT_EQ(split<u128>(k_top6, k_top6), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
  EXPECT_EQ(split<u128>(0, k_top6), "::/0");
  EXPECT_EQ(split<u128>(k_top6 - 1, k_top6), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");
  EXPECT_EQ(split<u128>(u128{1} << 127, k_top6), "8000::/1");
  EXPECT_EQ(split<u128>(0, (u128{1} << 64) - 1), "::/64");
  std::vector<Prefix6> out;
  net::split_range(Range<u128>{1, k_top6}, out);
  ASSERT_EQ(out.size(), 128u);
  EXPECT_EQ(net::to_string(out.front()), "::1/128");
  EXPECT_EQ(net::to_string(out.back()), "8000::/1");
  out.clear();
  net::split_range(Range<u128>{0, k_top6 - 1}, out);
  ASSERT_EQ(out.size(), 128u);
  EXPECT_EQ(net::to_string(out.front()), "::/1");
  EXPECT_EQ(net::to_string(out.back()), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128");
}

TEST(Aggregate, CollapsesToTheMinimalSortedList)
{
  EXPECT_EQ(str(net::aggregate(v4("10.0.0.128/25 10.0.0.0/25"))), "10.0.0.0/24");
  EXPECT_EQ(str(net::aggregate(v4("10.0.0.1 10.0.0.2/31"))), "10.0.0.1/32 10.0.0.2/31");
  EXPECT_EQ(str(net::aggregate(v4("10.0.0.0/24 10.0.0.0/24 10.0.0.7"))), "10.0.0.0/24");
  EXPECT_EQ(str(net::aggregate(v4("10.0.3.0/24 10.0.2.0/24 10.0.1.0/24 10.0.0.0/24"))), "10.0.0.0/22");
  EXPECT_EQ(str(net::aggregate(v4("10.0.1.0/24 10.0.2.0/24"))), "10.0.1.0/24 10.0.2.0/24");
  EXPECT_EQ(str(net::aggregate(v4("192.168.0.0/16 10.0.0.0/8 1.0.0.0/8"))),
            "1.0.0.0/8 10.0.0.0/8 192.168.0.0/16");
  EXPECT_EQ(str(net::aggregate(v4("0.0.0.0/1 128.0.0.0/1"))), "0.0.0.0/0");
  EXPECT_EQ(str(net::aggregate(v4("0.0.0.0/0 10.0.0.0/8"))), "0.0.0.0/0");
  EXPECT_EQ(str(net::aggregate(v4("255.255.255.255 255.255.255.254"))), "255.255.255.254/31");
  EXPECT_EQ(str(net::aggregate(v4("0.0.0.0 0.0.0.1 0.0.0.2"))), "0.0.0.0/31 0.0.0.2/32");
  EXPECT_EQ(str(net::aggregate(v6("2001:db8:0:1::/64 2001:db8::/64"))), "2001:db8::/63");
  EXPECT_EQ(str(net::aggregate(v6("::/1 8000::/1"))), "::/0");
  EXPECT_EQ(str(net::aggregate(
                v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"))),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");
  EXPECT_EQ(str(net::aggregate(v6(":: ::1 ::2"))), "::/127 ::2/128");
  EXPECT_TRUE(net::aggregate(std::vector<Prefix6>{}).empty());
}

TEST(Aggregate, LargeUnsortedInputTakesTheRadixPath)
{
  // 4096 /24s given in reverse order, every other one: nothing merges.
  std::vector<Prefix4> in;
  for (std::uint32_t i = 4096; i-- > 0;) {
    in.push_back({0x0a000000u + (i << 9), 24});
  }
  const auto out = net::aggregate(in);
  ASSERT_EQ(out.size(), 4096u);
  for (std::size_t i = 0; i < out.size(); ++i) {
    ASSERT_EQ(out[i], (Prefix4{0x0a000000u + (static_cast<std::uint32_t>(i) << 9), 24}));
  }
  // Filling the gaps merges everything into one /11.
  for (std::uint32_t i = 0; i < 4096; ++i) {
    in.push_back({0x0a000100u + (i << 9), 24});
  }
  EXPECT_EQ(str(net::aggregate(in)), "10.0.0.0/11");
}

TEST(Subtract, AllowCoveringEverythingLeavesNothing)
{
  EXPECT_EQ(str(net::subtract(v4("10.0.0.0/8 192.168.0.0/16"), v4("0.0.0.0/0"))), "");
  EXPECT_EQ(str(net::subtract(v4("10.0.0.0/24"), v4("10.0.0.0/25 10.0.0.128/25"))), "");
  EXPECT_EQ(str(net::subtract(v6("2001:db8::/32"), v6("::/0"))), "");
}

TEST(Subtract, AllowingNothingOrElsewhereOnlyAggregates)
{
  EXPECT_EQ(str(net::subtract(v4("10.0.0.128/25 10.0.0.0/25"), {})), "10.0.0.0/24");
  EXPECT_EQ(str(net::subtract(v4("10.0.0.0/24"), v4("9.0.0.0/8 11.0.0.0/8"))), "10.0.0.0/24");
  EXPECT_EQ(str(net::subtract(std::vector<Prefix4>{}, v4("10.0.0.0/8"))), "");
}

TEST(Subtract, CutsHolesAndEdges)
{
  EXPECT_EQ(
      str(net::subtract(v4("10.0.0.0/24"), v4("10.0.0.0"))),
      "10.0.0.1/32 10.0.0.2/31 10.0.0.4/30 10.0.0.8/29 10.0.0.16/28 10.0.0.32/27 10.0.0.64/26 10.0.0.128/25");
  EXPECT_EQ(str(net::subtract(v4("10.0.0.0/30"), v4("10.0.0.3"))), "10.0.0.0/31 10.0.0.2/32");
  EXPECT_EQ(str(net::subtract(v4("10.0.0.0/30"), v4("10.0.0.1 10.0.0.2"))), "10.0.0.0/32 10.0.0.3/32");
  // One allowed range spanning two blocked ranges, and the allowlist
  // itself unsorted and overlapping.
  EXPECT_EQ(str(net::subtract(v4("10.0.0.0/24 10.0.2.0/24"),
                              v4("10.0.1.0/24 10.0.0.128/25 10.0.0.192/26 10.0.2.0/25"))),
            "10.0.0.0/25 10.0.2.128/25");
  // The edges of the space.
  const auto all_but_zero = net::subtract(v4("0.0.0.0/0"), v4("0.0.0.0"));
  ASSERT_EQ(all_but_zero.size(), 32u);
  EXPECT_EQ(net::to_string(all_but_zero.front()), "0.0.0.1/32");
  EXPECT_EQ(net::to_string(all_but_zero.back()), "128.0.0.0/1");
  const auto all_but_top = net::subtract(v4("0.0.0.0/0"), v4("255.255.255.255"));
  ASSERT_EQ(all_but_top.size(), 32u);
  EXPECT_EQ(net::to_string(all_but_top.back()), "255.255.255.254/32");
  EXPECT_EQ(str(net::subtract(v4("0.0.0.0/0"), v4("0.0.0.0/1"))), "128.0.0.0/1");
  const auto v6_all_but_top = net::subtract(v6("::/0"), v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  ASSERT_EQ(v6_all_but_top.size(), 128u);
  EXPECT_EQ(net::to_string(v6_all_but_top.front()), "::/1");
  EXPECT_EQ(str(net::subtract(v6("2001:db8::/32"), v6("2001:db8:8000::/33"))), "2001:db8::/33");
}

TEST(AddressCount, CountsAndSaturates)
{
  EXPECT_EQ(net::address_count(std::vector<Prefix4>{}), u128{0});
  EXPECT_EQ(net::address_count(v4("10.0.0.0/8 1.2.3.4")), u128{(1u << 24) + 1});
  EXPECT_EQ(net::address_count(v4("0.0.0.0/0")), u128{1} << 32);
  EXPECT_EQ(net::address_count(v6("2001:db8::/64 2001:db8:1::/64")), u128{2} << 64);
  EXPECT_EQ(net::address_count(v6("::/1")), u128{1} << 127);
  // 2^128 does not fit: saturates.
  EXPECT_EQ(net::address_count(v6("::/0")), k_top6);
  EXPECT_EQ(net::address_count(v6("::/1 8000::/1")), k_top6);
}

TEST(DistinctPrefixLengths, CountsLengths)
{
  EXPECT_EQ(net::distinct_prefix_lengths(std::vector<Prefix4>{}), 0);
  EXPECT_EQ(net::distinct_prefix_lengths(v4("10.0.0.0/8 11.0.0.0/8 1.2.3.4 0.0.0.0/0")), 3);
  EXPECT_EQ(net::distinct_prefix_lengths(v6("::/0 ::1 2001:db8::/32 2001:db9::/32")), 3);
}

TEST(ReducePrefixLengths, SplitsRareLengthsWithinTheBound)
{
  const auto in = v4("10.0.0.0/23 10.0.2.0/24 10.0.4.0/24");
  // Within a bound of 3 nothing can change.
  EXPECT_EQ(str(net::reduce_prefix_lengths(in, 3)), str(in));
  // One more entry turns the /23 into two /24s: one length left.
  const auto out = net::reduce_prefix_lengths(in, 4);
  EXPECT_EQ(str(out), "10.0.0.0/24 10.0.1.0/24 10.0.2.0/24 10.0.4.0/24");
  EXPECT_EQ(net::distinct_prefix_lengths(out), 1);
  EXPECT_EQ(str(net::aggregate(out)), str(net::aggregate(in)));
}

TEST(ReducePrefixLengths, KeepsAddressesAndRespectsTheBound)
{
  // Every length from /8 to /32 once, disjoint, as aggregated data would be.
  std::vector<Prefix4> in;
  for (std::uint32_t len = 8; len <= 32; ++len) {
    in.push_back({(len << 24), static_cast<std::uint8_t>(len)});
  }
  in = net::aggregate(in);
  const int lengths = net::distinct_prefix_lengths(in);
  std::size_t previous_size = in.size();
  int previous_lengths = lengths;
  for (std::size_t bound : {in.size(), in.size() + 1, in.size() + 10, in.size() + 100, in.size() * 20}) {
    const auto out = net::reduce_prefix_lengths(in, bound);
    EXPECT_LE(out.size(), bound);
    EXPECT_GE(out.size(), previous_size);
    EXPECT_LE(net::distinct_prefix_lengths(out), previous_lengths);
    EXPECT_EQ(str(net::aggregate(out)), str(in)) << "bound " << bound;
    EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
    previous_size = out.size();
    previous_lengths = net::distinct_prefix_lengths(out);
  }
  EXPECT_LT(previous_lengths, lengths);
}

TEST(ReducePrefixLengths, Ipv6)
{
  const auto in = v6("2001:db8::/47 2001:db8:2::/48 2001:db8:3::/48 2001:db8:4::/48");
  const auto out = net::reduce_prefix_lengths(in, 5);
  EXPECT_EQ(net::distinct_prefix_lengths(out), 1);
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(str(net::aggregate(out)), str(net::aggregate(in)));
}

TEST(ReduceBound, GrowsByPercentWithAFloor)
{
  EXPECT_EQ(net::reduce_bound(1000, 20, 0), 1200u);
  EXPECT_EQ(net::reduce_bound(1000, 0, 0), 1000u);
  EXPECT_EQ(net::reduce_bound(1000, 20, 5000), 5000u);
  EXPECT_EQ(net::reduce_bound(0, 20, 0), 0u);
}

} // namespace
} // namespace geoblock::net_test
