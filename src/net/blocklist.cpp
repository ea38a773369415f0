#include "net/blocklist.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

namespace geoblock::net {

ZoneStats
parse_blocklist(std::string_view text, const std::string& source, const ZoneOptions& options, NetList& out)
{
  // Into a list of its own first: a refused list must add nothing.
  NetList parsed;
  ZoneStats stats;
  text::Lines lines(text);
  for (std::string_view raw; lines.next(raw);) {
    ++stats.lines;
    std::string_view line = raw.substr(0, raw.find_first_of("#;"));
    line = text::trim(line);
    if (line.empty()) {
      continue;
    }
    const bool several = line.find_first_of(" \t") != std::string_view::npos;
    std::string problem;
    if (several || !parse_network(line, parsed, &problem)) {
      // Name the likeliest cause: an error page or a binary file served in
      // place of the list says more than "not a network".
      problem = line.front() == '<'                        ? "HTML, not a list of networks"
                : raw.find('\0') != std::string_view::npos ? "binary data (NUL byte)"
                : several                                  ? "more than one field on the line"
                                                           : problem;
      throw ParseError(source, lines.number(), std::string(text::trim(raw)), problem);
    }
    const bool v4 = line.find(':') == std::string_view::npos;
    const Family family = v4 ? Family::V4 : Family::V6;
    const int len = v4 ? parsed.v4.back().len : parsed.v6.back().len;
    if (std::string guard = prefix_problem(options, family, len); !guard.empty()) {
      throw ParseError(source, lines.number(), std::string(line), guard);
    }
    ++stats.networks;
    ++(v4 ? stats.v4 : stats.v6);
  }
  out.v4.insert(out.v4.end(), parsed.v4.begin(), parsed.v4.end());
  out.v6.insert(out.v6.end(), parsed.v6.begin(), parsed.v6.end());
  return stats;
}

std::string
blocklist_name(std::string_view location)
{
  std::string_view s = location;
  if (const std::size_t scheme = s.find("://"); scheme != std::string_view::npos) {
    s.remove_prefix(scheme + 3);
    s = s.substr(0, s.find_first_of("?#"));
  }
  while (!s.empty() && s.back() == '/') {
    s.remove_suffix(1);
  }
  const std::size_t slash = s.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? s : s.substr(slash + 1);
  return base.empty() ? std::string(location) : std::string(base);
}

} // namespace geoblock::net
