// The fetcher: turns validated country codes into validated zones, using
// and refreshing the cache (zone_cache.hpp), and never leaves the caller
// with less than the last good data.
//
// Upstream layout (ipdeny.com, and any mirror of it under base_url):
//   BASE/ipblocks/data/countries/cc.zone     IPv4 zone of country cc (lower case)
//   BASE/ipblocks/data/countries/MD5SUM      "<md5>  cc.zone" lines
//   BASE/ipv6/ipaddresses/blocks/cc.zone     IPv6 zone
//   BASE/ipv6/ipaddresses/blocks/MD5SUM
// See docs/fetch.md.
#pragma once

#include "fetch/http_client.hpp"
#include "fetch/shrink_guard.hpp"
#include "fetch/zone_cache.hpp"
#include "net/cidr.hpp"
#include "net/zone.hpp"
#include "net/zone_result.hpp"
#include "net/zone_source.hpp"
#include "util/clock.hpp"
#include "util/temp_dir.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace geoblock::fetch {

// The per-zone result every source returns lives in net (zone_result.hpp).
using net::Origin;
using net::origin_name;
using net::ZoneResult;

enum class ProgressMode {
  Auto,     // Terminal when stderr is a terminal and the log level is not quiet, else Lines
  Terminal, // one live line on stderr (zones done / total, bytes, 304s), then the summary
  Lines,    // log lines: a summary line; per-zone lines with --verbose (cron, journald)
  Quiet,    // warnings and errors only (what log::set_level allows)
};

inline constexpr const char* k_default_base_url = "https://www.ipdeny.com";
inline constexpr const char* k_default_cache_dir = "/var/cache/geoblock";

struct FetchOptions {
  std::string base_url = k_default_base_url; // http://, https:// or file://; no trailing slash needed
  std::string cache_dir = k_default_cache_dir;
  int parallel = 4; // ipdeny answers bursts with 503: polite by default
  long connect_timeout_ms = k_default_connect_timeout_ms;
  long timeout_ms = 60'000;    // per attempt
  int retries = 3;             // on timeouts, cut connections, 5xx (never 4xx)
  long retry_delay_ms = 1'000; // first backoff, doubling, with jitter
  std::uint64_t max_zone_bytes = 8u << 20;
  std::string ca_bundle;     // TLS trust anchors; verification is always on
  int stale_after_days = 60; // warn when data is older; <= 0: never
  // The disaster guard for validation (its families are each zone's own).
  net::ZoneOptions zone{net::Families::Both, net::k_default_min_prefix_v4, net::k_default_min_prefix_v6};
  bool offline = false;      // cache only, no network
  bool verify_md5sum = true; // check downloads against upstream MD5SUM when published
  // URL templates of the zones ({cc}: lower-case code, {CC}: upper case);
  // empty: ipdeny's layout under base_url.
  std::string zone_url_v4;
  std::string zone_url_v6;
  ProgressMode progress = ProgressMode::Auto;
  // max-shrink: new data that covers that much fewer addresses than the
  // zone's (or list's) last good copy is refused and not cached: the result
  // is Origin::Refused with the last good copy (shrink_guard.hpp).
  ShrinkGuard shrink;
  // What a zone's failure leads to, for the words of its warning: its last
  // good copy (the only source), or the next source of a failover list
  // (which still falls back on that copy when no source has fresh data).
  enum class OnFailure { LastGoodCopy, NextSource };
  OnFailure on_failure = OnFailure::LastGoodCopy;
  util::UnixClock clock = util::system_unix_time; // "now" for data ages and fetch times
  HttpSeams http_seams; // the network and the waits (http_client.hpp); tests put fakes here
};

// The URL of a zone, and of a family's MD5SUM, under `base_url`.
std::string zone_url(const std::string& base_url, const std::string& country, net::Family family);
std::string md5sum_url(const std::string& base_url, net::Family family);

// With the options' templates (zone_url_v4/v6, else ipdeny's layout under
// base_url): the zone's URL, and the MD5SUM of the directory the zones are
// in: the template's part before its last '/', plus "/MD5SUM". A template
// whose directory part holds a placeholder (one directory per country) has
// no MD5SUM: empty. An MD5SUM lists a zone under its URL's last segment.
std::string zone_url(const FetchOptions& options, const std::string& country, net::Family family);
std::string md5sum_url(const FetchOptions& options, net::Family family);
// "{cc}" -> "nz", "{CC}" -> "NZ" in `url_template`.
std::string expand_zone_url(const std::string& url_template, const std::string& country);
// Why `url_template` is not a usable zone URL template (an http://,
// https:// or file:// URL with {cc} or {CC} and no other braces), or ""
// when it is.
std::string zone_url_template_problem(const std::string& url_template);

