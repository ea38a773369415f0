#include "privsep/report.hpp"

#include "core/error.hpp"
#include "core/log.hpp"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

namespace geoblock::privsep {

namespace {

constexpr std::size_t k_max_field = 1024;
constexpr std::size_t k_max_line = 4096;

constexpr net::Origin k_origins[] = {
    net::Origin::Downloaded, net::Origin::NotModified, net::Origin::StaleCache, net::Origin::Failed,
    net::Origin::Absent,     net::Origin::Local,       net::Origin::Refused};

std::string
printable(std::string_view s)
{
  std::string out;
  for (const char c : s.substr(0, k_max_field)) {
    const auto u = static_cast<unsigned char>(c);
    out += u >= 0x20 && u < 0x7f ? c : '?';
  }
  return out;
}

std::vector<net::Family>
families_of(net::Families families)
{
  std::vector<net::Family> out;
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    if (net::includes(families, f)) {
      out.push_back(f);
    }
  }
  return out;
}

std::vector<std::string_view>
split(std::string_view line, char sep)
{
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = line.find(sep);
    out.push_back(line.substr(0, at));
    if (at == std::string_view::npos) {
      return out;
    }
    line.remove_prefix(at + 1);
  }
}

bool
parse_count(std::string_view s, std::uint64_t& v)
{
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) {
    return false;
  }
  v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

std::string
networks_text(const net::NetList& nets)
{
  std::string body;
  for (const auto& p : nets.v4) {
    body += net::to_string(p) + "\n";
  }
  for (const auto& p : nets.v6) {
    body += net::to_string(p) + "\n";
  }
  return body;
}

bool
is_sha256(std::string_view s)
{
  return s.empty() || (s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos);
}

[[noreturn]] void
bad_report(std::size_t line, const std::string& what)
{
  throw Error("the fetching process's report, line " + std::to_string(line) + ": " + what +
              " (not trusted; nothing applied)");
}

// The names a zone's source may carry in the report (the names cli gives
// the entries of a failover list), or none (a source not in one).
bool
known_source(std::string_view name)
{
  return name.empty() || name == "http" || name == "rir" || name == "bundle" || name == "maxmind" ||
         name == "mmdb";
}

} // namespace

std::string
format_child_report(const std::vector<net::ZoneResult>& zones, const std::vector<net::BlocklistResult>& lists,
                    const std::vector<net::AsnResult>& asns)
{
  std::string out;
  for (const net::ZoneResult& z : zones) {
    // The networks as zone text: what this side's strict parser reads.
    std::string body;
    if (z.usable() && z.origin != net::Origin::Absent) {
      body = networks_text(z.nets);
    }
    out += "zone\t" + printable(z.country) + "\t" + net::family_key(z.family) + "\t" +
           net::origin_name(z.origin) + "\t" + std::to_string(z.bytes) + "\t" + (z.stale ? "1" : "0") + "\t" +
           std::to_string(std::max<std::int64_t>(z.fetched_at, 0)) + "\t" +
           std::to_string(std::max<std::int64_t>(z.last_modified, 0)) + "\t" + printable(z.location) + "\t" +
           printable(z.error) + "\t" + printable(z.source) + "\t" + std::to_string(body.size()) + "\n" + body;
  }
  for (const net::BlocklistResult& b : lists) {
    // The networks as text, one per line: what net::parse_blocklist reads.
    const std::string body = b.usable() ? networks_text(b.nets) : std::string();
    out += "list\t" + printable(b.name) + "\t" + printable(b.location) + "\t" + net::origin_name(b.origin) +
           "\t" + std::to_string(b.bytes) + "\t" + std::to_string(std::max<std::int64_t>(b.fetched_at, 0)) +
           "\t" + std::to_string(std::max<std::int64_t>(b.last_modified, 0)) + "\t" + printable(b.sha256) +
           "\t" + printable(b.error) + "\t" + std::to_string(body.size()) + "\n" + body;
  }
  for (const net::AsnResult& a : asns) {
    const std::string body = a.usable() ? networks_text(a.nets) : std::string();
    out += "asn\t" + std::to_string(a.number) + "\t" + (a.allow ? "1" : "0") + "\t" + printable(a.name) +
           "\t" + net::origin_name(a.origin) + "\t" +
           std::to_string(std::max<std::int64_t>(a.fetched_at, 0)) + "\t" +
           std::to_string(std::max<std::int64_t>(a.last_modified, 0)) + "\t" + printable(a.location) + "\t" +
           printable(a.error) + "\t" + std::to_string(body.size()) + "\n" + body;
  }
  out += "end\t" + std::to_string(zones.size() + lists.size() + asns.size()) + "\n";
  return out;
}

