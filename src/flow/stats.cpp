#include "flow/stats.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

namespace geoblock::flow {

namespace {

// "1234567" -> "1,234,567".
std::string
grouped(std::uint64_t n)
{
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out += ',';
    }
    out += digits[i];
  }
  return out;
}

// "0 B", "512 B", "1.5 KiB", "3.2 GiB".
std::string
human_bytes(std::uint64_t n)
{
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (n < 1024) {
    return std::to_string(n) + " B";
  }
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

// Display width of a UTF-8 string whose every code point takes one cell.
std::size_t
cells(const std::string& s)
{
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string
pad(const std::string& s, std::size_t width, bool right)
{
  const std::size_t n = cells(s);
  const std::string fill(n < width ? width - n : 0, ' ');
  return right ? fill + s : s + fill;
}

} // namespace

std::vector<SourceCounter>
counters_of(const apply::FirewallState& live, const apply::RulesConfig& config)
{
  const std::string prefix = apply::source_chain(config.set_name, "");
  std::vector<SourceCounter> out;
  for (const apply::ChainState& c : live.chains) {
    if (!c.own || c.chain.rfind(prefix, 0) != 0 || c.chain.size() == prefix.size()) {
      continue;
    }
    SourceCounter r;
    r.source = c.chain.substr(prefix.size());
    r.family = net::family_key(c.family);
    r.direction = "in";
    // Where it was counted: the hooks of the chain's table that look the
    // sources up.
    for (const apply::Hook& h : apply::hooks_of(config)) {
      if (h.table == c.table) {
        std::string name = h.table == "filter" ? h.chain : h.table;
        std::transform(name.begin(), name.end(), name.begin(), [](char ch) {
          return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
        });
        r.hook += (r.hook.empty() ? "" : "+") + name;
      }
    }
    r.hook = r.hook.empty() ? c.table : r.hook;
    r.action = "count";
    for (std::size_t i = 0; i < c.rules.size(); ++i) {
      const apply::Rule& rule = c.rules[i];
      const bool acts = apply::blocks(rule.action) || (rule.action == apply::Action::Return &&
                                                       !rule.match.icmpv6_type && rule.match.dports.empty());
      if (!acts) {
        continue;
      }
      if (rule.action == apply::Action::Drop) {
        r.action = r.action == "limit" ? "limit" : "drop";
      } else if (apply::blocks(rule.action)) {
        r.action = "reject";
      } else if (!rule.match.limit.empty()) {
        r.action = "limit";
      }
      if (i < c.counters.size()) {
        r.packets += c.counters[i].packets;
        r.bytes += c.counters[i].bytes;
      }
    }
    out.push_back(std::move(r));
  }
  sort_counters(out);
  return out;
}

void
sort_counters(std::vector<SourceCounter>& rows)
{
  std::sort(rows.begin(), rows.end(), [](const SourceCounter& a, const SourceCounter& b) {
    return std::tie(b.packets, b.bytes, a.source, a.family, a.direction, a.hook, a.action) <
           std::tie(a.packets, a.bytes, b.source, b.family, b.direction, b.hook, b.action);
  });
}

util::Json
stats_json(std::vector<SourceCounter> rows, std::size_t top)
{
  sort_counters(rows);
  if (top != 0 && rows.size() > top) {
    rows.resize(top);
  }
  util::Json list = util::Json::array();
  for (const SourceCounter& r : rows) {
    util::Json o = util::Json::object();
    o.set("source", r.source);
    o.set("family", r.family);
    o.set("direction", r.direction);
    o.set("hook", r.hook);
    o.set("action", r.action);
    o.set("packets", r.packets);
    o.set("bytes", r.bytes);
    list.push(std::move(o));
  }
  util::Json doc = util::Json::object();
  doc.set("counters", std::move(list));
  return doc;
}

std::vector<SourceCounter>
counters_from_json(const util::Json& counters)
{
  std::vector<SourceCounter> out;
  if (!counters.is_array()) {
    return out;
  }
  for (const util::Json& o : counters.items()) {
    if (!o.is_object()) {
      continue;
    }
    SourceCounter r;
    r.source = o.get("source").as_string();
    r.family = o.get("family").as_string();
    r.direction = o.get("direction").as_string();
    r.hook = o.get("hook").as_string();
    r.action = o.get("action").as_string();
    r.packets = o.get("packets").as_uint();
    r.bytes = o.get("bytes").as_uint();
    if (!r.source.empty() && !r.family.empty()) {
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::string
bar(std::uint64_t value, std::uint64_t largest, int width)
{
  static const char* eighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  const std::uint64_t total = static_cast<std::uint64_t>(width) * 8;
  std::uint64_t units = 0;
  if (largest > 0 && value > 0) {
    // value / largest of the whole width, in eighths, rounded; never
    // below one eighth for a value above zero, never beyond the width.
    const long double exact =
        static_cast<long double>(value) / static_cast<long double>(largest) * static_cast<long double>(total);
    units = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(exact + 0.5L), 1, total);
  }
  std::string out;
  for (std::uint64_t i = 0; i < units / 8; ++i) {
    out += "█";
  }
  out += eighths[units % 8];
  return pad(out, static_cast<std::size_t>(width), false);
}

std::string
format_stats(std::vector<SourceCounter> rows, std::size_t top)
{
  sort_counters(rows);
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::set<std::string> directions;
  std::set<std::string> hooks;
  for (const SourceCounter& r : rows) {
    packets += r.packets;
    bytes += r.bytes;
    directions.insert(r.direction);
    hooks.insert(r.hook);
  }
  const std::size_t all = rows.size();
  if (rows.empty()) {
    return "no counters: nothing configured is counted yet (run geoblock update)\n";
  }
  const std::uint64_t largest = rows.front().packets;
  if (top != 0 && rows.size() > top) {
    rows.resize(top);
  }
  const bool show_direction = directions.size() > 1;
  const bool show_hook = hooks.size() > 1;
  const std::string label = rows.size() < all ? "total (" + std::to_string(all) + " counters)" : "total";
  std::size_t source_width = label.size();
  for (const SourceCounter& r : rows) {
    source_width = std::max(source_width, r.source.size());
  }
  const int bar_width = 20;
  const auto line = [&](const std::string& b, const std::string& source, const std::string& family,
                        const std::string& direction, const std::string& hook, const std::string& action,
                        const std::string& p, const std::string& by) {
    std::string out = pad(b, bar_width, false) + "  " + pad(source, source_width, false) + "  " +
                      pad(p, 15, true) + "  " + pad(by, 10, true) + "  " + pad(action, 6, false) + "  " +
                      pad(family, 6, false);
    if (show_direction) {
      out += "  " + pad(direction, 9, false);
    }
    if (show_hook) {
      out += "  " + hook;
    }
    while (!out.empty() && out.back() == ' ') {
      out.pop_back();
    }
    return out + "\n";
  };
  std::string out = line("", "source", "family", "direction", "hook", "action", "packets", "bytes");
  for (const SourceCounter& r : rows) {
    out += line(bar(r.packets, largest, bar_width), r.source, r.family, r.direction, r.hook, r.action,
                grouped(r.packets), human_bytes(r.bytes));
  }
  out += line("", label, "", "", "", "", grouped(packets), human_bytes(bytes));
  return out;
}

std::string
label_value(const std::string& text)
{
  std::string out;
  for (const char c : text) {
    out += c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '\n' ? "\\n" : std::string(1, c);
  }
  return out;
}

std::string
counter_metrics(const std::vector<SourceCounter>& rows)
{
  // Summed over hooks: the labels the issue names, one series each.
  std::map<std::tuple<std::string, std::string, std::string, std::string>,
           std::pair<std::uint64_t, std::uint64_t>>
      series;
  for (const SourceCounter& r : rows) {
    auto& s = series[{r.source, r.family, r.direction, r.action}];
    s.first += r.packets;
    s.second += r.bytes;
  }
  std::string packets =
      "# HELP geoblock_packets_total Packets of a source counted by geoblock's rules, by what "
      "was done to them.\n# TYPE geoblock_packets_total counter\n";
  std::string bytes =
      "# HELP geoblock_bytes_total Bytes of a source counted by geoblock's rules, by what was "
      "done to them.\n# TYPE geoblock_bytes_total counter\n";
  for (const auto& [key, value] : series) {
    const auto& [source, family, direction, action] = key;
    const std::string labels = "{source=\"" + label_value(source) + "\",family=\"" + label_value(family) +
                               "\",direction=\"" + label_value(direction) + "\",action=\"" +
                               label_value(action) + "\"}";
    packets += "geoblock_packets_total" + labels + " " + std::to_string(value.first) + "\n";
    bytes += "geoblock_bytes_total" + labels + " " + std::to_string(value.second) + "\n";
  }
  return packets + bytes;
}

} // namespace geoblock::flow