// The HTTP settings of the options (size limit: max_zone_bytes).
HttpOptions http_options(const FetchOptions& options);
// A dry run by a user who cannot write options.cache_dir gets a private
// temporary cache instead: makes it in `scratch` and points the options at
// it; nothing changes when the configured one is writable.
void scratch_cache_if_read_only(FetchOptions& options, std::optional<util::TempDir>& scratch);

// Records a 200 or 304 answer in a cached copy's metadata: fetched now,
// and the validators (ETag, Last-Modified) the server sent, keeping the
// old ones where it sent none.
void note_response(ZoneMeta& meta, const HttpResponse& resp, std::int64_t now);

// An MD5SUM file: "<md5>  name" lines (md5sum's output; "*name" for binary
// mode too), CRLF or LF, blank lines ignored. Maps each name to its MD5 in
// lower-case hex (32 digits); a name listed twice keeps its last MD5.
// Nothing when any line is not of that form (not an MD5SUM file).
using Md5List = std::unordered_map<std::string, std::string>;
std::optional<Md5List> parse_md5sum(std::string_view text);

// Fetches every country x family (v4 zones first, then v6, countries in the
// given order) and returns one result per zone, in that order. `countries`
// must already be validated (parse_countries). Never throws for one zone's
// failure: that zone becomes StaleCache (last good copy, with `error`) or
// Failed (no copy at all); a zone missing or empty upstream that never had
// data is Absent. New data that covers more than options.shrink.max_shrink
// fewer addresses than the cached copy is not cached: the zone is Refused
// (the cached copy, the refusal in `error`) unless options.shrink.force. Throws Error only for problems that
// affect every zone (the cache directory cannot be written, libcurl cannot start). In offline mode the cache
// is read and validated: NotModified, Absent or Failed ("no cached copy"). Logs warnings for failed, rejected
// and stale zones (log.hpp) and shows progress per options.progress.
std::vector<ZoneResult> fetch_zones(const std::vector<std::string>& countries, net::Families families,
                                    const FetchOptions& options);

struct FetchSummary {
  std::size_t zones = 0, downloaded = 0, not_modified = 0, stale_cache = 0, failed = 0, absent = 0;
  std::size_t refused = 0;    // new data refused by max-shrink (the last good copy kept)
  std::size_t stale_data = 0; // zones whose data is older than stale_after_days
  std::uint64_t bytes = 0;    // body bytes transferred
};
FetchSummary summarize(const std::vector<ZoneResult>& results);

// True when no zone has new data and none failed: every result is
// NotModified or Absent, so an `update` can say "nothing changed".
bool nothing_changed(const std::vector<ZoneResult>& results);

// One cached zone for `status`: its metadata and derived facts.
struct CacheEntry {
  ZoneMeta meta;
  std::int64_t age_days = 0;         // since last_modified upstream (fetched_at if unknown)
  std::int64_t fetched_days_ago = 0; // since the last successful fetch
  bool stale = false;                // older than stale_after_days
  bool body_ok = false;              // body present and matching its recorded SHA-256
};

// Every cached zone under `cache_dir`, v4 then v6, by country; `now` is
// unix time. Verifies each body's hash (reads the bodies).
std::vector<CacheEntry> cache_status(const std::string& cache_dir, int stale_after_days, std::int64_t now);

// The download options of `options` (parallel, timeouts, retries, size
// limit, CA bundle): one setting for zones and every other file fetched.
HttpOptions http_options(const FetchOptions& options);

// True when `dir`, or the nearest existing directory above it, is writable
// (a cache this process may fill).
bool writable_dir(const std::string& dir);

// The HTTP mirror with its cache as a ZoneSource. CacheOnly reads the
// cache alone (FetchOptions::offline).
class HttpSource final : public net::ZoneSource {
public:
  enum class Cache {
    Configured,        // options.cache_dir
    ScratchIfReadOnly, // a dry run by a user who cannot write it downloads into a private temporary directory
  };
  explicit HttpSource(FetchOptions options, Cache cache = Cache::Configured);
  std::string describe() const override
  {
    return m_options.zone_url_v4.empty() ? m_options.base_url : m_options.zone_url_v4;
  }
  std::optional<net::CacheReport> cache(std::int64_t now) const override;
  std::vector<ZoneResult> load(const std::vector<std::string>& countries, net::Families families,
                               Mode mode) override
  {
    FetchOptions o = m_options;
    o.offline = o.offline || mode == Mode::CacheOnly;
    return fetch_zones(countries, families, o);
  }
  // The zones' cache (zone_cache.hpp): DIR/v4 and DIR/v6.
  std::vector<std::string> cache_folders() const override { return {"v4", "v6"}; }
  // A CacheOnly load reads the cached zones alone, each through
  // util::read_untrusted_file and the strict zone parser, with no
  // progress output: the root process may do it itself (restore at boot).
  bool load_cache_here(const net::LoadRequest& request, net::SourceData& out) const override;

private:
  FetchOptions m_options;
  std::optional<util::TempDir> m_scratch;
};

} // namespace geoblock::fetch