std::string
format_facts(const std::vector<net::AddressFact>& facts)
{
  std::string out;
  for (const net::AddressFact& f : facts) {
    const bool as = f.kind == net::AddressFact::Kind::As;
    out += "fact\t" + std::to_string(f.address) + "\t" + (as ? "as" : "country") + "\t" +
           std::to_string(as ? f.as_number : 0) + "\t" + (as ? printable(f.as_name) : "") + "\t" +
           (as ? "" : printable(f.country)) + "\t" + f.network() + "\t" + printable(f.source) + "\n";
  }
  return out;
}

std::string
format_child_report(const net::SourceData& data)
{
  std::string out = format_child_report(data.zones, data.lists, data.asns);
  if (data.facts.empty()) {
    return out;
  }
  // The facts go between the ASes and the end line, which counts them.
  out.resize(out.rfind("end\t"));
  return out + format_facts(data.facts) + "end\t" +
         std::to_string(data.zones.size() + data.lists.size() + data.asns.size() + data.facts.size()) + "\n";
}

std::string
format_child_error(const std::string& message)
{
  return "error\t" + printable(message) + "\n";
}

std::vector<ReportedZone>
parse_child_report(const std::string& text, const std::vector<std::string>& countries, net::Families families)
{
  return parse_child_report(text, countries, families, {}).zones;
}

