// Parallel HTTP(S)/file downloads with conditional GET, bounded size,
// timeouts and retries.
//
// Two seams keep the side effects apart (ninja's DiskInterface): the
// network is an HttpTransport, which runs the attempts it is given, and
// time is a util::MonotonicClock. The client here decides everything else
// (what starts when, within `parallel`; which failure is retried, after
// which backoff or Retry-After; the size limit; the final response), and
// includes no libcurl: the real transport (curl_transport.hpp) is the only
// file that does. Tests drive the client with a fake transport and a fake
// clock (tests/support/fake_http.hpp), and prove the real transport
// against nginx and a fault-injecting server.
#pragma once

#include "util/clock.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace geoblock::fetch {

class HttpTransport;

// The one default of the connection timeout (the connect-timeout key's).
inline constexpr long k_default_connect_timeout_ms = 15'000;

// The side effects of HTTP, for tests to replace. Null: the real ones (a
// libcurl transport made for each http_get_all call, the steady clock).
// Not owned; they must outlive the calls that use them. A transport given
// here serves one call at a time, and none after a call that threw (its
// attempts may still be in flight).
struct HttpSeams {
  HttpTransport* transport = nullptr;
  util::MonotonicClock* clock = nullptr;
};

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
  HttpSeams seams;
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

// One attempt as the transport saw it end.
struct HttpAttempt {
  enum class Failure {
    None,      // a complete response: `status` (file:// 200, or 404 for a missing file)
    Transient, // timeout, refused or cut connection, ...: another attempt may help
    Permanent, // bad URL, TLS verification, redirects, an unreadable file: none will
    TooLarge,  // the body went over HttpOptions::max_bytes while it was received
  };
  Failure failure = Failure::None;
  std::string error; // why, for every failure but None
  long status = 0;
  std::string body;
  std::string etag; // validators as parse_header_line keeps them
  std::string last_modified_http;
  std::int64_t last_modified = 0; // unix time (Last-Modified, a file's mtime); 0: unknown
  long retry_after_s = 0;         // the response's Retry-After in seconds (a date made relative); 0: none
  std::uint64_t bytes = 0;        // body bytes received by this attempt
};

// The network, as the client sees it: attempts start, and later finish.
// A transport runs whatever it is given at once; how many run together,
// and when an attempt is repeated, is the client's business. One client
// run uses it from one thread.
class HttpTransport {
public:
  using Finished = std::vector<std::pair<std::size_t, HttpAttempt>>;

  virtual ~HttpTransport() = default;
  // Starts one attempt of `request` under `options` (timeouts, the size
  // limit, trust anchors, user agent), known as `id` until it finishes:
  // an id is not started again before its attempt has finished. Throws
  // FetchError only when the transport itself fails.
  virtual void start(std::size_t id, const HttpRequest& request, const HttpOptions& options) = 0;
  // The attempts that finished since the last call, each once, waiting
  // for at least one for at most `at_most`; it may return none earlier
  // (other network activity). Throws FetchError only when the transport
  // itself fails.
  virtual Finished wait(std::chrono::milliseconds at_most) = 0;
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

// Performs all `requests`, at most options.parallel at once (over reused
// connections, HTTP/2 multiplexed where the server offers it over TLS,
// with the real transport), and returns one response per request, in
// order. A failed attempt is retried (options.retries) on timeouts,
// refused or cut connections, 5xx and 429, after the backoff or, for a 429
// or 503 with Retry-After, no sooner than the server asked; never on
// other 4xx, a body over the limit or a missing file. Waits on
// options.seams.clock. Never throws for one request's failure; throws
// FetchError only when the transport fails.
std::vector<HttpResponse> http_get_all(const std::vector<HttpRequest>& requests, const HttpOptions& options,
                                       const HttpDoneCallback& on_done = {}, HttpStats* stats = nullptr);

} // namespace geoblock::fetch
