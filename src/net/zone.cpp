#include "net/zone.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace geoblock::net {

ZoneStats&
ZoneStats::operator+=(const ZoneStats& o)
{
  lines += o.lines;
  networks += o.networks;
  host_bits += o.host_bits;
  v4 += o.v4;
  v6 += o.v6;
  return *this;
}

namespace {

bool
is_blank(char c)
{
  return c == ' ' || c == '\t';
}

std::string_view
trim(std::string_view s)
{
  while (!s.empty() && is_blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Parses a decimal prefix length of at most `bits`; -1 when invalid.
int
parse_len(std::string_view s, int bits)
{
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) {
    return -1;
  }
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return -1;
    }
    v = v * 10 + (c - '0');
  }
  return v <= bits ? v : -1;
}

enum class Outcome { V4, V6, Bad };

struct Parsed {
  Outcome outcome = Outcome::Bad;
  bool host_bits = false;
  const char* problem = "";
};

// The one network parser behind zones and single networks.
Parsed
parse_one(std::string_view text, NetList& out)
{
  Parsed r;
  const std::size_t slash = text.find('/');
  const std::string_view addr = text.substr(0, slash);
  const std::string_view len_text =
      slash == std::string_view::npos ? std::string_view{} : text.substr(slash + 1);
  const bool has_len = slash != std::string_view::npos;
  if (addr.find(':') == std::string_view::npos) {
    const auto a = parse_v4(addr);
    if (!a) {
      r.problem = addr.find_first_not_of("0123456789.") == std::string_view::npos ? "invalid IPv4 address"
                                                                                  : "not a network";
      return r;
    }
    const int len = has_len ? parse_len(len_text, 32) : 32;
    if (len < 0) {
      r.problem = "invalid IPv4 prefix length";
      return r;
    }
    const std::uint32_t net = *a & mask<std::uint32_t>(len);
    r.host_bits = net != *a;
    out.v4.push_back({net, static_cast<std::uint8_t>(len)});
    r.outcome = Outcome::V4;
    return r;
  }
  const auto a = parse_v6(addr);
  if (!a) {
    r.problem = "invalid IPv6 address";
    return r;
  }
  const int len = has_len ? parse_len(len_text, 128) : 128;
  if (len < 0) {
    r.problem = "invalid IPv6 prefix length";
    return r;
  }
  const u128 net = *a & mask<u128>(len);
  r.host_bits = net != *a;
  out.v6.push_back({net, static_cast<std::uint8_t>(len)});
  r.outcome = Outcome::V6;
  return r;
}

// --- The fast path -------------------------------------------------------
//
// Zone files are almost entirely lines in one canonical form
// ("1.2.0.0/16\n", "2001:db8::/32\n"). Recognising exactly that form in one
// pass over the bytes, with no searches and no allocation, is what makes the
// parser fast. Anything else, and every error, is left to the general path
// (parse_one and parse_zone's loop), which alone defines what is accepted:
// the fast path only accepts lines the general path accepts with the same
// result (the fuzz target and the tests check both against each other).

bool
is_digit(char c)
{
  return static_cast<unsigned char>(c - '0') < 10;
}

// A decimal octet without leading zeros; a following digit is left for the
// caller to reject (it expects '.', '/' or the line end).
[[gnu::always_inline]] inline bool
fast_octet(const char*& p, const char* end, std::uint32_t& v)
{
  if (p == end || !is_digit(*p)) {
    return false;
  }
  v = static_cast<std::uint32_t>(*p++ - '0');
  if (v == 0) {
    return true;
  }
  for (int k = 0; k < 2 && p != end && is_digit(*p); ++k) {
    v = v * 10 + static_cast<std::uint32_t>(*p++ - '0');
  }
  return v <= 255;
}

// The value of a hex digit, -1 for any other byte: one table load per
// character in the hottest loop of IPv6 parsing.
constexpr std::array<std::int8_t, 256> k_hex_value = [] {
  std::array<std::int8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = c >= '0' && c <= '9'   ? static_cast<std::int8_t>(c - '0')
           : c >= 'a' && c <= 'f' ? static_cast<std::int8_t>(c - 'a' + 10)
           : c >= 'A' && c <= 'F' ? static_cast<std::int8_t>(c - 'A' + 10)
                                  : std::int8_t{-1};
  }
  return t;
}();

int
hex_digit(char c)
{
  return k_hex_value[static_cast<unsigned char>(c)];
}