namespace {

using ZoneKey = std::pair<std::string, net::Family>;

// At most this many facts per address (one per kind and source).
constexpr std::size_t k_facts_per_address = 4;

bool
known_fact_source(std::string_view name)
{
  return name == "asn" || name == "mmdb";
}

ChildReport
parse(const std::string& text, const std::vector<ZoneKey>& expected, const std::vector<ExpectedList>& lists,
      const std::vector<ExpectedAsn>& asns, const std::vector<net::Address>& lookups)
{
  const std::string_view all(text);
  std::size_t pos = 0, line = 0;
  // The next header line, checked: printable ASCII and tabs, bounded.
  const auto next_line = [&]() -> std::string_view {
    ++line;
    const auto nl = all.find('\n', pos);
    if (nl == std::string_view::npos || nl - pos > k_max_line) {
      bad_report(line, "truncated or overlong");
    }
    const std::string_view l = all.substr(pos, nl - pos);
    pos = nl + 1;
    for (const char c : l) {
      const auto u = static_cast<unsigned char>(c);
      if (c != '\t' && (u < 0x20 || u >= 0x7f)) {
        bad_report(line, "a control or non-ASCII byte");
      }
    }
    return l;
  };
  if (all.substr(0, 6) == "error\t") {
    const std::string_view message = next_line().substr(6);
    if (message.empty() || message.size() > k_max_field || message.find('\t') != std::string_view::npos ||
        pos != all.size()) {
      bad_report(1, "a malformed error line");
    }
    throw Error(std::string(message));
  }
  // In any order (a bundle lists its zones per country), each expected
  // zone exactly once; returned in the expected order.
  std::vector<std::optional<ReportedZone>> found(expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto f = split(next_line(), '\t');
    if (f.size() != 12 || f[0] != "zone" || (f[2] != "v4" && f[2] != "v6")) {
      bad_report(line, "not a zone line");
    }
    ReportedZone z;
    z.country = std::string(f[1]);
    z.family = f[2] == "v4" ? net::Family::V4 : net::Family::V6;
    std::size_t slot = expected.size();
    for (std::size_t j = 0; j < expected.size(); ++j) {
      if (expected[j].first == z.country && expected[j].second == z.family) {
        slot = j;
      }
    }
    if (slot == expected.size() || found[slot]) {
      bad_report(line, "a zone not asked for, or twice: '" + z.country + " " + std::string(f[2]) + "'");
    }
    bool known = false;
    for (const net::Origin o : k_origins) {
      if (f[3] == net::origin_name(o)) {
        z.origin = o;
        known = true;
      }
    }
    std::uint64_t fetched = 0, modified = 0, body = 0;
    if (!known || !parse_count(f[4], z.bytes) || (f[5] != "0" && f[5] != "1") ||
        !parse_count(f[6], fetched) || !parse_count(f[7], modified) || f[8].size() > k_max_field ||
        f[9].size() > k_max_field || !known_source(f[10]) || !parse_count(f[11], body)) {
      bad_report(line, "a malformed field");
    }
    if (body > all.size() - pos || (body > 0 && (!z.usable() || z.origin == net::Origin::Absent))) {
      bad_report(line, "a zone body that is cut short, or where none belongs");
    }
    z.stale = f[5] == "1";
    z.fetched_at = static_cast<std::int64_t>(fetched);
    z.last_modified = static_cast<std::int64_t>(modified);
    z.location = std::string(f[8]);
    z.error = std::string(f[9]);
    z.source = std::string(f[10]);
    z.body = std::string(all.substr(pos, body));
    pos += body;
    found[slot] = std::move(z);
  }
  // Then each list asked for, in order, named as asked.
  ChildReport out;
  for (const ExpectedList& want : lists) {
    const auto f = split(next_line(), '\t');
    if (f.size() != 10 || f[0] != "list") {
      bad_report(line, "not a list line");
    }
    if (f[1] != printable(want.name) || f[2] != printable(want.location)) {
      bad_report(line, "a list not asked for here: '" + std::string(f[1]) + "'");
    }
    ReportedList r;
    r.name = want.name;
    r.location = want.location;
    bool known = false;
    for (const net::Origin o : k_origins) {
      if (f[3] == net::origin_name(o) && o != net::Origin::Absent) {
        r.origin = o;
        known = true;
      }
    }
    std::uint64_t fetched = 0, modified = 0, body = 0;
    if (!known || !parse_count(f[4], r.bytes) || !parse_count(f[5], fetched) ||
        !parse_count(f[6], modified) || !is_sha256(f[7]) || f[8].size() > k_max_field ||
        !parse_count(f[9], body)) {
      bad_report(line, "a malformed field");
    }
    if (body > all.size() - pos || (body > 0 && !r.usable())) {
      bad_report(line, "a list body that is cut short, or where none belongs");
    }
    r.fetched_at = static_cast<std::int64_t>(fetched);
    r.last_modified = static_cast<std::int64_t>(modified);
    r.sha256 = std::string(f[7]);
    r.error = std::string(f[8]);
    r.body = std::string(all.substr(pos, body));
    pos += body;
    out.lists.push_back(std::move(r));
  }
  // Then each AS asked for, in order.
  for (const ExpectedAsn& want : asns) {
    const auto f = split(next_line(), '\t');
    if (f.size() != 10 || f[0] != "asn") {
      bad_report(line, "not an asn line");
    }
    std::uint64_t number = 0;
    if (!parse_count(f[1], number) || number != want.number || f[2] != (want.allow ? "1" : "0")) {
      bad_report(line, "an AS not asked for here: '" + std::string(f[1]) + "'");
    }
    ReportedAsn a;
    a.number = want.number;
    a.allow = want.allow;
    bool known = false;
    for (const net::Origin o : k_origins) {
      if (f[4] == net::origin_name(o)) {
        a.origin = o;
        known = true;
      }
    }
    std::uint64_t fetched = 0, modified = 0, body = 0;
    if (!known || f[3].size() > k_max_field || !parse_count(f[5], fetched) || !parse_count(f[6], modified) ||
        f[7].size() > k_max_field || f[8].size() > k_max_field || !parse_count(f[9], body)) {
      bad_report(line, "a malformed field");
    }
    if (body > all.size() - pos ||
        (body > 0 && (a.origin == net::Origin::Failed || a.origin == net::Origin::Absent))) {
      bad_report(line, "an AS body that is cut short, or where none belongs");
    }
    a.name = std::string(f[3]);
    a.fetched_at = static_cast<std::int64_t>(fetched);
    a.last_modified = static_cast<std::int64_t>(modified);
    a.location = std::string(f[7]);
    a.error = std::string(f[8]);
    a.body = std::string(all.substr(pos, body));
    pos += body;
    out.asns.push_back(std::move(a));
  }
  // Then the facts about the addresses asked about, if any: each index,
  // kind and source once.
  while (all.substr(pos, 5) == "fact\t") {
    const auto f = split(next_line(), '\t');
    if (f.size() != 8 || f[0] != "fact") {
      bad_report(line, "not a fact line");
    }
    ReportedFact fact;
    std::uint64_t index = 0, number = 0;
    if (!parse_count(f[1], index) || index >= lookups.size()) {
      bad_report(line, "a fact about an address not asked about");
    }
    fact.address = static_cast<std::size_t>(index);
    const bool as = f[2] == "as";
    fact.kind = as ? net::AddressFact::Kind::As : net::AddressFact::Kind::Country;
    const bool two_letters =
        f[5].size() == 2 && f[5][0] >= 'a' && f[5][0] <= 'z' && f[5][1] >= 'a' && f[5][1] <= 'z';
    if ((!as && f[2] != "country") || !parse_count(f[3], number) || number > 0xffffffffull ||
        f[4].size() > k_max_field || (as ? !f[5].empty() : (f[3] != "0" || !f[4].empty() || !two_letters)) ||
        f[6].empty() || f[6].size() > 64 || !known_fact_source(f[7])) {
      bad_report(line, "a malformed field");
    }
    fact.as_number = static_cast<std::uint32_t>(number);
    fact.as_name = std::string(f[4]);
    fact.country = std::string(f[5]);
    fact.network = std::string(f[6]);
    fact.source = std::string(f[7]);
    for (const ReportedFact& other : out.facts) {
      if (other.address == fact.address && other.kind == fact.kind && other.source == fact.source) {
        bad_report(line, "a second fact of one kind and source about one address");
      }
    }
    if (out.facts.size() >= lookups.size() * k_facts_per_address) {
      bad_report(line, "more facts than addresses asked about allow");
    }
    out.facts.push_back(std::move(fact));
  }
  const std::size_t records = expected.size() + lists.size() + asns.size() + out.facts.size();
  std::uint64_t n = 0;
  const auto end = split(next_line(), '\t');
  if (end.size() != 2 || end[0] != "end" || !parse_count(end[1], n) || n != records || pos != all.size()) {
    bad_report(line, "expected 'end " + std::to_string(records) + "' and nothing after it");
  }
  for (auto& z : found) {
    out.zones.push_back(std::move(*z));
  }
  return out;
}

} // namespace

