#include "fetch/http_client.hpp"

#include "core/error.hpp"
#include "fetch/curl_transport.hpp"

#include <algorithm>
#include <memory>
#include <random>

namespace geoblock::fetch {

namespace {

using Clock = util::MonotonicClock;
using std::chrono::milliseconds;

bool
starts_with_nocase(std::string_view s, std::string_view prefix)
{
  if (s.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(s[i]) != lower(prefix[i])) {
      return false;
    }
  }
  return true;
}

std::string_view
trim(std::string_view s)
{
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// A validator's value. It goes into the cache's meta file and comes back in
// the next request's If-None-Match or If-Modified-Since; one holding a
// control character (CR, NUL, ESC, ...) is no valid ETag or HTTP-date and
// would not survive that trip intact, so it is not kept at all.
std::string
validator(std::string_view value)
{
  value = trim(value);
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      return {};
    }
  }
  return std::string(value);
}

} // namespace

void
parse_header_line(std::string_view line, HttpResponse& response)
{
  if (starts_with_nocase(line, "HTTP/")) {
    // A new response (after a redirect or a 100): forget earlier headers.
    response.etag.clear();
    response.last_modified_http.clear();
  } else if (starts_with_nocase(line, "etag:")) {
    response.etag = validator(line.substr(5));
  } else if (starts_with_nocase(line, "last-modified:")) {
    response.last_modified_http = validator(line.substr(14));
  }
}

namespace {

// One request's state across its attempts.
struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse response;
  Clock::time_point not_before{}; // a retry waits for this
};

// One http_get_all run: the transfers, the queue of those waiting to start
// (or to retry), and the transport that runs them.
class Run {
public:
  Run(const std::vector<HttpRequest>& requests, const HttpOptions& options, const HttpDoneCallback& on_done)
      : m_options(options), m_on_done(on_done),
        m_clock(options.seams.clock ? *options.seams.clock : util::steady_clock()),
        m_parallel(static_cast<std::size_t>(std::max(1, options.parallel))), m_transfers(requests.size())
  {
    if (options.seams.transport) {
      m_transport = options.seams.transport;
    } else {
      m_own_transport = make_curl_transport(options.parallel);
      m_transport = m_own_transport.get();
    }
    for (std::size_t i = 0; i < requests.size(); ++i) {
      m_transfers[i].request = &requests[i];
      m_waiting.push_back(i);
    }
    std::reverse(m_waiting.begin(), m_waiting.end()); // taken from the back: in request order
  }

  std::vector<HttpResponse> run(HttpStats* stats)
  {
    while (m_active > 0 || !m_waiting.empty()) {
      start_due();
      if (m_active == 0) {
        // Nothing in flight, every request left waits for its retry:
        // nothing to do but wait for the first.
        m_clock.sleep_until(next_due());
        continue;
      }
      for (auto& [index, attempt] : m_transport->wait(wait_time())) {
        finished(index, std::move(attempt));
      }
    }
    std::vector<HttpResponse> responses;
    responses.reserve(m_transfers.size());
    for (Transfer& t : m_transfers) {
      m_stats.bytes += t.response.bytes;
      responses.push_back(std::move(t.response));
    }
    if (stats) {
      *stats = m_stats;
    }
    return responses;
  }

private:
  // Starts what is due, in request order, up to `parallel` at once.
  void start_due()
  {
    const auto now = m_clock.now();
    for (auto it = m_waiting.end(); it != m_waiting.begin() && m_active < m_parallel;) {
      --it;
      Transfer& t = m_transfers[*it];
      if (t.not_before > now) {
        continue;
      }
      m_transport->start(*it, *t.request, m_options);
      ++t.response.attempts;
      ++m_stats.transfers;
      ++m_active;
      it = m_waiting.erase(it);
    }
  }

