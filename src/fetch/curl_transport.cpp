#include "fetch/curl_transport.hpp"

#include "util/unique_fd.hpp"

#include "core/error.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <list>
#include <memory>
#include <mutex>
#include <pwd.h>
#include <string_view>
#include <unistd.h>

namespace geoblock::fetch {

namespace {

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
is_file_url(std::string_view url)
{
  return url.size() >= 5 && (url[0] == 'f' || url[0] == 'F') && (url[1] == 'i' || url[1] == 'I') &&
         (url[2] == 'l' || url[2] == 'L') && (url[3] == 'e' || url[3] == 'E') && url[4] == ':';
}

// One attempt in flight. Its address is libcurl's private pointer and the
// callbacks' user data: attempts live in a std::list, never moved.
struct Attempt {
  std::size_t id = 0;
  std::string url;
  bool file_url = false;
  std::uint64_t max_bytes = 0;
  EasyPtr easy;
  SlistPtr headers;
  char error_buffer[CURL_ERROR_SIZE] = {};
  HttpResponse seen; // what the header callback keeps (parse_header_line)
  HttpAttempt result;
};

size_t
on_body(char* data, size_t size, size_t count, void* user)
{
  auto* a = static_cast<Attempt*>(user);
  const size_t n = size * count;
  // Enforced while receiving: a huge or endless body never fills memory.
  if (a->result.body.size() + n > a->max_bytes) {
    a->result.failure = HttpAttempt::Failure::TooLarge;
    return 0; // makes libcurl abort the transfer with CURLE_WRITE_ERROR
  }
  a->result.body.append(data, n);
  a->result.bytes += n;
  return n;
}

size_t
on_header(char* data, size_t size, size_t count, void* user)
{
  auto* a = static_cast<Attempt*>(user);
  const size_t n = size * count;
  parse_header_line(std::string_view(data, n), a->seen);
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
prepare(Attempt& a, const HttpRequest& request, const HttpOptions& options)
{
  a.easy.reset(curl_easy_init());
  if (!a.easy) {
    throw FetchError("cannot create a libcurl handle");
  }
  CURL* e = a.easy.get();
  set(e, CURLOPT_URL, a.url.c_str());
  set(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
  set(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(e, CURLOPT_FOLLOWLOCATION, 1L);
  set(e, CURLOPT_MAXREDIRS, 5L);
  set(e, CURLOPT_NOSIGNAL, 1L);
  set(e, CURLOPT_ERRORBUFFER, static_cast<const char*>(a.error_buffer));
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
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(a.max_bytes));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(e, CURLOPT_PRIVATE, &a);

  if (!a.file_url) {
    curl_slist* list = nullptr;
    auto add = [&list](const std::string& header) {
      curl_slist* grown = curl_slist_append(list, header.c_str());
      if (!grown) {
        curl_slist_free_all(list);
        throw FetchError("out of memory building request headers");
      }
      list = grown;
    };
    if (!request.etag.empty()) {
      add("If-None-Match: " + request.etag);
    }
    if (!request.last_modified.empty()) {
      add("If-Modified-Since: " + request.last_modified);
    }
    a.headers.reset(list);
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
  if (const std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup); u) {
    char* p = nullptr;
    if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
        curl_url_get(u.get(), CURLUPART_PATH, &p, CURLU_URLDECODE) == CURLUE_OK && p) {
      path = p;
    }
    curl_free(p);
  }
  if (path.empty()) {
    return url + ": " + curl_error;
  }
  // Opened only to learn why libcurl could not read it.
  const util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  const int err = fd ? 0 : errno;
  if (err == ENOENT) {
    return {};
  }
  return "cannot read " + path + " as user " + reading_user() + ": " +
         (err != 0 ? std::strerror(err) : curl_error);
}

// What the attempt came to, from libcurl's result.
void
finish(Attempt& a, CURLcode code)
{
  HttpAttempt& r = a.result;
  CURL* e = a.easy.get();
  r.etag = a.seen.etag;
  r.last_modified_http = a.seen.last_modified_http;
  curl_off_t filetime = -1;
  if (curl_easy_getinfo(e, CURLINFO_FILETIME_T, &filetime) == CURLE_OK && filetime > 0) {
    r.last_modified = static_cast<std::int64_t>(filetime);
  }
  curl_off_t retry_after = 0;
  if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
    r.retry_after_s = static_cast<long>(retry_after);
  }
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    r.failure = HttpAttempt::Failure::None;
    r.status = a.file_url ? 200 : status;
    if (r.status < 200 || r.status >= 300) {
      r.body.clear(); // an error page is not data
    }
    return;
  }
  r.body.clear();
  if (r.failure == HttpAttempt::Failure::TooLarge || code == CURLE_FILESIZE_EXCEEDED) {
    r.failure = HttpAttempt::Failure::TooLarge;
    r.error = "body larger than the limit of " + std::to_string(a.max_bytes) + " bytes";
    return;
  }
  const char* curl_error = a.error_buffer[0] ? a.error_buffer : curl_easy_strerror(code);
  if (a.file_url && (code == CURLE_FILE_COULDNT_READ_FILE || code == CURLE_REMOTE_FILE_NOT_FOUND)) {
    r.error = file_problem(a.url, curl_error);
    if (r.error.empty()) {
      r.failure = HttpAttempt::Failure::None;
      r.status = 404; // missing: what a mirror's 404 means
    } else {
      r.failure = HttpAttempt::Failure::Permanent;
    }
    return;
  }
  r.error = curl_error;
  switch (code) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_TOO_MANY_REDIRECTS:
  case CURLE_FILE_COULDNT_READ_FILE:
    r.failure = HttpAttempt::Failure::Permanent;
    break;
  default:
    r.failure = HttpAttempt::Failure::Transient;
    break;
  }
}

