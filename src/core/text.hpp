// Text helpers every module shares: one trim, one way to walk lines.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace geoblock::text {

// `s` without leading and trailing blanks (space, tab) and line ends
// (\r, \n).
constexpr std::string_view
trim(std::string_view s)
{
  constexpr auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && blank(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// `text` with every `from` replaced by `to` (nothing for an empty `from`).
inline std::string
replace_all(std::string text, std::string_view from, std::string_view to)
{
  if (from.empty()) {
    return text;
  }
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// The lines of a text, without their '\n'; a last line without '\n'
// counts, an empty text has none.
//   text::Lines lines(body);
//   for (std::string_view line; lines.next(line);) { ... lines.number() ... }
class Lines {
public:
  explicit constexpr Lines(std::string_view text) : m_rest(text) {}

  constexpr bool next(std::string_view& line)
  {
    if (m_rest.empty()) {
      return false;
    }
    const std::size_t nl = m_rest.find('\n');
    line = m_rest.substr(0, nl);
    m_rest.remove_prefix(nl == std::string_view::npos ? m_rest.size() : nl + 1);
    ++m_number;
    return true;
  }
  // 1 for the first line returned, 2 for the second, ...
  constexpr std::size_t number() const { return m_number; }

private:
  std::string_view m_rest;
  std::size_t m_number = 0;
};

} // namespace geoblock::text
