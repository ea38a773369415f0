// The keys of source mmdb and of the autonomous systems (issue 21), apart
// from config.cpp: mmdb-file, mmdb-registered-fallback, mmdb-field, asn,
// allow-asn, asn-file.
#include "flow/config.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "net/asn.hpp"
#include "source/mmdb.hpp"
#include "source/mmdb_source.hpp"
#include "source/remote_file.hpp"

#include <algorithm>

namespace geoblock::flow {

namespace {

// "AS13335, 13335 AS64496" (commas or blanks between) into numbers, each
// once, appended in order.
void
parse_asns(const std::vector<std::string>& values, const std::string& where, std::vector<std::uint32_t>& out)
{
  for (const std::string& value : values) {
    std::string_view rest = value;
    bool any = false;
    while (!rest.empty()) {
      const auto end = rest.find_first_of(", \t");
      const std::string_view item = rest.substr(0, end);
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
      if (item.empty()) {
        continue;
      }
      const auto n = net::parse_asn(item);
      if (!n) {
        throw ConfigError(where + ": '" + std::string(item) +
                          "' is not an AS number (AS13335 or 13335, at most 4294967295)");
      }
      any = true;
      if (std::find(out.begin(), out.end(), *n) == out.end()) {
        out.push_back(*n);
      }
    }
    if (!any) {
      throw ConfigError(where + ": no AS number given");
    }
  }
}

bool
has_mmdb_source(const Settings& s)
{
  return std::any_of(s.sources.begin(), s.sources.end(), [](const Settings::SourceSpec& spec) {
    return spec.kind == Settings::SourceKind::Mmdb;
  });
}

} // namespace

void
validate_mmdb_and_asn(const Config& raw, Settings& s)
{
  const KeyOrigins& o = raw.origins;
  // The default database only when neither files nor URLs are given.
  s.mmdb_files = raw.mmdb_file.empty() && raw.mmdb_url.empty()
                     ? std::vector<std::string>{source::k_default_mmdb_file}
                     : raw.mmdb_file;
  for (const auto& [key, urls] :
       {std::pair<const char*, const std::vector<std::string>*>{"mmdb-url", &raw.mmdb_url},
        std::pair<const char*, const std::vector<std::string>*>{"asn-url", &raw.asn_url}}) {
    for (const std::string& url : *urls) {
      if (const std::string problem = source::remote_url_problem(url); !problem.empty()) {
        throw ConfigError(o.where(key) + ": " + problem);
      }
    }
  }
  if (!raw.mmdb_url.empty() && !has_mmdb_source(s)) {
    throw ConfigError(o.where("mmdb-url") + ": set, but source does not list mmdb (source = mmdb)");
  }
  for (const std::string& f : s.mmdb_files) {
    if (f.empty() || f.find("://") != std::string::npos) {
      throw ConfigError(o.where("mmdb-file") + ": expected a file, got '" + f + "'");
    }
  }
  if (!raw.mmdb_file.empty() && !has_mmdb_source(s)) {
    throw ConfigError(o.where("mmdb-file") + ": set, but source does not list mmdb (source = mmdb)");
  }
  if (!raw.mmdb_field.empty() && !source::parse_mmdb_path(raw.mmdb_field)) {
    throw ConfigError(o.where("mmdb-field") +
                      ": expected a dot-separated path such as country.iso_code, got '" + raw.mmdb_field +
                      "'");
  }

  parse_asns(raw.asn, o.where("asn"), s.asns);
  parse_asns(raw.allow_asn, o.where("allow-asn"), s.allow_asns);
  for (const std::uint32_t n : s.asns) {
    if (std::find(s.allow_asns.begin(), s.allow_asns.end(), n) != s.allow_asns.end()) {
      throw ConfigError(o.where("allow-asn") + ": AS" + std::to_string(n) + " is also listed in asn");
    }
  }
  for (const std::string& f : raw.asn_file) {
    if (f.empty() || f.find("://") != std::string::npos) {
      throw ConfigError(o.where("asn-file") + ": expected a file, got '" + f + "'");
    }
  }
  if ((!s.asns.empty() || !s.allow_asns.empty()) && raw.asn_file.empty() && raw.asn_url.empty()) {
    throw ConfigError(
        o.where(s.asns.empty() ? "allow-asn" : "asn") +
        ": needs ASN data: asn-file or asn-url (GeoLite2-ASN.mmdb, iptoasn's ip2asn-v4.tsv, ...)");
  }
}

} // namespace geoblock::flow