ChildReport
parse_child_report(const std::string& text, const net::SourceData& expected,
                   const std::vector<net::Address>& lookups)
{
  std::vector<ZoneKey> zones;
  for (const net::ZoneResult& z : expected.zones) {
    zones.emplace_back(z.country, z.family);
  }
  std::vector<ExpectedList> lists;
  for (const net::BlocklistResult& b : expected.lists) {
    lists.push_back({b.name, b.location});
  }
  std::vector<ExpectedAsn> asns;
  for (const net::AsnResult& a : expected.asns) {
    asns.push_back({a.number, a.allow});
  }
  return parse(text, zones, lists, asns, lookups);
}

ChildReport
parse_child_report(const std::string& text, const std::vector<std::string>& countries, net::Families families,
                   const std::vector<ExpectedList>& lists, const std::vector<ExpectedAsn>& asns,
                   const std::vector<net::Address>& lookups)
{
  std::vector<ZoneKey> zones;
  for (const net::Family f : families_of(families)) {
    for (const std::string& cc : countries) {
      zones.emplace_back(cc, f);
    }
  }
  return parse(text, zones, lists, asns, lookups);
}

namespace {

// Parses a result's handed-over text again with `parse` (which fills
// result.nets and returns the parse's summary); a parse error makes the
// result a failure of its own, logged as `label`'s.
template <class Result, class Parse>
void
parse_again(Result& result, const std::string& label, Parse parse)
{
  try {
    result.lines = parse(result.nets).lines;
  } catch (const ParseError& e) {
    result.nets = {};
    result.origin = net::Origin::Failed;
    result.error = std::string("refused on re-validation: ") + e.what();
    log::warning(label + ": " + result.error);
  }
}

} // namespace

