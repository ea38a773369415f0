// Helpers shared by the libFuzzer targets (tests/fuzz/*_fuzz.cpp).
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace geoblock::fuzz {

// A property does not hold: say which, and abort, which libFuzzer reports
// as a crash (the input is kept as an artifact).
[[noreturn]] inline void
fail(const char* property)
{
  std::fprintf(stderr, "fuzz property failed: %s\n", property);
  std::abort();
}

inline void
check(bool ok, const char* property)
{
  if (!ok) {
    fail(property);
  }
}

// Splits `text` at the lines "---" into at most `n` parts (the line ending
// before the separator stays with the part before it); missing parts are
// empty. Lets one input carry several files.
inline std::vector<std::string_view>
split_parts(std::string_view text, std::size_t n)
{
  constexpr std::string_view k_separator = "\n---\n";
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < n) {
    const std::size_t at = text.find(k_separator);
    if (at == std::string_view::npos) {
      break;
    }
    parts.push_back(text.substr(0, at + 1));
    text.remove_prefix(at + k_separator.size());
  }
  parts.push_back(text);
  parts.resize(n);
  return parts;
}

inline bool
is_lower_hex(std::string_view s, std::size_t digits)
{
  if (s.size() != digits) {
    return false;
  }
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

inline bool
is_lower_code(std::string_view s)
{
  return s.size() == 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z';
}

} // namespace geoblock::fuzz
