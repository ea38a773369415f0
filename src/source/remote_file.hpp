// Data files downloaded into the cache (mmdb-url, asn-url): a database or
// ASN file fetched with the zones' HTTP client (conditional GET with the
// cached ETag / Last-Modified, size limit, timeouts, retries), gunzipped
// when it is gzip data (.gz), validated by the caller before it replaces
// the last good copy.
//
// URL templates: {yyyy} and {mm} are the current UTC year and month
// (DB-IP's monthly dbip-country-lite-{yyyy}-{mm}.mmdb.gz); when this
// month's file is not there yet (404), the previous month's is fetched.
//
// Cache: DIR/SUB/NAME-HASH (NAME the template's last path segment without
// placeholders and .gz, HASH 12 hex digits of the template's SHA-256), the
// decompressed body, and NAME-HASH.meta (fetch::ZoneMeta's format: url,
// etag, last_modified_http, fetched_at, sha256 of the body as served).
// Written atomically, body before meta.
#pragma once

#include "core/error.hpp"
#include "fetch/http_client.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace geoblock::source {

struct RemoteFileOptions {
  fetch::HttpOptions http;
  std::string cache_dir;                        // where the copies live (DIR); required
  std::string sub;                              // the folder in it: "mmdb", "asn"
  std::size_t max_bytes = std::size_t{1} << 30; // after decompression
  bool offline = false;                         // CacheOnly: the cached copies alone
  std::function<std::int64_t()> clock;          // unix time; empty: the wall clock
};

// What one URL gave.
struct RemoteFile {
  std::string url_template;
  std::string url;  // the URL fetched (or whose copy is cached)
  std::string path; // the copy to read; empty: none (failed, no cached copy)
  // Refused: the validator refused the download as a shrink
  // (RefusedDownload): the last good copy is kept and `path` names it.
  enum class State { Downloaded, NotModified, Cached, Refused, Failed };
  State state = State::Failed;
  std::string error; // why this run did not refresh it (Cached, Refused, Failed)
  std::int64_t fetched_at = 0;
  std::uint64_t bytes = 0; // body bytes transferred
};

// Checks a downloaded copy (the decompressed bytes, readable at `path`)
// before it replaces the last good one (`previous`, readable there; "":
// none); throws Error to refuse it, RefusedDownload when its data is
// valid but refused against the last good copy (max-shrink).
using RemoteValidator =
    std::function<void(const std::string& path, const std::string& url, const std::string& previous)>;
class RefusedDownload : public Error {
public:
  using Error::Error;
};

// Refreshes (or, offline, looks up) every URL template, in order. A URL
// that fails, or whose download `validate` refuses, keeps its last good
// copy (Cached, or Refused for a RefusedDownload, with the reason) or has
// none (Failed).
std::vector<RemoteFile> refresh_remote_files(const std::vector<std::string>& url_templates,
                                             const RemoteFileOptions& options,
                                             const RemoteValidator& validate);

// Where the last good copy of `url_template` lives (DIR/SUB/NAME-HASH).
std::string remote_copy_path(const RemoteFileOptions& options, const std::string& url_template);

// {yyyy} and {mm} of `url_template` at unix time `now`, `months_back`
// months earlier.
std::string expand_month_template(const std::string& url_template, std::int64_t now, int months_back = 0);
// Nothing wrong, or why `url_template` is no mmdb-url / asn-url: an
// http://, https:// or file:// URL whose only braces are {yyyy} and {mm}.
std::string remote_url_problem(const std::string& url_template);

} // namespace geoblock::source