std::vector<net::BlocklistResult>
revalidate_lists(const std::vector<ReportedList>& lists, const net::ZoneOptions& guards)
{
  // The lists' networks, validated again here by the strict list parser
  // with the configured guards; a list that fails is that list's failure.
  std::vector<net::BlocklistResult> out;
  for (const ReportedList& r : lists) {
    net::BlocklistResult b;
    b.name = r.name;
    b.location = r.location;
    b.origin = r.origin;
    b.bytes = r.bytes;
    b.fetched_at = r.fetched_at;
    b.last_modified = r.last_modified;
    b.sha256 = r.sha256;
    b.error = r.error;
    if (b.usable()) {
      parse_again(b, "blocklist " + b.name, [&](net::NetList& nets) {
        return net::parse_blocklist(r.body, b.name + " " + b.location + " (handed over)", guards, nets);
      });
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<net::AsnResult>
revalidate_asns(const std::vector<ReportedAsn>& asns, const net::ZoneOptions& guards)
{
  std::vector<net::AsnResult> out;
  for (const ReportedAsn& r : asns) {
    net::AsnResult a;
    a.number = r.number;
    a.allow = r.allow;
    a.name = r.name;
    a.origin = r.origin;
    a.fetched_at = r.fetched_at;
    a.last_modified = r.last_modified;
    a.location = r.location;
    a.error = r.error;
    if (a.usable() && a.origin != net::Origin::Absent) {
      parse_again(a, a.label(), [&](net::NetList& nets) {
        return net::parse_blocklist(r.body, "AS" + std::to_string(a.number) + " (handed over)", guards, nets);
      });
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<net::ZoneResult>
revalidate_zones(const std::vector<ReportedZone>& zones, const net::ZoneOptions& guards)
{
  // The networks are validated again here, by the strict zone parser with
  // the configured guards, from the text the child handed over.
  std::vector<net::ZoneResult> out;
  for (const ReportedZone& r : zones) {
    net::ZoneResult z;
    z.country = r.country;
    z.family = r.family;
    z.origin = r.origin;
    z.bytes = r.bytes;
    z.stale = r.stale;
    z.fetched_at = r.fetched_at;
    z.last_modified = r.last_modified;
    z.location = r.location;
    z.error = r.error;
    z.source = r.source;
    if (z.usable() && z.origin != net::Origin::Absent) {
      net::ZoneOptions zo = guards;
      zo.families = z.family == net::Family::V4 ? net::Families::V4 : net::Families::V6;
      const std::string label = z.country + " " + net::family_name(z.family);
      parse_again(z, label, [&](net::NetList& nets) {
        return net::parse_zone(r.body, label + " (handed over)", zo, nets);
      });
    }
    out.push_back(std::move(z));
  }
  return out;
}

std::vector<net::AddressFact>
revalidate_facts(const std::vector<ReportedFact>& facts, const std::vector<net::Address>& lookups)
{
  std::vector<net::AddressFact> out;
  for (const ReportedFact& r : facts) {
    if (r.address >= lookups.size()) {
      continue; // parse_child_report lets none through
    }
    const net::Address& a = lookups[r.address];
    net::AddressFact f;
    f.address = r.address;
    f.kind = r.kind;
    f.as_number = r.as_number;
    f.source = r.source;
    if (r.kind == net::AddressFact::Kind::As) {
      const std::string label = net::asn_label(r.as_number, r.as_name);
      const std::size_t skip = 2 + std::to_string(r.as_number).size();
      f.as_name = label.size() > skip ? label.substr(skip + 1) : "";
    } else {
      f.country = r.country;
    }
    net::NetList nets;
    std::string problem;
    bool one = net::parse_network(r.network, nets, &problem) && nets.size() == 1;
    if (one && r.network.find('/') == std::string::npos) {
      one = false;
      problem = "no prefix length";
    }
    if (one) {
      net::set_network(f, nets.v4.empty() ? net::Family::V6 : net::Family::V4,
                       nets.v4.empty() ? net::Prefix4{} : nets.v4[0],
                       nets.v6.empty() ? net::Prefix6{} : nets.v6[0]);
      // Exactly as this side writes a network: no host bits, canonical.
      if (f.network() != r.network) {
        one = false;
        problem = "not in canonical form";
      }
    }
    if (!one || !f.holds(a)) {
      log::warning("what the " + f.source + " data says of " + net::to_string(a) +
                   ": refused on re-validation: '" + r.network + "' " +
                   (one ? "does not hold the address" : "is not a network: " + problem));
      continue;
    }
    out.push_back(std::move(f));
  }
  return out;
}

net::SourceData
revalidate(const ChildReport& report, const net::ZoneOptions& guards,
           const std::vector<net::Address>& lookups)
{
  net::SourceData out;
  out.lists = revalidate_lists(report.lists, guards);
  out.asns = revalidate_asns(report.asns, guards);
  out.zones = revalidate_zones(report.zones, guards);
  out.facts = revalidate_facts(report.facts, lookups);
  return out;
}

} // namespace geoblock::privsep
