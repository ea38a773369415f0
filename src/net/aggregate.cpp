#include "net/aggregate.hpp"

#include <algorithm>
#include <bitset>
#include <set>

namespace geoblock::net {

namespace {

template <class A>
int
count_trailing_zeros(A v)
{
  if constexpr (sizeof(A) == 4) {
    return v == 0 ? 32 : __builtin_ctz(v);
  } else {
    const auto lo = static_cast<std::uint64_t>(v);
    if (lo != 0) {
      return __builtin_ctzll(lo);
    }
    const auto hi = static_cast<std::uint64_t>(v >> 64);
    return hi == 0 ? 128 : 64 + __builtin_ctzll(hi);
  }
}

template <class A>
int
floor_log2(A v) // v > 0
{
  if constexpr (sizeof(A) == 4) {
    return 31 - __builtin_clz(v);
  } else {
    const auto hi = static_cast<std::uint64_t>(v >> 64);
    if (hi != 0) {
      return 127 - __builtin_clzll(hi);
    }
    return 63 - __builtin_clzll(static_cast<std::uint64_t>(v));
  }
}

// LSD radix sort of IPv4 networks by address: three stable scatter passes
// of 11 bits, their histograms counted together in one read. For the half a
// million networks of a world list this is several times faster than a
// comparison sort; passes in which every address has the same digit are
// skipped.
void
radix_sort(std::vector<Prefix<std::uint32_t>>& nets)
{
  constexpr int k_bits = 11;
  constexpr int k_passes = 3;
  constexpr std::size_t k_buckets = std::size_t{1} << k_bits;
  std::vector<std::uint32_t> count(k_passes * k_buckets); // n < 2^32: checked by the caller
  for (const auto& p : nets) {
    for (int pass = 0; pass < k_passes; ++pass) {
      ++count[pass * k_buckets + ((p.addr >> (pass * k_bits)) & (k_buckets - 1))];
    }
  }
  std::vector<Prefix<std::uint32_t>> tmp(nets.size());
  for (int pass = 0; pass < k_passes; ++pass) {
    const int shift = pass * k_bits;
    std::uint32_t* const c = count.data() + pass * k_buckets;
    if (c[(nets[0].addr >> shift) & (k_buckets - 1)] == nets.size()) {
      continue;
    }
    std::uint32_t sum = 0;
    for (std::size_t b = 0; b < k_buckets; ++b) {
      const std::uint32_t n = c[b];
      c[b] = sum;
      sum += n;
    }
    for (const auto& p : nets) {
      tmp[c[(p.addr >> shift) & (k_buckets - 1)]++] = p;
    }
    nets.swap(tmp);
  }
}

// IPv6 networks are 32 bytes each, too big to move around in several radix
// passes. One in-place bucketing pass (American flag sort) on the 16 bits
// below the highest bit in which the addresses differ splits them into
// small groups that std::sort then orders within the cache.
void
bucket_sort(std::vector<Prefix<u128>>& nets)
{
  constexpr int k_bits = 16;
  constexpr std::size_t k_buckets = std::size_t{1} << k_bits;
  u128 differ = 0;
  for (const auto& p : nets) {
    differ |= p.addr ^ nets[0].addr;
  }
  const int top = floor_log2(differ); // differ != 0: the input is not sorted
  const int shift = std::max(0, top + 1 - k_bits);
  const auto bucket = [shift](const Prefix<u128>& p) {
    return static_cast<std::size_t>(p.addr >> shift) & (k_buckets - 1);
  };
  std::vector<std::size_t> end(k_buckets);
  for (const auto& p : nets) {
    ++end[bucket(p)];
  }
  std::vector<std::size_t> next(k_buckets);
  std::size_t sum = 0;
  for (std::size_t b = 0; b < k_buckets; ++b) {
    next[b] = sum;
    sum += end[b];
    end[b] = sum;
  }
  for (std::size_t b = 0; b < k_buckets; ++b) {
    while (next[b] < end[b]) {
      const std::size_t d = bucket(nets[next[b]]);
      if (d == b) {
        ++next[b];
      } else {
        std::swap(nets[next[b]], nets[next[d]++]);
      }
    }
  }
  const auto by_address = [](const Prefix<u128>& x, const Prefix<u128>& y) { return x.addr < y.addr; };
  std::size_t start = 0;
  for (std::size_t b = 0; b < k_buckets; ++b) {
    std::sort(nets.begin() + static_cast<std::ptrdiff_t>(start),
              nets.begin() + static_cast<std::ptrdiff_t>(end[b]), by_address);
    start = end[b];
  }
}

// Orders networks by address only: the sweep in merge_ranges takes the
// furthest end among equal starts, so the order of ties does not matter.
template <class A>
void
sort_by_address(std::vector<Prefix<A>>& nets)
{
  const auto by_address = [](const Prefix<A>& x, const Prefix<A>& y) { return x.addr < y.addr; };
  // A single country's zone usually arrives sorted.
  if (std::is_sorted(nets.begin(), nets.end(), by_address)) {
    return;
  }
  if (nets.size() >= 256) {
    if constexpr (sizeof(A) == 4) {
      if (nets.size() < (std::size_t{1} << 32)) {
        radix_sort(nets);
        return;
      }
      std::sort(nets.begin(), nets.end(), by_address);
    } else {
      bucket_sort(nets);
    }
    return;
  }
  std::sort(nets.begin(), nets.end(), by_address);
}

} // namespace

template <class A>
std::vector<Range<A>>
merge_ranges(std::vector<Prefix<A>> nets)
{
  std::vector<Range<A>> out;
  if (nets.empty()) {
    return out;
  }
  sort_by_address(nets);
  Range<A> cur{nets[0].first(), nets[0].last()};
  for (std::size_t i = 1; i < nets.size(); ++i) {
    const A first = nets[i].first();
    const A last = nets[i].last();
    // Overlap or adjacency; cur.last + 1 cannot overflow here because
    // first > cur.last would be impossible when cur.last is the top.
    if (first <= cur.last || first == static_cast<A>(cur.last + 1)) {
      if (last > cur.last) {
        cur.last = last;
      }
      if (cur.last == static_cast<A>(~A{0})) {
        // Nothing can follow the top of the address space.
        break;
      }
    } else {
      out.push_back(cur);
      cur = {first, last};
    }
  }
  out.push_back(cur);
  return out;
}

template <class A>
void
split_range(Range<A> r, std::vector<Prefix<A>>& out)
{
  A first = r.first;
  for (;;) {
    // The largest aligned block starting at `first` that fits.
    int k = count_trailing_zeros(first);
    const A span = static_cast<A>(r.last - first); // size - 1
    if (span != static_cast<A>(~A{0})) {
      k = std::min(k, floor_log2(static_cast<A>(span + 1)));
    }
    out.push_back({first, static_cast<std::uint8_t>(kBits<A> - k)});
    const A block_last = static_cast<A>(first | static_cast<A>(~mask<A>(kBits<A> - k)));
    if (block_last >= r.last) {
      return;
    }
    first = static_cast<A>(block_last + 1);
  }
}

template <class A>
std::vector<Prefix<A>>
aggregate(std::vector<Prefix<A>> nets)
{
  std::vector<Prefix<A>> out;
  for (const Range<A>& r : merge_ranges(std::move(nets))) {
    split_range(r, out);
  }
  return out;
}

template <class A>
std::vector<Prefix<A>>
subtract(std::vector<Prefix<A>> blocked, std::vector<Prefix<A>> allowed)
{
  const std::vector<Range<A>> b = merge_ranges(std::move(blocked));
  const std::vector<Range<A>> a = merge_ranges(std::move(allowed));
  std::vector<Prefix<A>> out;
  std::size_t j = 0;
  for (Range<A> r : b) {
    // Skip allowed ranges wholly below this one.
    while (j < a.size() && a[j].last < r.first) {
      ++j;
    }
    std::size_t k = j;
    bool done = false;
    while (k < a.size() && a[k].first <= r.last) {
      if (a[k].first > r.first) {
        split_range(Range<A>{r.first, static_cast<A>(a[k].first - 1)}, out);
      }
      if (a[k].last >= r.last) {
        done = true;
        break;
      }
      r.first = static_cast<A>(a[k].last + 1);
      ++k;
    }
    if (!done) {
      split_range(r, out);
    }
  }
  return out;
}

template <class A>
std::vector<std::vector<Prefix<A>>>
partition(const std::vector<std::vector<Prefix<A>>>& lists)
{
  // Boundaries: a list's range starts at its first address and stops
  // before last + 1 (no stop for a range reaching the top).
  struct Event {
    A at;
    std::size_t list;
    bool start;
  };
  std::vector<Event> events;
  for (std::size_t i = 0; i < lists.size(); ++i) {
    for (const Range<A>& r : merge_ranges(lists[i])) {
      events.push_back(Event{r.first, i, true});
      if (r.last != static_cast<A>(~A{0})) {
        events.push_back(Event{static_cast<A>(r.last + 1), i, false});
      }
    }
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.at < b.at; });
  std::vector<std::vector<Range<A>>> owned(lists.size());
  const auto own = [&](std::size_t list, A first, A last) {
    auto& ranges = owned[list];
    if (!ranges.empty() && ranges.back().last != static_cast<A>(~A{0}) &&
        static_cast<A>(ranges.back().last + 1) == first) {
      ranges.back().last = last;
    } else {
      ranges.push_back(Range<A>{first, last});
    }
  };
  std::set<std::size_t> active; // each list's ranges are disjoint: in or out
  A from = 0;
  for (std::size_t e = 0; e < events.size();) {
    const A at = events[e].at;
    if (!active.empty() && at > from) {
      own(*active.begin(), from, static_cast<A>(at - 1));
    }
    for (; e < events.size() && events[e].at == at; ++e) {
      if (events[e].start) {
        active.insert(events[e].list);
      } else {
        active.erase(events[e].list);
      }
    }
    from = at;
  }
  if (!active.empty()) {
    own(*active.begin(), from, static_cast<A>(~A{0}));
  }
  std::vector<std::vector<Prefix<A>>> out(lists.size());
  for (std::size_t i = 0; i < lists.size(); ++i) {
    for (const Range<A>& r : owned[i]) {
      split_range(r, out[i]);
    }
  }
  return out;
}