// An IPv6 address in the grammar of parse_v6 minus the trailing dotted
// quad, read in one pass: groups of 1-4 hex digits, at most one "::"
// standing for at least one zero group. Stops at the first character that
// cannot continue the address and leaves `p` there.
bool
fast_v6(const char*& p, const char* end, u128& out)
{
  std::uint16_t groups[8] = {};
  int count = 0;
  int gap = -1; // where "::" stands
  const char* q = p;
  if (q != end && *q == ':') {
    if (q + 1 == end || q[1] != ':') {
      return false;
    }
    gap = 0;
    q += 2;
  }
  bool after_gap = gap == 0;
  for (;;) {
    unsigned value = 0;
    int digits = 0;
    for (int h = 0; q != end && digits < 5 && (h = hex_digit(*q)) >= 0; ++q, ++digits) {
      value = (value << 4) | static_cast<unsigned>(h);
    }
    if (digits == 0) {
      if (!after_gap) {
        return false; // a lone ':' at the end, or nothing at all
      }
      break;
    }
    if (digits > 4 || count == 8) {
      return false;
    }
    groups[count++] = static_cast<std::uint16_t>(value);
    after_gap = false;
    if (q == end || *q != ':') {
      break;
    }
    ++q;
    if (q != end && *q == ':') {
      if (gap >= 0) {
        return false;
      }
      gap = count;
      after_gap = true;
      ++q;
    }
  }
  if (q != end && *q == '.') {
    return false; // a dotted quad: the general path
  }
  if (gap < 0 ? count != 8 : count > 7) {
    return false;
  }
  std::uint64_t half[2] = {0, 0};
  const int zeros = 8 - count;
  for (int k = 0, slot = 0; k < count; ++k, ++slot) {
    if (k == gap) {
      slot += zeros;
    }
    half[slot / 4] |= std::uint64_t{groups[k]} << (16 * (3 - slot % 4));
  }
  out = (u128{half[0]} << 64) | half[1];
  p = q;
  return true;
}

// An optional "/len" (no leading zeros, at most `bits`); none means `bits`.
[[gnu::always_inline]] inline bool
fast_len(const char*& p, const char* end, int bits, int& len)
{
  len = bits;
  if (p == end || *p != '/') {
    return true;
  }
  ++p;
  if (p == end || !is_digit(*p)) {
    return false;
  }
  len = *p++ - '0';
  if (len != 0) {
    while (p != end && is_digit(*p) && len <= bits) {
      len = len * 10 + (*p++ - '0');
    }
  }
  return len <= bits;
}

// The start of the next line if `p` is at the end of this one ("\n",
// "\r\n" or the end of the text); nullptr otherwise.
[[gnu::always_inline]] inline const char*
fast_eol(const char* p, const char* end)
{
  if (p == end) {
    return end;
  }
  if (*p == '\n') {
    return p + 1;
  }
  if (*p == '\r' && p + 1 != end && p[1] == '\n') {
    return p + 2;
  }
  return nullptr;
}

// Grows `v` for the rest of the text in one step rather than by repeated
// doubling (fewer copies, a lower peak); `line_bytes` is a typical line
// length, an underestimate only costs address space.
template <class T>
void
reserve_for(std::vector<T>& v, std::size_t rest_bytes, std::size_t line_bytes)
{
  if (v.size() == v.capacity()) {
    v.reserve(std::max(v.size() + rest_bytes / line_bytes + 1, 2 * v.capacity()));
  }
}

template <class A>
bool
fast_accept(A addr, int len, const ZoneOptions& options, const char* rest, const char* end, NetList& out,
            ZoneStats& stats)
{
  constexpr Family family = kFamily<A>;
  const int min = family == Family::V4 ? options.min_prefix_v4 : options.min_prefix_v6;
  if (!includes(options.families, family) || (min > 0 && len < min)) {
    return false; // the general path reports it
  }
  const A net = addr & mask<A>(len);
  auto& list = out.of<A>();
  reserve_for(list, static_cast<std::size_t>(end - rest), family == Family::V4 ? 12 : 16);
  list.push_back({net, static_cast<std::uint8_t>(len)});
  ++stats.networks;
  stats.host_bits += net != addr ? 1 : 0;
  ++(family == Family::V4 ? stats.v4 : stats.v6);
  return true;
}

// Parses one line in canonical form starting at `p`; returns the start of
// the next line, or nullptr (nothing appended) when the line needs the
// general path.
const char*
fast_line(const char* p, const char* end, const ZoneOptions& options, NetList& out, ZoneStats& stats)
{
  const char* q = p;
  std::uint32_t a = 0;
  bool v4 = true;
  for (int k = 0; k < 4 && v4; ++k) {
    std::uint32_t octet = 0;
    if ((k > 0 && (q == end || *q++ != '.')) || !fast_octet(q, end, octet)) {
      v4 = false;
    }
    a = (a << 8) | octet;
  }
  int len = 0;
  if (v4) {
    const char* next = nullptr;
    if (fast_len(q, end, 32, len) && (next = fast_eol(q, end)) != nullptr &&
        fast_accept<std::uint32_t>(a, len, options, next, end, out, stats)) {
      return next;
    }
    return nullptr;
  }
  // IPv6 without a dotted quad; anything unusual goes to the general path.
  q = p;
  u128 a6 = 0;
  if (!fast_v6(q, end, a6)) {
    return nullptr;
  }
  const char* next = nullptr;
  if (fast_len(q, end, 128, len) && (next = fast_eol(q, end)) != nullptr &&
      fast_accept<u128>(a6, len, options, next, end, out, stats)) {
    return next;
  }
  return nullptr;
}

} // namespace