  // An attempt ended: the request is queued again for a retry, or done.
  void finished(std::size_t index, HttpAttempt a)
  {
    Transfer& t = m_transfers.at(index);
    HttpResponse& r = t.response;
    --m_active;
    // The limit holds whatever the transport: one that hands over more
    // than it (instead of stopping while receiving) is refused here.
    if (a.failure == HttpAttempt::Failure::None && a.body.size() > m_options.max_bytes) {
      a.failure = HttpAttempt::Failure::TooLarge;
    }
    r.bytes += a.bytes;
    r.etag = std::move(a.etag);
    r.last_modified_http = std::move(a.last_modified_http);
    r.last_modified = a.last_modified;
    r.retry_after_s = a.retry_after_s;
    r.too_large = false;
    r.error.clear();
    r.status = 0;
    r.body.clear();
    bool again = false;
    switch (a.failure) {
    case HttpAttempt::Failure::None:
      r.status = a.status;
      if (r.status >= 200 && r.status < 300) {
        r.body = std::move(a.body); // an error page is not data
      }
      again = r.status >= 500 || r.status == 429;
      break;
    case HttpAttempt::Failure::TooLarge:
      r.too_large = true;
      r.error = "body larger than the limit of " + std::to_string(m_options.max_bytes) + " bytes";
      break;
    case HttpAttempt::Failure::Transient:
      r.error = a.error.empty() ? "transfer failed" : std::move(a.error);
      again = true;
      break;
    case HttpAttempt::Failure::Permanent:
      r.error = a.error.empty() ? "transfer failed" : std::move(a.error);
      break;
    }
    if (again && r.attempts <= m_options.retries) {
      t.not_before = m_clock.now() + retry_delay(r);
      ++m_stats.retries;
      m_waiting.push_back(index);
      return;
    }
    if (!r.ok() && r.attempts > 1) {
      r.error += " (after " + std::to_string(r.attempts) + " attempts)";
    }
    if (m_on_done) {
      m_on_done(index, r);
    }
  }

  // Exponential backoff with jitter, so a fleet does not retry in step;
  // a server that says when to come back (429, 503 with Retry-After) is
  // not asked again sooner, up to max_retry_after_ms.
  milliseconds retry_delay(const HttpResponse& r)
  {
    const double backoff = static_cast<double>(m_options.retry_delay_ms) *
                           static_cast<double>(1L << std::min(r.attempts - 1, 16)) * m_jitter(m_rng);
    const long asked = (r.status == 429 || r.status == 503)
                           ? std::min(r.retry_after_s * 1000L, m_options.max_retry_after_ms)
                           : 0L;
    return milliseconds(std::max(static_cast<long>(backoff), asked));
  }

  // When the first waiting request may start (called with none in flight,
  // so every waiting one is a retry with its time).
  Clock::time_point next_due() const
  {
    Clock::time_point due = Clock::time_point::max();
    for (const std::size_t i : m_waiting) {
      due = std::min(due, m_transfers[i].not_before);
    }
    return due;
  }

  // How long the transport may wait: until there is network activity, or
  // the next retry is due. A waiting request matters only when a slot is
  // free to start it: with every slot busy, its due time (the epoch for
  // one never started) would turn the wait into a busy loop. Rounded up:
  // a wait that ends before the retry is due would only come back to wait
  // again.
  milliseconds wait_time()
  {
    milliseconds wait(1000);
    if (m_active < m_parallel && !m_waiting.empty()) {
      const auto due = std::chrono::ceil<milliseconds>(next_due() - m_clock.now());
      wait = std::clamp(due, milliseconds(0), wait);
    }
    return wait;
  }

  const HttpOptions& m_options;
  const HttpDoneCallback& m_on_done;
  Clock& m_clock;
  std::unique_ptr<HttpTransport> m_own_transport;
  HttpTransport* m_transport = nullptr;
  std::size_t m_parallel;
  std::vector<Transfer> m_transfers;
  std::vector<std::size_t> m_waiting; // not started, or waiting for a retry
  std::size_t m_active = 0;
  HttpStats m_stats;
  std::minstd_rand m_rng{std::random_device{}()};
  std::uniform_real_distribution<double> m_jitter{0.5, 1.5};
};

} // namespace

std::vector<HttpResponse>
http_get_all(const std::vector<HttpRequest>& requests, const HttpOptions& options,
             const HttpDoneCallback& on_done, HttpStats* stats)
{
  return Run(requests, options, on_done).run(stats);
}

} // namespace geoblock::fetch
