// Random networks for the set and map walks against the kernel
// (nft_set_walk_test.cpp, nft_map_walk_test.cpp): drawn so that
// consecutive draws overlap, nest and touch.
#pragma once

#include "net/cidr.hpp"

#include <cstdint>
#include <cstdlib>
#include <random>

namespace geoblock::test {

inline std::uint64_t
env_number(const char* name, std::uint64_t fallback)
{
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

template <class A>
net::Prefix<A>
prefix(A addr, int len)
{
  return net::Prefix<A>{static_cast<A>(addr & net::mask<A>(len)), static_cast<std::uint8_t>(len)};
}

// Networks drawn so that consecutive draws overlap, nest and touch: most
// start at one of 32 places of one small region (10.1.0.0/16,
// 2001:db8:1::/48), with any length from a /19 (a /51) to a single
// address; a few are whole /8s (/16s) or at the very top of the address
// space (no end element there).
template <class A>
net::Prefix<A>
draw(std::mt19937_64& rng, A region, int region_len, int top_len)
{
  constexpr int bits = net::kBits<A>;
  const int kind = static_cast<int>(rng() % 20);
  if (kind == 0) {
    return prefix<A>(static_cast<A>(static_cast<A>(rng()) << (bits - top_len)), top_len);
  }
  if (kind == 1) {
    return prefix<A>(static_cast<A>(~A{0}), bits - static_cast<int>(rng() % 9));
  }
  const int len =
      region_len + 3 + static_cast<int>(rng() % static_cast<std::uint64_t>(bits - region_len - 2));
  const A place = static_cast<A>(static_cast<A>(rng() % 32) << (bits - region_len - 5));
  // Sometimes a little further in, so networks touch without nesting.
  const A nudge = rng() % 3 == 0 ? static_cast<A>(A{1} << (bits - len)) : A{0};
  return prefix<A>(static_cast<A>(region | place) + nudge, len);
}

} // namespace geoblock::test
