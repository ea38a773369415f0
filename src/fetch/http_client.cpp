#include "fetch/http_client.hpp"

#include "core/error.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <pwd.h>
#include <random>
#include <string_view>
#include <unistd.h>

namespace geoblock::fetch {

namespace {

using Clock = std::chrono::steady_clock;

struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void
global_init()
{
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw FetchError("cannot initialise libcurl");
    }
  });
}

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

// One request's state across its attempts.
struct Transfer {
  std::size_t index = 0;
  const HttpRequest* request = nullptr;
  HttpResponse response;
  EasyPtr easy;
  SlistPtr headers;
  char error_buffer[CURL_ERROR_SIZE] = {};
  std::uint64_t max_bytes = 0;
  bool file_url = false;
  Clock::time_point not_before{};
};

size_t
on_body(char* data, size_t size, size_t count, void* user)
{
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  // Enforced while receiving: a huge or endless body never fills memory.
  if (t->response.body.size() + n > t->max_bytes) {
    t->response.too_large = true;
    return 0; // makes libcurl abort the transfer with CURLE_WRITE_ERROR
  }
  t->response.body.append(data, n);
  t->response.bytes += n;
  return n;
}

size_t
on_header(char* data, size_t size, size_t count, void* user)
{
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  parse_header_line(std::string_view(data, n), t->response);
  return n;
}

void
set(CURL* e, CURLoption option, long value)
{
  curl_easy_setopt(e, option, value);
}

void
set(CURL* e, CURLoption option, const char* value)
{
  curl_easy_setopt(e, option, value);
}

void
prepare(Transfer& t, const HttpOptions& options)
{
  t.easy.reset(curl_easy_init());
  if (!t.easy) {
    throw FetchError("cannot create a libcurl handle");
  }
  CURL* e = t.easy.get();
  t.response.body.clear();
  t.response.etag.clear();
  t.response.last_modified_http.clear();
  t.response.too_large = false;
  t.error_buffer[0] = '\0';

  set(e, CURLOPT_URL, t.request->url.c_str());
  set(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
  set(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(e, CURLOPT_FOLLOWLOCATION, 1L);
  set(e, CURLOPT_MAXREDIRS, 5L);
  set(e, CURLOPT_NOSIGNAL, 1L);
  set(e, CURLOPT_ERRORBUFFER, static_cast<const char*>(t.error_buffer));
  set(e, CURLOPT_USERAGENT,
      options.user_agent.empty() ? "geoblock/" GEOBLOCK_VERSION : options.user_agent.c_str());
  set(e, CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
  set(e, CURLOPT_TIMEOUT_MS, options.timeout_ms);
  set(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  // Wait for a multiplexed HTTP/2 stream rather than opening more connections.
  set(e, CURLOPT_PIPEWAIT, 1L);
  set(e, CURLOPT_ACCEPT_ENCODING, ""); // any encoding libcurl decodes; the limit applies to decoded bytes
  set(e, CURLOPT_FILETIME, 1L);
  // TLS verification is always on; only the trust anchors are configurable.
  set(e, CURLOPT_SSL_VERIFYPEER, 1L);
  set(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_bundle.empty()) {
    set(e, CURLOPT_CAINFO, options.ca_bundle.c_str());
  }
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t.max_bytes));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);

  t.headers.reset();
  if (!t.file_url) {
    curl_slist* list = nullptr;
    auto add = [&list](const std::string& header) {
      curl_slist* grown = curl_slist_append(list, header.c_str());
      if (!grown) {
        curl_slist_free_all(list);
        throw FetchError("out of memory building request headers");
      }
      list = grown;
    };
    if (!t.request->etag.empty()) {
      add("If-None-Match: " + t.request->etag);
    }
    if (!t.request->last_modified.empty()) {
      add("If-Modified-Since: " + t.request->last_modified);
    }
    t.headers.reset(list);
    if (list) {
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
    }
  }
}

// The name of the user this process reads files as (the fetch-user in the
// fetching process), or "uid N".
std::string
reading_user()
{
  const uid_t uid = ::geteuid();
  passwd pw{};
  passwd* found = nullptr;
  char buf[1024];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr && found->pw_name) {
    return found->pw_name;
  }
  return "uid " + std::to_string(uid);
}

