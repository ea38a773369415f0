#include "net/cidr.hpp"

#include <array>

namespace geoblock::net {

const char*
family_name(Family f)
{
  return f == Family::V4 ? "IPv4" : "IPv6";
}

const char*
family_key(Family f)
{
  return f == Family::V4 ? "v4" : "v6";
}

std::optional<Families>
parse_families(std::string_view text)
{
  if (text == "v4" || text == "ipv4" || text == "4") {
    return Families::V4;
  }
  if (text == "v6" || text == "ipv6" || text == "6") {
    return Families::V6;
  }
  if (text == "both" || text == "all") {
    return Families::Both;
  }
  return std::nullopt;
}

std::optional<std::uint32_t>
parse_v4(std::string_view text)
{
  std::uint32_t result = 0;
  std::size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= text.size() || text[i] != '.') {
        return std::nullopt;
      }
      ++i;
    }
    const std::size_t start = i;
    unsigned value = 0;
    while (i < text.size() && i - start < 4 && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    const std::size_t digits = i - start;
    // Leading zeros are refused: "010" is octal to inet_aton and decimal to
    // others, and a blocklist must not guess.
    if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && text[start] == '0')) {
      return std::nullopt;
    }
    result = (result << 8) | value;
  }
  if (i != text.size()) {
    return std::nullopt;
  }
  return result;
}

namespace {

int
hex_value(char c)
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

} // namespace

std::optional<u128>
parse_v6(std::string_view text)
{
  std::array<std::uint16_t, 8> groups{};
  int count = 0;   // groups written
  int gap_at = -1; // index where "::" stands
  std::size_t i = 0;
  const std::size_t n = text.size();
  if (n < 2) {
    return std::nullopt;
  }
  if (text[0] == ':') {
    if (text[1] != ':') {
      return std::nullopt;
    }
    gap_at = 0;
    i = 2;
    if (i == n) {
      return u128{0};
    }
  }
  while (i < n) {
    if (count == 8) {
      return std::nullopt;
    }
    unsigned value = 0;
    const std::size_t start = i;
    while (i < n && i - start < 5) {
      const int h = hex_value(text[i]);
      if (h < 0) {
        break;
      }
      value = (value << 4) | static_cast<unsigned>(h);
      ++i;
    }
    // A '.' right after the digits means this is the trailing dotted quad,
    // which fills the last two groups. (Noticing it here rather than
    // searching ahead keeps the parse to one pass over the text.)
    if (i < n && text[i] == '.') {
      if (count > 6) {
        return std::nullopt;
      }
      const auto v4 = parse_v4(text.substr(start));
      if (!v4) {
        return std::nullopt;
      }
      groups[count++] = static_cast<std::uint16_t>(*v4 >> 16);
      groups[count++] = static_cast<std::uint16_t>(*v4 & 0xffff);
      i = n;
      break;
    }
    const std::size_t digits = i - start;
    if (digits == 0 || digits > 4) {
      return std::nullopt;
    }
    groups[count++] = static_cast<std::uint16_t>(value);
    if (i == n) {
      break;
    }
    if (text[i] != ':') {
      return std::nullopt;
    }
    ++i;
    if (i < n && text[i] == ':') {
      if (gap_at >= 0) {
        return std::nullopt; // a second "::"
      }
      gap_at = count;
      ++i;
      if (i == n) {
        break;
      }
    } else if (i == n) {
      return std::nullopt; // a single trailing ':'
    }
  }
  if (gap_at < 0) {
    if (count != 8) {
      return std::nullopt;
    }
  } else {
    // "::" stands for at least one zero group.
    if (count > 7) {
      return std::nullopt;
    }
    const int zeros = 8 - count;
    for (int k = count - 1; k >= gap_at; --k) {
      groups[k + zeros] = groups[k];
    }
    for (int k = gap_at; k < gap_at + zeros; ++k) {
      groups[k] = 0;
    }
  }
  u128 result = 0;
  for (std::uint16_t g : groups) {
    result = (result << 16) | g;
  }
  return result;
}

void
append_address(std::string& out, std::uint32_t a)
{
  char buf[16];
  char* p = buf;
  for (int shift = 24; shift >= 0; shift -= 8) {
    unsigned v = (a >> shift) & 0xff;
    if (v >= 100) {
      *p++ = static_cast<char>('0' + v / 100);
    }
    if (v >= 10) {
      *p++ = static_cast<char>('0' + v / 10 % 10);
    }
    *p++ = static_cast<char>('0' + v % 10);
    if (shift) {
      *p++ = '.';
    }
  }
  out.append(buf, p);
}

void
append_address(std::string& out, u128 a)
{
  std::array<unsigned, 8> g{};
  for (int k = 7; k >= 0; --k) {
    g[k] = static_cast<unsigned>(a & 0xffff);
    a >>= 16;
  }
  // RFC 5952: the longest run (first on a tie) of at least two zero groups.
  int best = -1;
  int best_len = 1;
  for (int k = 0; k < 8;) {
    if (g[k] != 0) {
      ++k;
      continue;
    }
    int e = k;
    while (e < 8 && g[e] == 0) {
      ++e;
    }
    if (e - k > best_len) {
      best = k;
      best_len = e - k;
    }
    k = e;
  }
  static const char* hex = "0123456789abcdef";
  char buf[48];
  char* p = buf;
  for (int k = 0; k < 8; ++k) {
    if (k == best) {
      *p++ = ':';
      if (k == 0) {
        *p++ = ':';
      }
      k += best_len - 1;
      continue;
    }
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned d = (g[k] >> shift) & 0xf;
      if (d || started || shift == 0) {
        *p++ = hex[d];
        started = true;
      }
    }
    if (k < 7) {
      *p++ = ':';
    }
  }
  out.append(buf, p);
}

std::string
address_to_string(std::uint32_t a)
{
  std::string s;
  append_address(s, a);
  return s;
}

std::string
address_to_string(u128 a)
{
  std::string s;
  append_address(s, a);
  return s;
}

std::string
u128_to_string(u128 v)
{
  if (v == 0) {
    return "0";
  }
  std::string s;
  while (v) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return s;
}

} // namespace geoblock::net
