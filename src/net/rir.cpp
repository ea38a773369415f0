#include "net/rir.hpp"

#include "core/country.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "net/aggregate.hpp"

#include <charconv>
#include <vector>

namespace geoblock::net {

namespace {

std::vector<std::string_view>
split_fields(std::string_view line)
{
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const std::size_t bar = line.find('|', start);
    fields.push_back(
        line.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
    if (bar == std::string_view::npos) {
      return fields;
    }
    start = bar + 1;
  }
}

template <class T>
bool
parse_decimal(std::string_view s, T& value)
{
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

bool
all_digits(std::string_view s)
{
  for (const char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

bool
is_registry(std::string_view s)
{
  if (s.empty()) {
    return false;
  }
  for (const char c : s) {
    if (c < 'a' || c > 'z') {
      return false;
    }
  }
  return true;
}

} // namespace

void
parse_rir(std::string_view body, const std::string& source, RirData& into)
{
  // Into a private result first: a file with one bad line adds nothing.
  RirData out;
  // The networks of an ISO 3166-1 country ("NL" -> out.countries["nl"]);
  // null, and counted, for codes that are none (EU, AP, ZZ).
  const auto networks_of = [&out](std::string_view cc) -> NetList* {
    if (!is_country_code(cc)) {
      ++out.non_country[std::string(cc)];
      return nullptr;
    }
    const std::string key{static_cast<char>(cc[0] - 'A' + 'a'), static_cast<char>(cc[1] - 'A' + 'a')};
    return &out.countries[key];
  };
  text::Lines lines(body);
  bool header_seen = false;
  for (std::string_view raw; lines.next(raw);) {
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const auto fail = [&](const std::string& problem) {
      throw ParseError(source, lines.number(), std::string(line), problem);
    };
    const std::vector<std::string_view> f = split_fields(line);
    if (!header_seen) {
      // "2|ripencc|serial|records|startdate|enddate|UTCoffset"
      unsigned version = 0;
      const std::string_view major = f[0].substr(0, f[0].find('.'));
      if (f.size() < 7 || !parse_decimal(major, version) || !is_registry(f[1])) {
        fail("not a delegation statistics file (expected the version line 'VERSION|REGISTRY|SERIAL|...')");
      }
      header_seen = true;
      continue;
    }
    if (f.size() == 6 && f[1] == "*" && f[5] == "summary") {
      continue;
    }
    if (f.size() < 7) {
      fail("expected at least 7 '|'-separated fields, found " + std::to_string(f.size()));
    }
    const std::string_view registry = f[0], cc = f[1], type = f[2], start = f[3], value = f[4], date = f[5],
                           status = f[6];
    if (!is_registry(registry)) {
      fail("bad registry name '" + std::string(registry) + "'");
    }
    if (!date.empty() && !(date.size() == 8 && all_digits(date))) {
      fail("bad date '" + std::string(date) + "' (expected YYYYMMDD)");
    }
    if (type == "asn") {
      continue;
    }
    if (type != "ipv4" && type != "ipv6") {
      fail("unknown type '" + std::string(type) + "' (asn, ipv4 or ipv6)");
    }
    if (status == "available" || status == "reserved") {
      ++out.skipped_status;
      continue;
    }
    if (status != "allocated" && status != "assigned") {
      fail("unknown status '" + std::string(status) + "' (allocated, assigned, available or reserved)");
    }
    if (cc.size() != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z') {
      fail("bad country code '" + std::string(cc) + "' (expected two upper-case letters)");
    }
    if (type == "ipv4") {
      const auto first = parse_v4(start);
      std::uint64_t count = 0;
      if (!first) {
        fail("bad IPv4 start address '" + std::string(start) + "'");
      }
      if (!parse_decimal(value, count) || count == 0 || *first + count - 1 > 0xFFFFFFFFull) {
        fail("bad IPv4 address count '" + std::string(value) + "' (1 up to the end of the address space)");
      }
      NetList* nets = networks_of(cc);
      if (nets == nullptr) {
        continue;
      }
      split_range(Range<std::uint32_t>{*first, static_cast<std::uint32_t>(*first + count - 1)}, nets->v4);
    } else {
      const auto first = parse_v6(start);
      unsigned len = 0;
      if (!first) {
        fail("bad IPv6 start address '" + std::string(start) + "'");
      }
      if (!parse_decimal(value, len) || len > 128) {
        fail("bad IPv6 prefix length '" + std::string(value) + "' (0 to 128)");
      }
      if ((*first & ~mask<u128>(static_cast<int>(len))) != 0) {
        fail(std::string(start) + " is not aligned to /" + std::to_string(len));
      }
      NetList* nets = networks_of(cc);
      if (nets == nullptr) {
        continue;
      }
      nets->v6.push_back(Prefix6{*first, static_cast<std::uint8_t>(len)});
    }
    ++out.records;
  }
  if (!header_seen) {
    throw ParseError(source, lines.number(), "", "no records: not a delegation statistics file");
  }
  for (auto& [cc, nets] : out.countries) {
    NetList& to = into.countries[cc];
    to.v4.insert(to.v4.end(), nets.v4.begin(), nets.v4.end());
    to.v6.insert(to.v6.end(), nets.v6.begin(), nets.v6.end());
  }
  into.records += out.records;
  into.skipped_status += out.skipped_status;
  for (const auto& [cc, n] : out.non_country) {
    into.non_country[cc] += n;
  }
}

} // namespace geoblock::net
