// MaxMind GeoLite2 Country CSV as a zone source, read straight from the
// zip MaxMind distributes (GeoLite2-Country-CSV_YYYYMMDD.zip), without
// extracting anything to disk.
//
// Members are found by base name whatever their folder
// (GeoLite2-Country-CSV_20261124/...):
//   GeoLite2-Country-Locations-en.csv   geoname_id -> country_iso_code
//   GeoLite2-Country-Blocks-IPv4.csv    network, geoname_id,
//   GeoLite2-Country-Blocks-IPv6.csv    registered_country_geoname_id, ...
// Columns are found by their header name, so added or reordered columns
// do not matter; quoted fields are parsed (RFC 4180).
//
// Which country a network counts for (GeonameFallback, the configuration
// key geoname-fallback):
//   Registered (default, "registered"): geoname_id, the country MaxMind
//     locates the network in; when it is empty or names no country (a
//     continent-level location), registered_country_geoname_id, the country
//     the network is registered to. MaxMind leaves geoname_id empty on some
//     rows (anonymous proxies, satellite providers, networks only known by
//     registration); counting them by registration is what ipdeny.com's
//     RIR-based lists do, so switching sources does not silently unblock them.
//   None ("none"): geoname_id only; rows without a located country are skipped.
// represented_country_geoname_id (e.g. a military base abroad) is never
// used: it names whom the network serves, not where it is.
//
// Validation is as strict as for zone files: every network of every row
// (whether its country is wanted or not) must parse, be of the file's
// family and pass the min-prefix guard, and every geoname_id must be in the
// locations file; otherwise ParseError names the zip, member and line.
#pragma once

#include "net/cidr.hpp"
#include "net/zone.hpp"
#include "net/zone_result.hpp"
#include "net/zone_source.hpp"
#include "source/csv.hpp"
#include "source/zip_archive.hpp"

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::source {

enum class GeonameFallback { Registered, None };

// "registered" / "none"; nothing for anything else.
std::optional<GeonameFallback> parse_geoname_fallback(std::string_view text);
const char* geoname_fallback_name(GeonameFallback f);

struct MaxmindOptions {
  GeonameFallback fallback = GeonameFallback::Registered;
  // Only min_prefix_v4/v6 are used; the family comes from the member.
  net::ZoneOptions zone{net::Families::Both, net::k_default_min_prefix_v4, net::k_default_min_prefix_v6};
  ZipLimits limits;
};

// One result per requested country and family, in the order of
// `countries` (lower-case ISO codes), IPv4 before IPv6. An empty
// `countries` means every country that has networks, sorted.
//   origin     Local, or Absent when the data has no network for it
//   nets       the networks of that family, as listed (not aggregated)
//   lines      the rows that counted for it
//   location   "ZIP:MEMBER" of the blocks file
//   last_modified  the blocks member's time stamp in the zip
//   fetched_at     the zip file's modification time
//   bytes, sha256  0 / empty: the rows of all countries share one file
// Throws Error or ParseError (naming the zip and member) when the zip or
// any row is unusable: nothing is returned then.
std::vector<net::ZoneResult> read_maxmind(const std::string& path, const std::vector<std::string>& countries,
                                          net::Families families, const MaxmindOptions& options = {});

// The CSV half of read_maxmind, apart from the zip (tests and the fuzzer
// feed it text): reads `locations`, then the blocks file of each family of
// `families`, IPv4 first, which `open_blocks` opens when its turn comes,
// with the checks above. Returns every country of the locations file, in
// order of first appearance; only those `countries` asks for (all when it
// is empty) are `wanted` and get their networks. Throws ParseError naming
// the source and line (or what `open_blocks` throws).
struct MaxmindCountry {
  std::string code;      // lower case
  bool wanted = false;   // asked for
  net::NetList nets;     // the networks of the rows that counted for it, when wanted
  std::size_t rows4 = 0; // rows that counted for it, per family, wanted or not
  std::size_t rows6 = 0;
};
using MaxmindBlocksOpener = std::function<CsvReader(net::Family)>;
std::vector<MaxmindCountry> read_maxmind_csv(CsvReader& locations, const MaxmindBlocksOpener& open_blocks,
                                             const std::vector<std::string>& countries,
                                             net::Families families, const MaxmindOptions& options = {});

// read_maxmind as a ZoneSource: a local file, so both modes read it.
class MaxmindSource final : public net::ZoneSource {
public:
  MaxmindSource(std::string path, MaxmindOptions options)
      : m_path(std::move(path)), m_options(std::move(options))
  {
  }
  std::string describe() const override { return "maxmind " + m_path; }
  std::vector<net::ZoneResult> load(const std::vector<std::string>& countries, net::Families families,
                                    Mode) override
  {
    return read_maxmind(m_path, countries, families, m_options);
  }
  // The root process opens it for the confined child.
  std::vector<std::string> files() const override { return {m_path}; }

private:
  std::string m_path;
  MaxmindOptions m_options;
};

} // namespace geoblock::source
