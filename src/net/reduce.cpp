#include "net/reduce.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace geoblock::net {

std::size_t
reduce_bound(std::size_t entries, double percent, std::size_t min_entries)
{
  const double grown = std::floor(static_cast<double>(entries) * (1.0 + percent / 100.0));
  const double cap = static_cast<double>(std::numeric_limits<std::size_t>::max() / 2);
  const std::size_t bound = grown >= cap ? static_cast<std::size_t>(cap) : static_cast<std::size_t>(grown);
  return std::max({bound, min_entries, entries});
}

template <class A>
std::vector<Prefix<A>>
reduce_prefix_lengths(const std::vector<Prefix<A>>& nets, std::size_t max_entries)
{
  constexpr int bits = kBits<A>;
  std::array<std::size_t, bits + 1> count{};
  for (const Prefix<A>& p : nets) {
    ++count[p.len];
  }
  std::size_t total = nets.size();
  // target[L]: the length that networks of length L are split into.
  std::array<int, bits + 1> target{};
  for (int l = 0; l <= bits; ++l) {
    target[l] = l;
  }
  for (;;) {
    int best = -1;
    std::size_t best_cost = std::numeric_limits<std::size_t>::max();
    int best_next = -1;
    for (int l = 0; l < bits; ++l) {
      if (count[l] == 0) {
        continue;
      }
      int next = l + 1;
      while (next <= bits && count[next] == 0) {
        ++next;
      }
      if (next > bits || next - l >= 40) {
        continue;
      }
      const std::size_t factor = std::size_t{1} << (next - l);
      if (count[l] > std::numeric_limits<std::size_t>::max() / factor) {
        continue;
      }
      const std::size_t cost = count[l] * (factor - 1);
      if (cost < best_cost) {
        best = l;
        best_cost = cost;
        best_next = next;
      }
    }
    if (best < 0 || total + best_cost > max_entries) {
      break;
    }
    total += best_cost;
    count[best_next] += count[best] << (best_next - best);
    count[best] = 0;
    for (int l = 0; l <= bits; ++l) {
      if (target[l] == best) {
        target[l] = best_next;
      }
    }
  }
  std::vector<Prefix<A>> out;
  out.reserve(total);
  for (const Prefix<A>& p : nets) {
    const int t = target[p.len];
    if (t == p.len) {
      out.push_back(p);
      continue;
    }
    const A step = static_cast<A>(A{1} << (bits - t));
    const std::size_t n = std::size_t{1} << (t - p.len);
    A addr = p.addr;
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back({addr, static_cast<std::uint8_t>(t)});
      addr = static_cast<A>(addr + step);
    }
  }
  return out;
}

template std::vector<Prefix<std::uint32_t>> reduce_prefix_lengths(const std::vector<Prefix<std::uint32_t>>&,
                                                                  std::size_t);
template std::vector<Prefix<u128>> reduce_prefix_lengths(const std::vector<Prefix<u128>>&, std::size_t);

} // namespace geoblock::net
