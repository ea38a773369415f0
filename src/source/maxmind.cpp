#include "source/maxmind.hpp"

#include "core/error.hpp"
#include "source/csv.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <unordered_map>

namespace geoblock::source {

namespace {

constexpr std::string_view k_locations = "GeoLite2-Country-Locations-en.csv";
constexpr std::string_view k_blocks_v4 = "GeoLite2-Country-Blocks-IPv4.csv";
constexpr std::string_view k_blocks_v6 = "GeoLite2-Country-Blocks-IPv6.csv";

constexpr int k_no_country = -1; // a location without a country (a continent)

struct Data {
  std::vector<MaxmindCountry> countries;
  std::unordered_map<std::string, int> slot_of_code;
  std::unordered_map<std::uint32_t, int> slot_of_geoname; // slot or k_no_country
};

bool
parse_id(std::string_view s, std::uint32_t& out)
{
  const char* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, out);
  return !s.empty() && r.ec == std::errc{} && r.ptr == end;
}

const ZipEntry&
member(const ZipReader& zip, std::string_view base)
{
  const ZipEntry* e = zip.find_base_name(base);
  if (!e) {
    throw Error(zip.path() + ": no " + std::string(base) +
                " in the zip (not a GeoLite2 Country CSV archive?)");
  }
  return *e;
}

void
read_locations(CsvReader& csv, Data& data)
{
  std::vector<std::string_view> row;
  if (!csv.next(row)) {
    throw ParseError(csv.name(), 1, "", "empty file");
  }
  const std::size_t id_col = csv.column(row, "geoname_id");
  const std::size_t code_col = csv.column(row, "country_iso_code");
  const std::size_t fields = row.size();
  while (csv.next(row)) {
    if (row.size() != fields) {
      throw ParseError(csv.name(), csv.line(), std::string(csv.raw()),
                       "expected " + std::to_string(fields) + " fields, found " + std::to_string(row.size()));
    }
    std::uint32_t id = 0;
    if (!parse_id(row[id_col], id)) {
      throw ParseError(csv.name(), csv.line(), std::string(csv.raw()), "invalid geoname_id");
    }
    const std::string_view code = row[code_col];
    int slot = k_no_country;
    if (!code.empty()) {
      if (code.size() != 2 || !std::isalpha(static_cast<unsigned char>(code[0])) ||
          !std::isalpha(static_cast<unsigned char>(code[1]))) {
        throw ParseError(csv.name(), csv.line(), std::string(csv.raw()), "invalid country_iso_code");
      }
      std::string lower(code);
      for (char& c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      const auto [it, added] = data.slot_of_code.try_emplace(lower, static_cast<int>(data.countries.size()));
      if (added) {
        data.countries.emplace_back();
        data.countries.back().code = lower;
      }
      slot = it->second;
    }
    if (!data.slot_of_geoname.emplace(id, slot).second) {
      throw ParseError(csv.name(), csv.line(), std::string(csv.raw()), "geoname_id listed twice");
    }
  }
}

// Reads one blocks file, appending each row's network to its country.
template <class A>
void
read_blocks(CsvReader& csv, const MaxmindOptions& options, Data& data)
{
  constexpr net::Family family = net::kFamily<A>;
  std::vector<std::string_view> row;
  if (!csv.next(row)) {
    throw ParseError(csv.name(), 1, "", "empty file");
  }
  const std::size_t network_col = csv.column(row, "network");
  const std::size_t located_col = csv.column(row, "geoname_id");
  const std::size_t registered_col = csv.column(row, "registered_country_geoname_id");
  const std::size_t fields = row.size();
  const bool fallback = options.fallback == GeonameFallback::Registered;

  net::NetList unwanted; // rows of countries not asked for are validated, then dropped
  std::string problem;
  auto fail = [&](std::string what) {
    throw ParseError(csv.name(), csv.line(), std::string(csv.raw()), std::move(what));
  };
  auto slot_of = [&](std::string_view id_text, const char* column) {
    if (id_text.empty()) {
      return k_no_country;
    }
    std::uint32_t id = 0;
    if (!parse_id(id_text, id)) {
      fail(std::string("invalid ") + column);
    }
    const auto it = data.slot_of_geoname.find(id);
    if (it == data.slot_of_geoname.end()) {
      fail(std::string(column) + " " + std::string(id_text) + " is not in " + std::string(k_locations));
    }
    return it->second;
  };

  while (csv.next(row)) {
    if (row.size() != fields) {
      fail("expected " + std::to_string(fields) + " fields, found " + std::to_string(row.size()));
    }
    const int located = slot_of(row[located_col], "geoname_id");
    const int registered = slot_of(row[registered_col], "registered_country_geoname_id");
    const int slot = located != k_no_country || !fallback ? located : registered;
    MaxmindCountry* country =
        slot == k_no_country ? nullptr : &data.countries[static_cast<std::size_t>(slot)];
    net::NetList& out = country && country->wanted ? country->nets : unwanted;
    const std::size_t before = out.of<A>().size();
    if (!net::parse_network(row[network_col], out, &problem)) {
      fail(problem);
    }
    if (out.of<A>().size() == before) {
      fail(net::family_problem(family, family == net::Family::V4 ? net::Family::V6 : net::Family::V4));
    }
    if (std::string guard = net::prefix_problem(options.zone, family, out.of<A>().back().len);
        !guard.empty()) {
      fail(guard);
    }
    if (country) {
      ++(family == net::Family::V4 ? country->rows4 : country->rows6);
    }
    unwanted.v4.clear();
    unwanted.v6.clear();
  }
}

std::int64_t
file_mtime(const std::string& path)
{
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_mtime) : 0;
}

} // namespace

