// Extra blocklists (the `blocklist URL|FILE` key): each list fetched with
// the zones' rules, through the same HTTP client, cache and validation.
//
// A URL (http://, https://) is fetched with a conditional GET (ETag,
// If-Modified-Since), the size limit of zones (FetchOptions::max_zone_bytes)
// and their retries; a FILE (a path) is read through the same client as a
// file:// URL. Every list is validated whole (net::parse_blocklist) before
// it is cached or used; when a list cannot be fetched or read, or is
// refused, its last good copy is used (StaleCache, exit code 4), and with
// no copy it is Failed. An empty list from a URL is accepted only when the
// list never had networks; after it had some it is refused like an emptied
// zone (a broken feed, not a decision). An empty FILE is accepted: emptying
// one's own file is a decision.
//
// Cache layout, under FetchOptions::cache_dir (beside the zones' v4/, v6/):
//   DIR/lists/ID.list   the last good copy, byte for byte as served
//   DIR/lists/ID.meta   its metadata in the zones' .meta format (ZoneMeta;
//                       `country` holds ID, `family` is unused)
// where ID is the list's name (characters other than letters, digits, '.',
// '_' and '-' replaced by '_') and 12 hex digits of the SHA-256 of its
// location, so two lists of the same name do not share a copy. Files are
// replaced atomically, the body before its meta (zone_cache.hpp). The
// cache is read as written by a less trusted process (the fetcher owns
// it; docs/security.md): util::read_untrusted_file, at most 64 MiB a file.
#pragma once

#include "fetch/fetcher.hpp"
#include "net/blocklist.hpp"
#include "net/data_source.hpp"
#include "net/zone_source.hpp"
#include "util/temp_dir.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::fetch {

// The configured lists, in order, with their cache: a DataSource that
// returns lists only (net/data_source.hpp).
class BlocklistSource final : public net::DataSource {
public:
  // `locations` as configured (URLs or paths; one given twice counts once). With Cache::ScratchIfReadOnly
  // a process that cannot write options.cache_dir uses a private temporary
  // directory (a dry run by an unprivileged user), like HttpSource.
  BlocklistSource(std::vector<std::string> locations, FetchOptions options,
                  HttpSource::Cache cache = HttpSource::Cache::Configured);

  // One result per list, in the configured order; names are made unique
  // ("list.txt", "list.txt~2"). Refresh fetches (files are read); CacheOnly
  // uses the cached copies alone (restore, status, check, --offline). A
  // list's failure is its result's origin and error, never an exception;
  // throws Error only when the cache cannot be written.
  std::vector<net::BlocklistResult> load(net::ZoneSource::Mode mode) const;

  // net::DataSource: "blocklist LOCATION, ..."; load() as lists of `out`;
  // one list per location, named as names() says; DIR/lists; the FILE
  // lists, which the root process opens for the confined child. A
  // CacheOnly load reads the cached copies alone, as untrusted files
  // through the strict list parser: the root process may do it itself.
  std::string describe() const override;
  void load_into(const net::LoadRequest& request, net::SourceData& out) override;
  net::SourceData expected(const net::LoadRequest& request) const override;
  std::vector<std::string> cache_folders() const override { return {"lists"}; }
  std::vector<std::string> files() const override;
  bool load_cache_here(const net::LoadRequest& request, net::SourceData& out) const override;

  // Where list `location` is cached (its body; ".meta" beside it).
  std::string cache_path(const std::string& location) const;

  // The lists, each once, in the configured order, and their names in
  // reports (the names of load()'s results, in the same order).
  const std::vector<std::string>& locations() const { return m_locations; }
  std::vector<std::string> names() const;

  // FILE list `location` is read from `path` instead (the fetching process
  // reads a copy of what the root process opened); its name, cache and
  // messages stay those of `location` (`path` in an error is replaced by
  // it).
  void read_from(const std::string& location, std::string path) { m_read_from[location] = std::move(path); }

private:
  std::vector<std::string> m_locations;
  std::map<std::string, std::string> m_read_from;
  FetchOptions m_options;
  std::optional<util::TempDir> m_scratch;
};

// True for http:// and https:// locations (case-insensitive); anything else
// is a path.
bool is_blocklist_url(const std::string& location);

// A file:// URL for a path (made absolute; characters outside the
// unreserved set and '/' percent-encoded).
std::string file_url(const std::string& path);

} // namespace geoblock::fetch