// libcurl says only "Couldn't open file" for a file:// URL it cannot read,
// whatever the reason. The path's own errno tells a missing file (ENOENT:
// "" here, a 404 for the callers) from one that is there but unreadable
// (EACCES, ELOOP, ...): then the path, the reason and the user, in one line.
std::string
file_problem(const std::string& url, const char* curl_error)
{
  std::string path;
  if (CURLU* u = curl_url()) {
    char* p = nullptr;
    if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &p, CURLU_URLDECODE) == CURLUE_OK && p) {
      path = p;
    }
    curl_free(p);
    curl_url_cleanup(u);
  }
  if (path.empty()) {
    return url + ": " + curl_error;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  const int err = fd < 0 ? errno : 0;
  if (fd >= 0) {
    ::close(fd);
  }
  if (err == ENOENT) {
    return {};
  }
  return "cannot read " + path + " as user " + reading_user() + ": " +
         (err != 0 ? std::strerror(err) : curl_error);
}

// Fills status/error from a finished attempt. Returns true when another
// attempt may help: timeouts, refused or cut connections, 5xx and 429.
// Never for 4xx, a body over the limit or a missing file.
bool
finish(Transfer& t, CURLcode code)
{
  HttpResponse& r = t.response;
  CURL* e = t.easy.get();
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_off_t filetime = -1;
  if (curl_easy_getinfo(e, CURLINFO_FILETIME_T, &filetime) == CURLE_OK && filetime > 0) {
    r.last_modified = static_cast<std::int64_t>(filetime);
  }
  curl_off_t retry_after = 0;
  r.retry_after_s = curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0
                        ? static_cast<long>(retry_after)
                        : 0;
  r.error.clear();
  if (code == CURLE_OK) {
    r.status = t.file_url ? 200 : status;
    if (r.status < 200 || r.status >= 300) {
      r.body.clear(); // an error page is not data
    }
    return r.status >= 500 || r.status == 429;
  }
  r.status = 0;
  r.body.clear();
  if (r.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    r.too_large = true;
    r.error = "body larger than the limit of " + std::to_string(t.max_bytes) + " bytes";
    return false;
  }
  const char* curl_error = t.error_buffer[0] ? t.error_buffer : curl_easy_strerror(code);
  if (t.file_url && (code == CURLE_FILE_COULDNT_READ_FILE || code == CURLE_REMOTE_FILE_NOT_FOUND)) {
    r.error = file_problem(t.request->url, curl_error);
    if (r.error.empty()) {
      r.status = 404; // missing: what a mirror's 404 means
    }
    return false;
  }
  r.error = curl_error;
  switch (code) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_TOO_MANY_REDIRECTS:
  case CURLE_FILE_COULDNT_READ_FILE:
    return false;
  default:
    return true;
  }
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

// One http_get_all run: the transfers, the queue of those waiting to start
// (or to retry), and the multi handle that runs them.
class Run {
public:
  Run(const std::vector<HttpRequest>& requests, const HttpOptions& options, const HttpDoneCallback& on_done)
      : m_options(options), m_on_done(on_done), m_multi(curl_multi_init()),
        m_parallel(static_cast<std::size_t>(std::max(1, options.parallel))), m_transfers(requests.size())
  {
    if (!m_multi) {
      throw FetchError("cannot create a libcurl multi handle");
    }
    curl_multi_setopt(m_multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(m_parallel));
    curl_multi_setopt(m_multi.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(m_parallel));
    for (std::size_t i = 0; i < requests.size(); ++i) {
      m_transfers[i].index = i;
      m_transfers[i].request = &requests[i];
      m_transfers[i].max_bytes = options.max_bytes;
      m_transfers[i].file_url = starts_with_nocase(requests[i].url, "file:");
      m_waiting.push_back(i);
    }
    std::reverse(m_waiting.begin(), m_waiting.end()); // taken from the back: in request order
  }

