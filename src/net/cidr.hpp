// Addresses and networks of both families.
//
// An IPv4 address is a uint32_t, an IPv6 address an unsigned 128-bit
// integer, both in host order so that arithmetic and ordering are plain
// integer operations. Everything that works on networks is one template over
// the address type (Prefix<A>), so the two families share every algorithm.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::net {

__extension__ typedef unsigned __int128 u128;

enum class Family { V4, V6 };

// Which families a command works on ("v4", "v6", "both").
enum class Families { V4, V6, Both };

const char* family_name(Family f); // "IPv4" / "IPv6"
const char* family_key(Family f);  // "v4" / "v6"
// 0 for IPv4, 1 for IPv6: an index into per-family arrays.
constexpr std::size_t
family_index(Family f)
{
  return f == Family::V4 ? 0 : 1;
}
std::optional<Families> parse_families(std::string_view text);
inline bool
includes(Families fs, Family f)
{
  return fs == Families::Both || (fs == Families::V4) == (f == Family::V4);
}

template <class A> inline constexpr int kBits = static_cast<int>(sizeof(A) * 8);
template <class A> inline constexpr Family kFamily = sizeof(A) == 4 ? Family::V4 : Family::V6;

// The network mask of a prefix length (0..kBits<A>).
template <class A>
constexpr A
mask(int len)
{
  return len == 0 ? A{0} : static_cast<A>(~A{0} << (kBits<A> - len));
}

// A network: the address with no host bits set and the prefix length.
template <class A> struct Prefix {
  A addr{};
  std::uint8_t len{};

  A first() const { return addr; }
  A last() const { return addr | static_cast<A>(~mask<A>(len)); }
  bool contains(A a) const { return (a & mask<A>(len)) == addr; }
  friend bool operator==(const Prefix&, const Prefix&) = default;
  friend auto operator<=>(const Prefix& x, const Prefix& y)
  {
    if (x.addr != y.addr) {
      return x.addr < y.addr ? std::strong_ordering::less : std::strong_ordering::greater;
    }
    return x.len <=> y.len;
  }
};

using Prefix4 = Prefix<std::uint32_t>;
using Prefix6 = Prefix<u128>;

// An inclusive range of addresses.
template <class A> struct Range {
  A first{};
  A last{};
  friend bool operator==(const Range&, const Range&) = default;
};

// Networks of both families, as read from one or more sources.
struct NetList {
  std::vector<Prefix4> v4;
  std::vector<Prefix6> v6;

  template <class A> std::vector<Prefix<A>>& of()
  {
    if constexpr (sizeof(A) == 4) {
      return v4;
    } else {
      return v6;
    }
  }
  template <class A> const std::vector<Prefix<A>>& of() const
  {
    if constexpr (sizeof(A) == 4) {
      return v4;
    } else {
      return v6;
    }
  }
  std::size_t size() const { return v4.size() + v6.size(); }
  bool empty() const { return v4.empty() && v6.empty(); }
};

// Strict address parsers: dotted quad without leading zeros; RFC 4291 text
// form (with at most one "::" and an optional trailing dotted quad), no zone
// index. They return nothing on any deviation.
std::optional<std::uint32_t> parse_v4(std::string_view text);
std::optional<u128> parse_v6(std::string_view text);

// Output: dotted quad and the RFC 5952 canonical IPv6 form (lower case,
// longest run of two or more zero groups as "::").
void append_address(std::string& out, std::uint32_t a);
void append_address(std::string& out, u128 a);
template <class A>
void
append_prefix(std::string& out, const Prefix<A>& p)
{
  append_address(out, p.addr);
  out += '/';
  out += std::to_string(p.len);
}
template <class A>
std::string
to_string(const Prefix<A>& p)
{
  std::string s;
  append_prefix(s, p);
  return s;
}
std::string address_to_string(std::uint32_t a);
std::string address_to_string(u128 a);

// Decimal text of a 128-bit number.
std::string u128_to_string(u128 v);

} // namespace geoblock::net
