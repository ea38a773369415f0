#include "net/asn.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "net/aggregate.hpp"

#include <algorithm>
#include <charconv>

namespace geoblock::net {

namespace {

constexpr std::size_t k_max_name = 100;

// The fields of a CSV line (RFC 4180 quotes; no line breaks inside), or
// nothing when a quote is unbalanced.
std::optional<std::vector<std::string>>
csv_fields(std::string_view line)
{
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          out.back() += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        out.back() += c;
      }
    } else if (c == '"' && out.back().empty()) {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  if (quoted) {
    return std::nullopt;
  }
  return out;
}

std::vector<std::string>
tsv_fields(std::string_view line)
{
  std::vector<std::string> out;
  for (;;) {
    const auto tab = line.find('\t');
    out.emplace_back(line.substr(0, tab));
    if (tab == std::string_view::npos) {
      return out;
    }
    line.remove_prefix(tab + 1);
  }
}

bool
looks_like_header(const std::string& first)
{
  return !parse_v4(first) && !parse_v6(first) && std::any_of(first.begin(), first.end(), [](char c) {
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  }) && first.find_first_of(".:") == std::string::npos;
}

template <class A>
void
add_range(A first, A last, std::vector<Prefix<A>>& out)
{
  split_range(Range<A>{first, last}, out);
}

template <class A>
A
address_of(const Address& a)
{
  if constexpr (sizeof(A) == 4) {
    return a.v4;
  } else {
    return a.v6;
  }
}

// The lookups of `family` in [first, last] not found yet: this range's AS
// holds them, in the range's CIDR that contains each.
template <class A, class Name>
void
look_up(const std::vector<Address>& lookups, Family family, A first, A last, std::uint32_t number,
        const Name& name, std::vector<std::optional<AsnHit>>& hits)
{
  for (std::size_t i = 0; i < lookups.size(); ++i) {
    const A addr = address_of<A>(lookups[i]);
    if (hits[i] || lookups[i].family != family || addr < first || addr > last) {
      continue;
    }
    std::vector<Prefix<A>> cidrs;
    split_range(Range<A>{first, last}, cidrs);
    for (const Prefix<A>& p : cidrs) {
      if (p.contains(addr)) {
        AsnHit hit;
        hit.number = number;
        hit.name = name();
        hit.family = family;
        if constexpr (sizeof(A) == 4) {
          hit.v4 = p;
        } else {
          hit.v6 = p;
        }
        hits[i] = std::move(hit);
      }
    }
  }
}

} // namespace

std::optional<std::uint32_t>
parse_asn(std::string_view text)
{
  if (text.size() > 2 && (text[0] == 'A' || text[0] == 'a') && (text[1] == 'S' || text[1] == 's')) {
    text.remove_prefix(2);
  }
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > 0xffffffffull) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(v);
}

std::string
asn_label(std::uint32_t number, std::string_view name)
{
  std::string out = "AS" + std::to_string(number);
  std::string clean;
  for (const char c : text::trim(name)) {
    const auto u = static_cast<unsigned char>(c);
    clean += u >= 0x20 && u < 0x7f ? c : '?';
    if (clean.size() >= k_max_name) {
      break;
    }
  }
  if (!clean.empty()) {
    out += " " + clean;
  }
  return out;
}

std::optional<AsnTextFormat>
detect_asn_text(std::string_view text)
{
  text::Lines lines(text);
  for (std::string_view line; lines.next(line);) {
    if (text::trim(line).empty()) {
      continue;
    }
    return line.find('\t') != std::string_view::npos ? AsnTextFormat::Iptoasn : AsnTextFormat::Csv;
  }
  return std::nullopt;
}

void
parse_asn_text(std::string_view text, const std::string& source, const std::vector<std::uint32_t>& wanted,
               AsnData& out)
{
  parse_asn_text(text, source, AsnQuery{wanted, wanted.empty(), {}}, out);
}

void
parse_asn_text(std::string_view text, const std::string& source, const AsnQuery& query, AsnData& out)
{
  const std::vector<std::uint32_t>& wanted = query.numbers;
  out.hits.resize(query.lookups.size());
  const std::optional<AsnTextFormat> format = detect_asn_text(text);
  if (!format) {
    return;
  }
  if (text.back() != '\n') {
    throw ParseError(source, static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1, "",
                     "the last line has no line end (truncated?)");
  }
  if (text.substr(0, 256).find('<') != std::string_view::npos) {
    throw ParseError(source, 1, "", "an HTML page, not ASN data");
  }
  const bool all = query.every;
  text::Lines lines(text);
  bool first_line = true;
  for (std::string_view raw; lines.next(raw);) {
    const std::string_view line = raw.empty() || raw.back() != '\r' ? raw : raw.substr(0, raw.size() - 1);
    if (text::trim(line).empty()) {
      continue;
    }
    const auto fail = [&](const std::string& problem) {
      throw ParseError(source, lines.number(), std::string(line.substr(0, 200)), problem);
    };
    std::vector<std::string> f;
    std::size_t name_field = 0;
    if (*format == AsnTextFormat::Iptoasn) {
      f = tsv_fields(line);
      if (f.size() != 5) {
        fail("expected 5 tab-separated fields (start, end, AS, country, description), found " +
             std::to_string(f.size()));
      }
      name_field = 4;
    } else {
      auto fields = csv_fields(line);
      if (!fields) {
        fail("an unbalanced quote");
      }
      f = std::move(*fields);
      if (f.size() < 3 || f.size() > 4) {
        fail("expected start,end,asn[,organization], found " + std::to_string(f.size()) + " fields");
      }
      name_field = 3;
    }
    if (first_line && looks_like_header(f[0])) {
      first_line = false;
      continue;
    }
    first_line = false;
    const std::optional<std::uint32_t> asn = parse_asn(f[2]);
    if (!asn) {
      fail("invalid AS number '" + f[2].substr(0, 20) + "'");
    }
    ++out.lines;
    const bool want = all || std::find(wanted.begin(), wanted.end(), *asn) != wanted.end();
    // The organisation, trimmed and printable ("Not routed" is AS 0's).
    const auto name = [&]() -> std::string {
      if (name_field >= f.size() || f[name_field] == "Not routed") {
        return "";
      }
      const std::string label = asn_label(*asn, f[name_field]);
      const std::string prefix = "AS" + std::to_string(*asn);
      return label.size() > prefix.size() ? label.substr(prefix.size() + 1) : "";
    };
    AsnData::As* as = nullptr;
    if (want) {
      as = &out.by_number[*asn];
      if (as->name.empty()) {
        as->name = name();
      }
    }
    if (const auto a = parse_v4(f[0])) {
      const auto b = parse_v4(f[1]);
      if (!b || *b < *a) {
        fail(b ? "the range ends before it starts" : "the end is not an IPv4 address");
      }
      if (as) {
        add_range(*a, *b, as->nets.v4);
        ++as->lines;
      }
      look_up(query.lookups, Family::V4, *a, *b, *asn, name, out.hits);
    } else if (const auto a6 = parse_v6(f[0])) {
      const auto b6 = parse_v6(f[1]);
      if (!b6 || *b6 < *a6) {
        fail(b6 ? "the range ends before it starts" : "the end is not an IPv6 address");
      }
      if (as) {
        add_range(*a6, *b6, as->nets.v6);
        ++as->lines;
      }
      look_up(query.lookups, Family::V6, *a6, *b6, *asn, name, out.hits);
    } else {
      fail("the start is not an address");
    }
  }
}

} // namespace geoblock::net
