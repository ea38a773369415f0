#include "source/remote_file.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "fetch/fetcher.hpp"
#include "fetch/zone_cache.hpp"
#include "source/gunzip.hpp"
#include "util/atomic_file.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"
#include "util/unique_fd.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace geoblock::source {

namespace {

std::string
replace_all(std::string s, const std::string& from, const std::string& to)
{
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

bool
is_template(const std::string& url)
{
  return url.find("{yyyy}") != std::string::npos || url.find("{mm}") != std::string::npos;
}

} // namespace

std::string
remote_copy_path(const RemoteFileOptions& o, const std::string& url_template)
{
  std::string name = url_template.substr(url_template.rfind('/') + 1);
  name = replace_all(replace_all(name, "{yyyy}", ""), "{mm}", "");
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) {
    name.resize(name.size() - 3);
  }
  std::string safe;
  for (const char c : name.substr(0, 64)) {
    safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
  }
  return o.cache_dir + "/" + o.sub + "/" + safe + "-" + util::sha256_hex(url_template).substr(0, 12);
}

namespace {

std::optional<fetch::ZoneMeta>
read_meta(const std::string& path)
{
  try {
    return fetch::parse_meta(util::read_untrusted_file(path, 1 << 16));
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool
regular_file(const std::string& path)
{
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A copy's metadata written before served_sha256 existed holds the hash
// of the body as served, which differs from the copy's for a .gz
// download: once, the served hash moves to served_sha256 and sha256
// becomes the copy's own.
void
kept_hash(fetch::ZoneMeta& meta, const std::string& copy, std::size_t max_bytes)
{
  if (!meta.served_sha256.empty()) {
    return;
  }
  meta.served_sha256 = meta.sha256;
  try {
    meta.sha256 = util::sha256_hex(util::read_untrusted_file(copy, max_bytes));
  } catch (const Error&) {
  }
}

} // namespace

std::string
expand_month_template(const std::string& url_template, std::int64_t now, int months_back)
{
  const std::time_t t = now;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  int year = tm.tm_year + 1900;
  int month = tm.tm_mon + 1 - months_back;
  while (month < 1) {
    month += 12;
    --year;
  }
  char mm[3];
  std::snprintf(mm, sizeof mm, "%02d", month % 100);
  return replace_all(replace_all(url_template, "{yyyy}", std::to_string(year)), "{mm}", mm);
}

std::string
remote_url_problem(const std::string& url_template)
{
  if (url_template.rfind("http://", 0) != 0 && url_template.rfind("https://", 0) != 0 &&
      url_template.rfind("file://", 0) != 0) {
    return "expected an http://, https:// or file:// URL, got '" + url_template + "'";
  }
  const std::string rest = replace_all(replace_all(url_template, "{yyyy}", ""), "{mm}", "");
  if (rest.find_first_of("{}") != std::string::npos) {
    return "only {yyyy} and {mm} may stand in braces: '" + url_template + "'";
  }
  if (rest.back() == '/') {
    return "'" + url_template + "' names a directory, not a file";
  }
  return {};
}

std::vector<RemoteFile>
refresh_remote_files(const std::vector<std::string>& url_templates, const RemoteFileOptions& o,
                     const RemoteValidator& validate)
{
  const std::int64_t now = o.clock ? o.clock() : static_cast<std::int64_t>(std::time(nullptr));
  std::vector<RemoteFile> out;
  for (const std::string& tmpl : url_templates) {
    RemoteFile f;
    f.url_template = tmpl;
    const std::string copy = remote_copy_path(o, tmpl);
    const std::string meta_path = copy + ".meta";
    std::optional<fetch::ZoneMeta> meta = regular_file(copy) ? read_meta(meta_path) : std::nullopt;
    const bool cached = meta.has_value();
    const auto keep_cached = [&](const std::string& why) {
      f.error = why;
      if (cached) {
        f.state = RemoteFile::State::Cached;
        f.path = copy;
        f.url = meta->url;
        f.fetched_at = meta->fetched_at;
      } else {
        f.state = RemoteFile::State::Failed;
      }
    };
    if (o.offline) {
      keep_cached(cached ? "" : tmpl + ": no cached copy (offline)");
      if (cached) {
        f.state = RemoteFile::State::NotModified;
      }
      out.push_back(std::move(f));
      continue;
    }
    fetch::HttpOptions http = o.http;
    http.max_bytes = o.max_bytes;
    // This month's file, then (for a template) last month's while this
    // month's is not published yet.
    const int tries = is_template(tmpl) ? 2 : 1;
    fetch::HttpResponse resp;
    std::string url;
    for (int back = 0; back < tries; ++back) {
      url = expand_month_template(tmpl, now, back);
      fetch::HttpRequest req{url, "", ""};
      if (cached && meta->url == url) {
        req.etag = meta->etag;
        req.last_modified = meta->last_modified_http;
      }
      resp = fetch::http_get_all({req}, http).front();
      if (resp.status != 404) {
        break;
      }
    }
    f.url = url;
    f.bytes = resp.bytes;
    if (!resp.ok() || (resp.status != 200 && resp.status != 304)) {
      const std::string why =
          url + ": " + (resp.error.empty() ? "HTTP " + std::to_string(resp.status) : resp.error);
      keep_cached(why);
      out.push_back(std::move(f));
      continue;
    }
    if (resp.status == 304 && cached) {
      fetch::note_response(*meta, resp, now);
      kept_hash(*meta, copy, o.max_bytes);
      util::write_file_atomic(meta_path, fetch::format_meta(*meta), 0644);
      f.state = RemoteFile::State::NotModified;
      f.path = copy;
      f.fetched_at = now;
      out.push_back(std::move(f));
      continue;
    }
    const std::string sha = util::sha256_hex(resp.body);
    if (cached && meta->url == url &&
        (meta->served_sha256.empty() ? meta->sha256 : meta->served_sha256) == sha) {
      // The same bytes again (a server without conditionals, file://).
      fetch::note_response(*meta, resp, now);
      kept_hash(*meta, copy, o.max_bytes);
      util::write_file_atomic(meta_path, fetch::format_meta(*meta), 0644);
      f.state = RemoteFile::State::NotModified;
      f.path = copy;
      f.fetched_at = now;
      out.push_back(std::move(f));
      continue;
    }
    try {
      std::string body = is_gzip(resp.body) ? gunzip(resp.body, url, o.max_bytes) : std::move(resp.body);
      {
        // The bytes at a path of their own: libmaxminddb opens files only.
        const util::UniqueFd mem = util::memory_file(body, "geoblock-download", "cannot hold a download");
        validate(util::fd_path(mem.get()), url, cached ? copy : std::string());
      }
      fetch::ZoneMeta m;
      m.country = o.sub; // the meta format's required keys: what kind of file
      m.family = net::Family::V4;
      m.url = url;
      m.size = body.size();
      m.sha256 = util::sha256_hex(body); // of the copy kept (status checks it)
      m.served_sha256 = sha;             // of what was served (the same bytes again are not modified)
      m.changed_at = now;
      fetch::note_response(m, resp, now);
      util::make_dirs(o.cache_dir + "/" + o.sub, 0755);
      util::write_file_atomic(copy, body, 0644);
      util::write_file_atomic(meta_path, fetch::format_meta(m), 0644);
      f.state = RemoteFile::State::Downloaded;
      f.path = copy;
      f.fetched_at = now;
    } catch (const RefusedDownload& e) {
      keep_cached(e.what());
      if (cached) {
        f.state = RemoteFile::State::Refused;
      }
    } catch (const Error& e) {
      keep_cached(std::string("refused: ") + e.what());
    }
    out.push_back(std::move(f));
  }
  return out;
}

} // namespace geoblock::source