template <class A>
u128
address_count(const std::vector<Prefix<A>>& nets)
{
  u128 total = 0;
  for (const Prefix<A>& p : nets) {
    if (p.len == 0 && sizeof(A) == 16) {
      return ~u128{0};
    }
    const u128 n = u128{1} << (kBits<A> - p.len);
    total = total + n < total ? ~u128{0} : total + n;
  }
  return total;
}

template <class A>
int
distinct_prefix_lengths(const std::vector<Prefix<A>>& nets)
{
  std::bitset<129> seen;
  for (const Prefix<A>& p : nets) {
    seen.set(p.len);
  }
  return static_cast<int>(seen.count());
}

#define GEOBLOCK_INSTANTIATE(A)                                                                              \
  template std::vector<Range<A>> merge_ranges(std::vector<Prefix<A>>);                                       \
  template void split_range(Range<A>, std::vector<Prefix<A>>&);                                              \
  template std::vector<Prefix<A>> aggregate(std::vector<Prefix<A>>);                                         \
  template std::vector<Prefix<A>> subtract(std::vector<Prefix<A>>, std::vector<Prefix<A>>);                  \
  template std::vector<std::vector<Prefix<A>>> partition(const std::vector<std::vector<Prefix<A>>>&);        \
  template u128 address_count(const std::vector<Prefix<A>>&);                                                \
  template int distinct_prefix_lengths(const std::vector<Prefix<A>>&);

GEOBLOCK_INSTANTIATE(std::uint32_t)
GEOBLOCK_INSTANTIATE(u128)

} // namespace geoblock::net
