// Fewer distinct prefix lengths for hash:net (like iprange --ipset-reduce).
//
// A hash:net lookup probes once per distinct prefix length in the set, so a
// set with 20 lengths costs 20 hash probes per packet. Splitting every
// network of a rare length into networks of the next longer length that is
// already present removes one probe at the price of more entries. The
// addresses covered stay exactly the same.
#pragma once

#include "net/cidr.hpp"

#include <cstddef>
#include <vector>

namespace geoblock::net {

// Greedily removes the prefix length whose removal adds the fewest entries,
// as long as the total stays <= max_entries. `nets` must be aggregated
// (disjoint, sorted); the result is sorted and disjoint.
template <class A>
std::vector<Prefix<A>> reduce_prefix_lengths(const std::vector<Prefix<A>>& nets, std::size_t max_entries);

// The entry bound for a growth of `percent` over `entries`, and at least
// `min_entries`.
std::size_t reduce_bound(std::size_t entries, double percent, std::size_t min_entries);

} // namespace geoblock::net
