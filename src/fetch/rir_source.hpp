// The Regional Internet Registries' delegation statistics as a zone
// source (`source = rir`): the five delegated-<registry>-extended-latest
// files, fetched once per run and read into every country's networks
// (net::parse_rir).
//
// Each file is fetched like a zone (conditional GET, its own size limit,
// validated before it is cached, atomic cache, the last good copy when
// this run's copy fails) and checked against URL.md5 when the registry
// publishes one (a 404 for the .md5 means none is published; a mismatch
// refuses the file). A file is taken whole or not at all: one malformed
// line refuses it, naming the file and the line, and its last good copy
// serves instead.
//
// Cache, under the fetcher's cache directory (ZoneCache's layout, one
// "zone" per file, named after the URL's last path segment):
//   DIR/rir/v4/delegated-ripencc-extended-latest.zone   the file as served
//   DIR/rir/v4/delegated-ripencc-extended-latest.meta   its metadata
//
// max-shrink (shrink_guard.hpp) is per zone, not per file: before the new
// files replace their cached copies, each zone of RirOptions::countries is
// built from the new files and from their last good copies; a zone whose
// new data covers more than max-shrink fewer addresses keeps the last good
// copies of the files whose records for it changed (they are not cached,
// and their other zones use the old copies too: a file is taken whole or
// not at all).
//
// Per zone (country and family):
//   - Refused when max-shrink refused its new data (the last good copies'
//     networks, the refusal as its error);
//   - Failed, naming the file, when any file has neither this run's copy
//     nor a good cached one (a country's records could be in it);
//   - StaleCache when the country has records in a file served from its
//     last good copy;
//   - Absent when no file lists the country for that family;
//   - else Downloaded when a file it has records in was downloaded in this
//     run, NotModified otherwise.
// fetched_at is the oldest of the files' last successful fetches.
#pragma once

#include "fetch/fetcher.hpp"
#include "net/rir.hpp"
#include "net/zone_source.hpp"
#include "util/temp_dir.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::fetch {

// The five registries' extended statistics (AFRINIC, APNIC, ARIN, LACNIC,
// RIPE NCC).
inline const std::vector<std::string> k_default_rir_urls = {
    "https://ftp.afrinic.net/pub/stats/afrinic/delegated-afrinic-extended-latest",
    "https://ftp.apnic.net/stats/apnic/delegated-apnic-extended-latest",
    "https://ftp.arin.net/pub/stats/arin/delegated-arin-extended-latest",
    "https://ftp.lacnic.net/pub/stats/lacnic/delegated-lacnic-extended-latest",
    "https://ftp.ripe.net/pub/stats/ripencc/delegated-ripencc-extended-latest",
};
inline constexpr std::uint64_t k_default_rir_max_bytes = 64ull << 20;

// The MD5 of a registry's .md5 file, in lower-case hex: "MD5 (name) =
// hash" (BSD md5), "hash  name" or "hash *name" (md5sum), or the bare
// hash; a trailing newline or CR allowed. Nothing for anything else.
std::optional<std::string> parse_rir_md5(std::string_view text);

// The file name a URL's file is cached under (its last path segment);
// empty when the URL ends in '/'.
std::string rir_file_name(const std::string& url);

struct RirOptions {
  std::vector<std::string> urls = k_default_rir_urls;
  std::uint64_t max_bytes = k_default_rir_max_bytes; // per file
  // The zones max-shrink compares between the files' last good copies and
  // their new copies: the configured countries and families (a failover
  // list asks this source for some zones only, but a file it caches serves
  // every zone later). Empty: the zones of the first load.
  std::vector<std::string> countries;
  net::Families families = net::Families::Both;
};

// One delegation file as read in a run.
struct RirFile {
  std::string url;
  std::string name;               // rir_file_name(url)
  Origin origin = Origin::Failed; // Downloaded, NotModified, StaleCache or Failed
  std::string error;              // why StaleCache / Failed
  std::int64_t fetched_at = 0;    // last successful fetch (0: never)
  std::int64_t last_modified = 0; // upstream's (0: unknown)
  std::uint64_t bytes = 0;        // transferred in this run, .md5 included
  net::RirData data;              // empty when Failed
};

class RirSource final : public net::ZoneSource {
public:
  // `fetch` supplies the cache directory, HTTP settings, the prefix guard
  // and the clock; Cache as for HttpSource.
  RirSource(FetchOptions fetch, RirOptions rir, HttpSource::Cache cache = HttpSource::Cache::Configured);
  std::string describe() const override;
  std::vector<ZoneResult> load(const std::vector<std::string>& countries, net::Families families,
                               Mode mode) override;
  // The delegation files in the cache (CachedZone::file; networks: the
  // records taken), for status.
  std::optional<net::CacheReport> cache(std::int64_t now) const override;
  // DIR/rir: the delegation files, which only the confined child parses.
  std::vector<std::string> cache_folders() const override { return {"rir"}; }

private:
  void read_files(Mode mode, const std::vector<std::string>& countries, net::Families families);

  FetchOptions m_options;
  RirOptions m_rir;
  std::optional<util::TempDir> m_scratch;
  // The files as read in this process (one fetch per run, whatever the
  // number of load calls).
  std::vector<RirFile> m_files;
  std::optional<Mode> m_read; // the mode the files were read in
  // The zones max-shrink refused in this run: "cc v4" -> the refusal.
  std::map<std::string, std::string> m_refused;
};

} // namespace geoblock::fetch
