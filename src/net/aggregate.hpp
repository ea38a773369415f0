// Collapsing networks into the minimal equivalent list.
//
// Every function here is one template over the address type, explicitly
// instantiated for std::uint32_t (IPv4) and u128 (IPv6).
#pragma once

#include "net/cidr.hpp"

#include <cstddef>
#include <vector>

namespace geoblock::net {

// Sorted, disjoint, non-adjacent ranges covering exactly the addresses of
// `nets` (merges overlapping and adjacent networks).
template <class A> std::vector<Range<A>> merge_ranges(std::vector<Prefix<A>> nets);

// The fewest networks that cover [first, last] exactly, in address order.
template <class A> void split_range(Range<A> r, std::vector<Prefix<A>>& out);

// The minimal sorted list of networks covering exactly the addresses of
// `nets`.
template <class A> std::vector<Prefix<A>> aggregate(std::vector<Prefix<A>> nets);

// The minimal sorted list covering the addresses of `blocked` that are not
// in `allowed`. Neither input needs to be aggregated.
template <class A>
std::vector<Prefix<A>> subtract(std::vector<Prefix<A>> blocked, std::vector<Prefix<A>> allowed);

// The lists made disjoint by precedence: out[i] holds the addresses of
// lists[i] that no list before it holds (lists[i] minus lists[0..i-1]),
// minimal and sorted. One sweep over all of them, so a world of sources
// costs one sort, not one subtraction per source.
template <class A>
std::vector<std::vector<Prefix<A>>> partition(const std::vector<std::vector<Prefix<A>>>& lists);

// The addresses of `nets`, which must be disjoint (e.g. aggregated).
// Saturates at the largest u128 for ::/0 (2^128 does not fit).
template <class A> u128 address_count(const std::vector<Prefix<A>>& nets);

// How many distinct prefix lengths `nets` holds: a hash:net lookup costs
// one probe per distinct length.
template <class A> int distinct_prefix_lengths(const std::vector<Prefix<A>>& nets);

} // namespace geoblock::net
