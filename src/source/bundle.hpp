// Offline bundles: a zip of zone files plus a manifest, for hosts that
// cannot reach the internet (`geoblock export --output zones.zip` on a
// connected host, `source = bundle:/path/zones.zip` on the firewall).
//
// Layout (format version 1):
//   manifest.json       {"format": "geoblock-bundle", "version": 1,
//                        "created": UNIX, "created_utc": "...", "generator": "geoblock X",
//                        "zones": [{"country": "cn", "family": "v4",
//                                   "file": "zones/v4/cn.zone", "bytes": N,
//                                   "lines": N, "networks": N, "sha256": HEX,
//                                   "source": URL, "fetched_at": UNIX,
//                                   "last_modified": UNIX}, ...,
//                                  {"country": "aq", "family": "v6", "absent": true}]}
//   zones/v4/cc.zone    zone bodies, byte for byte as fetched
//   zones/v6/cc.zone
// "absent" records a zone that is legitimately empty upstream (no file).
#pragma once

#include "fetch/zone_cache.hpp"
#include "net/cidr.hpp"
#include "net/zone.hpp"
#include "net/zone_result.hpp"
#include "net/zone_source.hpp"
#include "source/zip_archive.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace geoblock::source {

inline constexpr int k_bundle_version = 1;
inline constexpr const char* k_bundle_manifest = "manifest.json";

// One zone to write into a bundle.
struct BundleZone {
  std::string country; // lower-case ISO 3166-1 alpha-2
  net::Family family = net::Family::V4;
  bool absent = false;         // legitimately empty upstream: listed without a file
  std::string body;            // the zone text
  std::string source;          // where it came from (URL), informative
  std::int64_t fetched_at = 0; // unix times, 0: unknown
  std::int64_t last_modified = 0;
};

struct BundleOptions {
  // The disaster guard (min_prefix_v4/v6); the family of each zone is that
  // of its manifest entry, whatever `zone.families` says.
  net::ZoneOptions zone{net::Families::Both, net::k_default_min_prefix_v4, net::k_default_min_prefix_v6};
  ZipLimits limits;
};

// Writes `zones` and their manifest to `path`, replacing it atomically
// (the old file, if any, stays until the new one is complete). Each body
// is validated first (parse_zone with its family and the guard of
// `options`), so a bundle never carries a zone that would not load; counts
// and SHA-256 are computed here. Throws Error or ParseError naming the
// country and family; `path` is untouched then.
void write_bundle(const std::string& path, const std::vector<BundleZone>& zones, std::int64_t created,
                  const BundleOptions& options = {});

struct ExportSummary {
  std::size_t zones = 0;  // zone files written
  std::size_t absent = 0; // zones recorded as absent
  std::uint64_t bytes = 0;
};

// `geoblock export`: writes the cached zones of `countries` (every cached
// zone when empty) and `families` from `cache` into a bundle at `path`.
// Throws Error naming the country and family when a zone is not in the
// cache or its body is unreadable, so an export is complete or not written.
ExportSummary export_bundle(const fetch::ZoneCache& cache, const std::vector<std::string>& countries,
                            net::Families families, const std::string& path, std::int64_t created,
                            const BundleOptions& options = {});

// One zone of a bundle's manifest, checked.
struct BundleEntry {
  std::string country; // lower-case ISO 3166-1 alpha-2 (two letters a-z)
  net::Family family = net::Family::V4;
  bool absent = false;
  std::string file;        // a safe member name (is_safe_member_name); empty when absent
  std::uint64_t bytes = 0; // as declared
  std::size_t networks = 0;
  std::string sha256; // 64 lower-case hex digits; empty when absent
  std::int64_t fetched_at = 0;
  std::int64_t last_modified = 0;
};

// Parses and checks manifest.json's text (PATH names the bundle in
// messages): the format and its version, then each zone entry (a country
// and family listed once; a file, sizes and hash unless absent). Throws
// Error naming "PATH:manifest.json" and the zone when anything is missing,
// malformed or of a newer format. Members are not looked at here.
std::vector<BundleEntry> parse_bundle_manifest(const std::string& text, const std::string& path);

// `source = bundle:PATH`: the zones of `countries` (every zone of the
// bundle when empty) and `families`, one result per country and family in
// the order of `countries`, IPv4 before IPv6:
//   origin     Local; Absent when the manifest says so; Failed (with
//              `error`) when the bundle does not hold that zone at all
//   location   "PATH:zones/v4/cc.zone"
//   lines, bytes, sha256, fetched_at, last_modified  from the member and
//              the manifest
// The whole bundle is checked before anything is returned; it is refused
// with an Error naming the bundle and member when it is not a zip, its
// central directory is corrupt, the manifest is missing, malformed or of a
// newer format, a member is missing, unlisted, altered (size or SHA-256
// differ from the manifest), has an unsafe name (../x), is larger than
// the limits or inflates beyond its declared size or ratio (zip bomb), or
// when a requested zone does not parse (ParseError naming the member and
// line) or holds another number of networks than the manifest says.
std::vector<net::ZoneResult> read_bundle(const std::string& path, const std::vector<std::string>& countries,
                                         net::Families families, const BundleOptions& options = {});

// read_bundle as a ZoneSource: a local file, so both modes read it.
class BundleSource final : public net::ZoneSource {
public:
  BundleSource(std::string path, BundleOptions options)
      : m_path(std::move(path)), m_options(std::move(options))
  {
  }
  std::string describe() const override { return "bundle " + m_path; }
  std::vector<net::ZoneResult> load(const std::vector<std::string>& countries, net::Families families,
                                    Mode) override
  {
    return read_bundle(m_path, countries, families, m_options);
  }
  // The root process opens it for the confined child.
  std::vector<std::string> files() const override { return {m_path}; }

private:
  std::string m_path;
  BundleOptions m_options;
};

} // namespace geoblock::source
