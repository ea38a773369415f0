// Parallel HTTP(S)/file downloads with conditional GET, bounded size,
// timeouts and retries. The only file that includes libcurl is
// http_client.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::fetch {

// The one default of the connection timeout (the connect-timeout key's).
inline constexpr long k_default_connect_timeout_ms = 15'000;

struct HttpOptions {
  int parallel = 4;                                       // transfers at once (at least 1)
  long connect_timeout_ms = k_default_connect_timeout_ms; // per attempt
  long timeout_ms = 60'000;                               // whole transfer, per attempt
  int retries = 3;             // extra attempts after the first (timeouts, cuts, 5xx, 429)
  long retry_delay_ms = 1'000; // first backoff; doubles each retry, +-50% jitter
  // A 429 or 503 with Retry-After waits at least that long before its
  // retry (a mirror asking for a pause gets it), at most this long.
  long max_retry_after_ms = 300'000;
  std::uint64_t max_bytes = 8u << 20; // body limit, enforced while receiving
  std::string ca_bundle;              // CA file for TLS; empty: the system's. Verification is always on.
  std::string user_agent;             // empty: "geoblock/<version>"
};

struct HttpRequest {
  std::string url;           // http://, https:// or file://
  std::string etag;          // sent as If-None-Match when not empty (HTTP only)
  std::string last_modified; // sent as If-Modified-Since when not empty (HTTP only)
};

struct HttpResponse {
  // HTTP status of the final response (200, 304, 404, ...). file:// URLs
  // give 200, or 404 when the file does not exist; one that exists but
  // cannot be read is an error naming the path, the reason and the user
  // ("cannot read /srv/m/nz.zone as user geoblock: Permission denied").
  // 0: no complete response (then `error` says why).
  long status = 0;
  std::string body; // complete body of a 2xx (empty otherwise or on error)
  std::string etag; // response headers, empty if absent
  std::string last_modified_http;
  std::int64_t last_modified = 0; // unix time from Last-Modified or the file's mtime (0: unknown)
  std::string error;              // non-empty: the transfer failed (timeout, cut, too large, ...)
  bool too_large = false;         // the body exceeded max_bytes
  int attempts = 0;
  long retry_after_s = 0;  // the server's Retry-After of the last attempt (seconds; 0: none)
  std::uint64_t bytes = 0; // body bytes received, all attempts together

  bool ok() const { return error.empty() && status != 0; }
};

struct HttpStats {
  std::size_t transfers = 0; // attempts made
  std::size_t retries = 0;
  std::uint64_t bytes = 0; // body bytes received
};

// Takes the validators of a response from one header line as libcurl
// delivers it, line end included ("ETag: \"5f2a\"\r\n"): ETag and
// Last-Modified (names in any case) set `etag` and `last_modified_http`,
// their values without surrounding blanks, or empty when the value holds a
// control character (they come back in the next conditional request); a
// status line ("HTTP/1.1 200") starts a new response (after a redirect or
// a 100) and clears both. Other lines are ignored.
void parse_header_line(std::string_view line, HttpResponse& response);

// Called on the calling thread as each request finishes (after its last
// attempt), e.g. for a progress line.
using HttpDoneCallback = std::function<void(std::size_t index, const HttpResponse&)>;

// Performs all `requests`, at most options.parallel at once over reused
// connections (HTTP/2 multiplexed where the server offers it over TLS), and
// returns one response per request, in order. Never throws for one
// request's failure; throws FetchError only when libcurl cannot start.
std::vector<HttpResponse> http_get_all(const std::vector<HttpRequest>& requests, const HttpOptions& options,
                                       const HttpDoneCallback& on_done = {}, HttpStats* stats = nullptr);

// "libcurl 7.88.1 (OpenSSL/3.0.19)": the libcurl this process runs with and
// its TLS backend, and the version built against when that differs (for
// geoblock --version).
std::string libcurl_version();

} // namespace geoblock::fetch