class CurlTransport final : public HttpTransport {
public:
  explicit CurlTransport(int connections) : m_multi(curl_multi_init())
  {
    if (!m_multi) {
      throw FetchError("cannot create a libcurl multi handle");
    }
    const long n = connections < 1 ? 1L : static_cast<long>(connections);
    curl_multi_setopt(m_multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS, n);
    curl_multi_setopt(m_multi.get(), CURLMOPT_MAXCONNECTS, n);
  }

  ~CurlTransport() override
  {
    for (Attempt& a : m_attempts) {
      curl_multi_remove_handle(m_multi.get(), a.easy.get());
    }
  }

  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  void start(std::size_t id, const HttpRequest& request, const HttpOptions& options) override
  {
    Attempt& a = m_attempts.emplace_back();
    a.id = id;
    a.url = request.url;
    a.file_url = is_file_url(request.url);
    a.max_bytes = options.max_bytes;
    try {
      prepare(a, request, options);
      if (curl_multi_add_handle(m_multi.get(), a.easy.get()) != CURLM_OK) {
        throw FetchError("cannot start a transfer of " + request.url);
      }
    } catch (...) {
      m_attempts.pop_back();
      throw;
    }
  }

  Finished wait(std::chrono::milliseconds at_most) override
  {
    perform();
    Finished done = collect();
    if (!done.empty()) {
      return done;
    }
    const long long ms = std::clamp<long long>(at_most.count(), 0, 1'000'000);
    if (curl_multi_poll(m_multi.get(), nullptr, 0, static_cast<int>(ms), nullptr) != CURLM_OK) {
      throw FetchError("libcurl multi interface failed");
    }
    perform();
    return collect();
  }

private:
  void perform()
  {
    int running = 0;
    if (curl_multi_perform(m_multi.get(), &running) != CURLM_OK) {
      throw FetchError("libcurl multi interface failed");
    }
  }

  Finished collect()
  {
    Finished done;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(m_multi.get(), &queued)) {
      if (msg->msg != CURLMSG_DONE) {
        continue;
      }
      Attempt* a = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&a));
      const CURLcode code = msg->data.result;
      curl_multi_remove_handle(m_multi.get(), msg->easy_handle);
      finish(*a, code);
      done.emplace_back(a->id, std::move(a->result));
      for (auto it = m_attempts.begin(); it != m_attempts.end(); ++it) {
        if (&*it == a) {
          m_attempts.erase(it);
          break;
        }
      }
    }
    return done;
  }

  MultiPtr m_multi;
  std::list<Attempt> m_attempts; // in flight (the destructor takes them out of m_multi first)
};

} // namespace

std::unique_ptr<HttpTransport>
make_curl_transport(int connections)
{
  global_init();
  return std::make_unique<CurlTransport>(connections);
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