  std::vector<HttpResponse> run(HttpStats* stats)
  {
    while (m_active > 0 || !m_waiting.empty()) {
      start_due();
      int running = 0;
      if (curl_multi_perform(m_multi.get(), &running) != CURLM_OK) {
        throw FetchError("libcurl multi interface failed");
      }
      collect_finished();
      if (m_active == 0 && m_waiting.empty()) {
        break;
      }
      if (curl_multi_poll(m_multi.get(), nullptr, 0, wait_ms(), nullptr) != CURLM_OK) {
        throw FetchError("libcurl multi interface failed");
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
    const auto now = Clock::now();
    for (auto it = m_waiting.end(); it != m_waiting.begin() && m_active < m_parallel;) {
      --it;
      Transfer& t = m_transfers[*it];
      if (t.not_before > now) {
        continue;
      }
      prepare(t, m_options);
      if (curl_multi_add_handle(m_multi.get(), t.easy.get()) != CURLM_OK) {
        throw FetchError("cannot start a transfer of " + t.request->url);
      }
      ++t.response.attempts;
      ++m_stats.transfers;
      ++m_active;
      it = m_waiting.erase(it);
    }
  }

  // Finished attempts: queued again for a retry, or done.
  void collect_finished()
  {
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(m_multi.get(), &queued)) {
      if (msg->msg != CURLMSG_DONE) {
        continue;
      }
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      const CURLcode code = msg->data.result;
      curl_multi_remove_handle(m_multi.get(), msg->easy_handle);
      --m_active;
      if (finish(*t, code) && t->response.attempts <= m_options.retries) {
        // Exponential backoff with jitter, so a fleet does not retry in step.
        const double backoff = static_cast<double>(m_options.retry_delay_ms) *
                               static_cast<double>(1L << std::min(t->response.attempts - 1, 16)) *
                               m_jitter(m_rng);
        // A server that says when to come back (429, 503 with Retry-After)
        // is not asked again sooner.
        const long asked = (t->response.status == 429 || t->response.status == 503)
                               ? std::min(t->response.retry_after_s * 1000L, m_options.max_retry_after_ms)
                               : 0L;
        const long delay = std::max(static_cast<long>(backoff), asked);
        t->not_before = Clock::now() + std::chrono::milliseconds(delay);
        t->easy.reset();
        ++m_stats.retries;
        m_waiting.push_back(t->index);
        continue;
      }
      if (!t->response.ok() && t->response.attempts > 1) {
        t->response.error += " (after " + std::to_string(t->response.attempts) + " attempts)";
      }
      t->easy.reset();
      t->headers.reset();
      if (m_on_done) {
        m_on_done(t->index, t->response);
      }
    }
  }

  // How long to sleep: until there is network activity, or the next retry
  // is due. A waiting request matters only when a slot is free to start it:
  // with every slot busy, its due time (the epoch for one never started)
  // would turn the poll into a busy loop.
  int wait_ms() const
  {
    int wait = 1000;
    if (m_active < m_parallel) {
      const auto now = Clock::now();
      for (const std::size_t i : m_waiting) {
        const auto due =
            std::chrono::duration_cast<std::chrono::milliseconds>(m_transfers[i].not_before - now);
        wait = std::min<int>(wait, std::max<int>(0, static_cast<int>(due.count())));
      }
    }
    return wait;
  }

  const HttpOptions& m_options;
  const HttpDoneCallback& m_on_done;
  MultiPtr m_multi;
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
  global_init();
  return Run(requests, options, on_done).run(stats);
}

std::string
libcurl_version()
{
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  std::string text = std::string("libcurl ") + info->version;
  std::string details = info->ssl_version ? info->ssl_version : "no TLS";
  if (std::string_view(info->version) != LIBCURL_VERSION) {
    details += "; built with " LIBCURL_VERSION;
  }
  return text + " (" + details + ")";
}

} // namespace geoblock::fetch