std::optional<GeonameFallback>
parse_geoname_fallback(std::string_view text)
{
  if (text == "registered") {
    return GeonameFallback::Registered;
  }
  if (text == "none") {
    return GeonameFallback::None;
  }
  return std::nullopt;
}

const char*
geoname_fallback_name(GeonameFallback f)
{
  return f == GeonameFallback::None ? "none" : "registered";
}

std::vector<MaxmindCountry>
read_maxmind_csv(CsvReader& locations, const MaxmindBlocksOpener& open_blocks,
                 const std::vector<std::string>& countries, net::Families families,
                 const MaxmindOptions& options)
{
  Data data;
  read_locations(locations, data);
  for (MaxmindCountry& c : data.countries) {
    c.wanted = countries.empty() || std::find(countries.begin(), countries.end(), c.code) != countries.end();
  }
  if (net::includes(families, net::Family::V4)) {
    CsvReader blocks = open_blocks(net::Family::V4);
    read_blocks<std::uint32_t>(blocks, options, data);
  }
  if (net::includes(families, net::Family::V6)) {
    CsvReader blocks = open_blocks(net::Family::V6);
    read_blocks<net::u128>(blocks, options, data);
  }
  return std::move(data.countries);
}

std::vector<net::ZoneResult>
read_maxmind(const std::string& path, const std::vector<std::string>& countries, net::Families families,
             const MaxmindOptions& options)
{
  const ZipReader zip(path);
  const ZipEntry& locations_entry = member(zip, k_locations);
  const std::string locations_text = zip.read(locations_entry, options.limits);
  CsvReader locations = CsvReader::from_string(locations_text, zip.path() + ":" + locations_entry.name);
  // Blocks files are streamed from the zip, never held whole.
  const auto open_blocks = [&zip, &options](net::Family family) {
    const ZipEntry& entry = member(zip, family == net::Family::V4 ? k_blocks_v4 : k_blocks_v6);
    auto in = std::make_shared<ZipMemberStream>(zip.open(entry, options.limits));
    const std::string name = in->name();
    return CsvReader([in](char* buf, std::size_t n) { return in->read(buf, n); }, name);
  };
  std::vector<MaxmindCountry> data = read_maxmind_csv(locations, open_blocks, countries, families, options);

  // The order of the results: as asked, or every country sorted.
  std::vector<std::string> order;
  for (const std::string& code : countries) {
    if (std::find(order.begin(), order.end(), code) == order.end()) {
      order.push_back(code);
    }
  }

  std::string v4_location;
  std::string v6_location;
  std::int64_t v4_mtime = 0;
  std::int64_t v6_mtime = 0;
  if (net::includes(families, net::Family::V4)) {
    const ZipEntry& e = member(zip, k_blocks_v4);
    v4_location = path + ":" + e.name;
    v4_mtime = e.mtime;
  }
  if (net::includes(families, net::Family::V6)) {
    const ZipEntry& e = member(zip, k_blocks_v6);
    v6_location = path + ":" + e.name;
    v6_mtime = e.mtime;
  }

  if (countries.empty()) {
    for (const MaxmindCountry& c : data) {
      if (!c.nets.empty()) {
        order.push_back(c.code);
      }
    }
    std::sort(order.begin(), order.end());
  }

  const std::int64_t fetched_at = file_mtime(path);
  std::vector<net::ZoneResult> results;
  for (const std::string& code : order) {
    const auto it =
        std::find_if(data.begin(), data.end(), [&](const MaxmindCountry& m) { return m.code == code; });
    MaxmindCountry* c = it == data.end() ? nullptr : &*it;
    for (const net::Family family : {net::Family::V4, net::Family::V6}) {
      if (!net::includes(families, family)) {
        continue;
      }
      const bool v4 = family == net::Family::V4;
      net::ZoneResult r;
      r.country = code;
      r.family = family;
      r.location = v4 ? v4_location : v6_location;
      r.fetched_at = fetched_at;
      r.last_modified = v4 ? v4_mtime : v6_mtime;
      if (c) {
        r.lines = v4 ? c->rows4 : c->rows6;
        if (v4) {
          r.nets.v4 = std::move(c->nets.v4);
        } else {
          r.nets.v6 = std::move(c->nets.v6);
        }
      }
      r.origin = r.nets.empty() ? net::Origin::Absent : net::Origin::Local;
      if (r.nets.empty()) {
        r.error = std::string("no ") + net::family_name(family) + " networks for " + code + " in " + path;
      }
      results.push_back(std::move(r));
    }
  }
  return results;
}

} // namespace geoblock::source