bool
parse_network(std::string_view text, NetList& out, std::string* problem)
{
  const Parsed p = parse_one(trim(text), out);
  if (p.outcome == Outcome::Bad && problem) {
    *problem = p.problem;
  }
  return p.outcome != Outcome::Bad;
}

namespace {

// Parses the lines of `text`, counting on from `stats` (so that line
// numbers continue across the pieces of a ZoneReader).
void
parse_lines(std::string_view text, const std::string& source, const ZoneOptions& options, NetList& out,
            ZoneStats& stats)
{
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    ++stats.lines;
    if (const char* next = fast_line(p, end, options, out, stats)) {
      p = next;
      continue;
    }
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* line_end = nl ? nl : end;
    std::string_view raw(p, static_cast<std::size_t>(line_end - p));
    p = nl ? nl + 1 : end;

    std::string_view line = raw;
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = trim(line);
    if (line.empty()) {
      continue;
    }
    const bool several = line.find_first_of(" \t") != std::string_view::npos;
    const Parsed r = several ? Parsed{} : parse_one(line, out);
    if (r.outcome == Outcome::Bad) {
      // Name the likeliest cause: an error page or a binary file served in
      // place of the zone says more than "not a network".
      const char* problem = line.front() == '<'                        ? "HTML, not a zone file"
                            : raw.find('\0') != std::string_view::npos ? "binary data (NUL byte)"
                            : several                                  ? "more than one field on the line"
                                                                       : r.problem;
      throw ParseError(source, stats.lines, std::string(trim(raw)), problem);
    }
    const Family family = r.outcome == Outcome::V4 ? Family::V4 : Family::V6;
    const int len = family == Family::V4 ? out.v4.back().len : out.v6.back().len;
    if (!includes(options.families, family)) {
      if (family == Family::V4) {
        out.v4.pop_back();
      } else {
        out.v6.pop_back();
      }
      throw ParseError(source, stats.lines, std::string(line),
                       family_problem(family == Family::V4 ? Family::V6 : Family::V4, family));
    }
    if (std::string problem = prefix_problem(options, family, len); !problem.empty()) {
      if (family == Family::V4) {
        out.v4.pop_back();
      } else {
        out.v6.pop_back();
      }
      throw ParseError(source, stats.lines, std::string(line), problem);
    }
    ++stats.networks;
    stats.host_bits += r.host_bits ? 1 : 0;
    ++(family == Family::V4 ? stats.v4 : stats.v6);
  }
}

template <class T>
void
reserve_ahead(std::vector<T>& v, std::size_t entries)
{
  if (v.capacity() - v.size() < entries) {
    v.reserve(std::max(v.size() + entries, 2 * v.capacity()));
  }
}

} // namespace

ZoneStats
parse_zone(std::string_view text, const std::string& source, const ZoneOptions& options, NetList& out)
{
  ZoneStats stats;
  parse_lines(text, source, options, out, stats);
  return stats;
}

ZoneReader::ZoneReader(std::string source, const ZoneOptions& options, NetList& out,
                       std::size_t expected_bytes)
    : m_source(std::move(source)), m_options(options), m_out(out)
{
  // Address space only: pages the networks never reach are never touched.
  if (expected_bytes > 0) {
    if (includes(options.families, Family::V4)) {
      reserve_ahead(out.v4, expected_bytes / 12 + 1);
    }
    if (includes(options.families, Family::V6)) {
      reserve_ahead(out.v6, expected_bytes / 16 + 1);
    }
  }
}

void
ZoneReader::feed(std::string_view chunk)
{
  if (!m_carry.empty()) {
    // Complete the line begun in an earlier piece.
    const std::size_t nl = chunk.find('\n');
    if (nl == std::string_view::npos) {
      m_carry.append(chunk);
      return;
    }
    m_carry.append(chunk.substr(0, nl + 1));
    parse_lines(m_carry, m_source, m_options, m_out, m_stats);
    m_carry.clear();
    chunk.remove_prefix(nl + 1);
  }
  const std::size_t last_nl = chunk.rfind('\n');
  if (last_nl == std::string_view::npos) {
    m_carry.assign(chunk);
    return;
  }
  parse_lines(chunk.substr(0, last_nl + 1), m_source, m_options, m_out, m_stats);
  m_carry.assign(chunk.substr(last_nl + 1));
}

ZoneStats
ZoneReader::finish()
{
  if (!m_carry.empty()) {
    parse_lines(m_carry, m_source, m_options, m_out, m_stats);
    m_carry.clear();
  }
  return m_stats;
}

std::string
family_problem(Family expected, Family got)
{
  if (expected == got) {
    return {};
  }
  return std::string(family_name(got)) + " network in an " + family_name(expected) + "-only source";
}

std::string
prefix_problem(const ZoneOptions& options, Family family, int len)
{
  const int min = family == Family::V4 ? options.min_prefix_v4 : options.min_prefix_v6;
  if (min <= 0 || len >= min) {
    return {};
  }
  return "refusing /" + std::to_string(len) + ": shorter than the minimum /" + std::to_string(min) +
         " (min-prefix-" + family_key(family) + ")";
}

} // namespace geoblock::net
