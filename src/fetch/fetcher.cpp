#include "fetch/fetcher.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "fetch/http_client.hpp"
#include "util/clock.hpp"
#include "util/digest.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <optional>
#include <unistd.h>
#include <unordered_map>

namespace geoblock::fetch {

namespace {

constexpr const char* k_md5sum = "MD5SUM";

const char*
family_path(net::Family family)
{
  return family == net::Family::V4 ? "ipblocks/data/countries/" : "ipv6/ipaddresses/blocks/";
}

std::string
base_of(std::string base)
{
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  return base;
}

std::string
format_bytes(std::uint64_t n)
{
  char buf[32];
  if (n >= (1u << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1u << 20));
  } else if (n >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  }
  return buf;
}

struct Job {
  std::string country;
  net::Family family = net::Family::V4;
  std::string url;
  std::optional<ZoneMeta> meta;
  std::optional<std::string> cached_body;
  bool cache_ok = false;  // body present and matching its recorded hash
  std::string unreadable; // why a body its meta promises could not be read
};

bool
had_data(const Job& job)
{
  return job.meta && !job.meta->absent && job.meta->networks > 0;
}

std::string
label(const Job& job)
{
  return job.country + " " + net::family_name(job.family);
}

// Validation before anything is cached or used. Fills `nets` and `stats`;
// on rejection returns false with a message naming country, URL and line.
bool
validate(std::string_view body, const Job& job, const FetchOptions& options, net::NetList& nets,
         net::ZoneStats& stats, std::string& problem)
{
  const std::string source = label(job) + " " + job.url;
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '<') {
    problem = source + ":1: an HTML page, not a zone (an error page or a captive portal?)";
    return false;
  }
  if (!body.empty() && body.back() != '\n') {
    std::size_t line = 1;
    for (char c : body) {
      line += c == '\n';
    }
    problem = source + ":" + std::to_string(line) + ": truncated: the last line has no newline";
    return false;
  }
  net::ZoneOptions zone_options = options.zone;
  zone_options.families = job.family == net::Family::V4 ? net::Families::V4 : net::Families::V6;
  try {
    net::NetList parsed;
    stats = net::parse_zone(body, source, zone_options, parsed);
    nets = std::move(parsed);
  } catch (const ParseError& e) {
    problem = e.what();
    return false;
  }
  return true;
}

// The monotonic clock of the run (the HTTP client's: a test's fake one too).
util::MonotonicClock&
clock_of(const FetchOptions& options)
{
  return options.http_seams.clock ? *options.http_seams.clock : util::steady_clock();
}

class Progress {
public:
  Progress(ProgressMode mode, std::size_t total, util::MonotonicClock& clock) : m_total(total), m_clock(clock)
  {
    if (mode == ProgressMode::Auto) {
      mode = (isatty(STDERR_FILENO) && log::level() != log::Level::Quiet) ? ProgressMode::Terminal
                                                                          : ProgressMode::Lines;
    }
    m_mode = mode;
  }

  void done(const HttpResponse& r)
  {
    ++m_done;
    m_bytes += r.bytes;
    m_not_modified += r.status == 304;
    if (m_mode != ProgressMode::Terminal) {
      return;
    }
    // Redraw at most ten times a second: a terminal is slow at 500 updates.
    const auto now = m_clock.now();
    if (m_done != m_total && now - m_drawn < std::chrono::milliseconds(100)) {
      return;
    }
    m_drawn = now;
    std::fprintf(stderr, "\rgeoblock: fetching %zu/%zu, %s, %zu not modified\033[K", m_done, m_total,
                 format_bytes(m_bytes).c_str(), m_not_modified);
    std::fflush(stderr);
    m_line_shown = true;
  }

  void finish()
  {
    if (m_line_shown) {
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
    }
  }

private:
  ProgressMode m_mode;
  std::size_t m_total;
  std::size_t m_done = 0;
  std::size_t m_not_modified = 0;
  std::uint64_t m_bytes = 0;
  bool m_line_shown = false;
  util::MonotonicClock& m_clock;
  util::MonotonicClock::time_point m_drawn{};
};

class Run {
public:
  Run(const FetchOptions& options, std::int64_t now)
      : m_options(options), m_cache(options.cache_dir), m_now(now)
  {
  }

  Job make_job(const std::string& country, net::Family family)
  {
    Job job;
    job.country = country;
    job.family = family;
    job.url = zone_url(m_options, country, family);
    job.meta = m_cache.read_meta(country, family);
    if (job.meta) {
      job.cached_body = m_cache.read_body(*job.meta, &job.cache_ok, &job.unreadable);
    }
    return job;
  }

  // The last good copy, after this run failed for the zone.
  ZoneResult fallback(const Job& job, const std::string& error)
  {
    ZoneResult r = base_result(job);
    r.error = error;
    if (job.meta && job.meta->absent) {
      r.origin = Origin::Absent;
      return r;
    }
    std::string problem = "no cached copy";
    if (job.cached_body) {
      net::ZoneStats stats;
      if (validate(*job.cached_body, job, m_options, r.nets, stats, problem)) {
        r.origin = Origin::StaleCache;
        r.lines = stats.lines;
        r.sha256 = util::sha256_hex(*job.cached_body);
        log::warning(label(job) + ": " + error +
                     (m_options.on_failure == FetchOptions::OnFailure::NextSource
                          ? "; trying the next source"
                          : "; using the cached copy fetched " + util::format_utc(job.meta->fetched_at)));
        return r;
      }
      problem = "the cached copy is unusable: " + problem;
    }
    r.origin = Origin::Failed;
    r.error += "; " + problem;
    log::warning(
        label(job) + ": " + r.error +
        (m_options.on_failure == FetchOptions::OnFailure::NextSource ? "; trying the next source" : ""));
    return r;
  }

  ZoneResult from_cache(const Job& job, ZoneMeta meta)
  {
    ZoneResult r = base_result(job);
    net::ZoneStats stats;
    std::string problem;
    if (!validate(*job.cached_body, job, m_options, r.nets, stats, problem)) {
      return fallback(job, "the cached copy is unusable: " + problem);
    }
    r.origin = Origin::NotModified;
    r.lines = stats.lines;
    r.sha256 = meta.sha256;
    r.fetched_at = meta.fetched_at;
    r.last_modified = meta.last_modified;
    return r;
  }

  ZoneResult absent(const Job& job, const std::string& why, const std::string& url)
  {
    ZoneMeta meta;
    meta.country = job.country;
    meta.family = job.family;
    meta.url = url;
    meta.fetched_at = m_now;
    meta.changed_at = job.meta && job.meta->absent ? job.meta->changed_at : m_now;
    meta.absent = true;
    if (job.meta && job.meta->absent) {
      m_fetched[net::family_index(job.family)].push_back(job.country);
    } else {
      m_cache.store(meta, "");
    }
    ZoneResult r = base_result(job);
    r.origin = Origin::Absent;
    r.error = why;
    r.fetched_at = m_now;
    return r;
  }

  ZoneResult process(const Job& job, const HttpResponse& resp, const Md5List* md5, bool directory_exists)
  {
    if (!resp.ok()) {
      return fallback(job, "cannot fetch " + job.url + ": " + resp.error);
    }
    switch (resp.status) {
    case 200:
      return downloaded(job, resp, md5);
    case 304:
      return not_modified(job, resp);
    case 404:
      return not_found(job, directory_exists);
    default:
      return fallback(job, "HTTP " + std::to_string(resp.status) + " from " + job.url);
    }
  }

  // A 404: absent upstream, unless the zone had data (suspicious) or
  // nothing of its family was found (a wrong base URL).
  ZoneResult not_found(const Job& job, bool directory_exists)
  {
    if (had_data(job)) {
      return fallback(job, "not found (HTTP 404) at " + job.url + ", but it had " +
                               std::to_string(job.meta->networks) + " networks before: suspicious, kept out");
    }
    if (!directory_exists) {
      return fallback(job, "not found (HTTP 404) at " + job.url +
                               ", and nothing else of this family was found there: is the base URL right?");
    }
    return absent(job, "not published upstream (HTTP 404 at " + job.url + ")", job.url);
  }

  ZoneResult not_modified(const Job& job, const HttpResponse& resp)
  {
    if (!job.cache_ok) {
      return fallback(job, "unexpected 304 Not Modified from " + job.url + " without a valid cached copy");
    }
    ZoneMeta meta = *job.meta;
    keep(meta, resp);
    return from_cache(job, meta);
  }

  // A 200: the same bytes as cached count as not modified; otherwise the
  // body is validated, checked against MD5SUM and cached.
  ZoneResult downloaded(const Job& job, const HttpResponse& resp, const Md5List* md5)
  {
    const std::string& body = resp.body;
    const std::string sha = util::sha256_hex(body);
    if (job.cache_ok && job.meta && !job.meta->absent && sha == job.meta->sha256) {
      // The server ignored the conditional (or file://): same bytes, unchanged.
      return with_bytes(not_modified(job, resp), resp);
    }
    ZoneResult r = base_result(job);
    r.bytes = resp.bytes;
    net::ZoneStats stats;
    std::string problem;
    if (!validate(body, job, m_options, r.nets, stats, problem)) {
      return with_bytes(fallback(job, "rejected: " + problem), resp);
    }
    if (stats.networks == 0) {
      if (had_data(job)) {
        return with_bytes(fallback(job, "empty zone at " + job.url + ", but it had " +
                                            std::to_string(job.meta->networks) +
                                            " networks before: suspicious shrink, kept out"),
                          resp);
      }
      return with_bytes(absent(job, "empty upstream (" + job.url + ")", job.url), resp);
    }
    if (const std::string wrong = md5_mismatch(job, body, md5); !wrong.empty()) {
      return with_bytes(fallback(job, "rejected: " + wrong), resp);
    }
    if (std::optional<ZoneResult> kept = shrink_guard(job, r.nets)) {
      return with_bytes(std::move(*kept), resp);
    }

    ZoneMeta meta;
    meta.country = job.country;
    meta.family = job.family;
    meta.url = job.url;
    meta.changed_at = m_now;
    note_response(meta, resp, m_now);
    meta.networks = stats.networks;
    meta.lines = stats.lines;
    m_cache.store(meta, body, &m_batch);

    r.origin = Origin::Downloaded;
    r.lines = stats.lines;
    r.sha256 = sha;
    r.fetched_at = meta.fetched_at;
    r.last_modified = meta.last_modified;
    return r;
  }

  // max-shrink against the last good copy, before the new data replaces
  // it: the result that keeps the copy (Refused) when `nets` covers too
  // few of its addresses, else nothing (also forced: then a warning).
  std::optional<ZoneResult> shrink_guard(const Job& job, const net::NetList& nets) const
  {
    if (!had_data(job) || !job.cached_body) {
      return std::nullopt; // no previous copy: never a shrink
    }
    ZoneResult kept = base_result(job);
    net::ZoneStats stats;
    std::string problem;
    if (!validate(*job.cached_body, job, m_options, kept.nets, stats, problem)) {
      return std::nullopt; // an unusable copy is no last good one
    }
    const Shrink s = measure_shrink(kept.nets, nets, job.family);
    const ShrinkGuard& guard = m_options.shrink;
    if (!beyond(s, guard.max_shrink)) {
      return std::nullopt;
    }
    const std::int64_t copied = job.meta->changed_at > 0 ? job.meta->changed_at : job.meta->fetched_at;
    const std::string what = describe_shrink(label(job), s, guard.max_shrink, last_good_copy_of(copied));
    if (guard.force) {
      log::warning(what + ": accepted (--force); it replaces the last good copy");
      return std::nullopt;
    }
    log::warning(what + ": refused; the last good copy stays (--force accepts it)");
    kept.origin = Origin::Refused;
    kept.error = what;
    kept.lines = stats.lines;
    kept.sha256 = util::sha256_hex(*job.cached_body);
    return kept;
  }

  // "" when MD5SUM lists the zone with this body's hash (or does not list
  // it, or was not fetched), else what differs.
  std::string md5_mismatch(const Job& job, const std::string& body, const Md5List* md5) const
  {
    if (!md5) {
      return {};
    }
    const auto it = md5->find(job.url.substr(job.url.rfind('/') + 1));
    if (it == md5->end()) {
      log::verbose(label(job) + ": not listed in MD5SUM; not checksum-verified");
      return {};
    }
    const std::string got = util::md5_hex(body);
    if (got == it->second) {
      return {};
    }
    return job.url + ": MD5 " + got + " differs from MD5SUM's " + it->second +
           " (corrupted or substituted in transit?)";
  }

  static ZoneResult with_bytes(ZoneResult r, const HttpResponse& resp)
  {
    r.bytes = resp.bytes;
    return r;
  }

  ZoneResult offline(const Job& job)
  {
    if (job.meta && job.meta->absent) {
      ZoneResult r = base_result(job);
      r.origin = Origin::Absent;
      r.error = "absent upstream when last fetched";
      return r;
    }
    if (!job.cached_body) {
      ZoneResult r = base_result(job);
      r.origin = Origin::Failed;
      // The cache is written by the unprivileged fetcher: say why a copy
      // was refused (a link, not a regular file, ...).
      r.error = job.meta && !job.meta->absent && !job.unreadable.empty()
                    ? "the cached copy of " + label(job) + " is unusable: " + job.unreadable + " (offline)"
                    : "no cached copy of " + label(job) + " in " + m_options.cache_dir + " (offline)";
      if (m_options.on_failure == FetchOptions::OnFailure::NextSource) {
        log::verbose(r.error); // another source's cache may have it
      } else {
        log::warning(r.error);
      }
      return r;
    }
    ZoneResult r = from_cache(job, *job.meta);
    r.location = m_cache.zone_path(job.country, job.family);
    return r;
  }

  // Staleness is a failure mode of its own: a feed that silently stops.
  void check_age(ZoneResult& r, const Job& job)
  {
    const auto meta = m_cache.read_meta(job.country, job.family);
    if (!meta || meta->absent || !is_stale(*meta, m_now, m_options.stale_after_days)) {
      return;
    }
    r.stale = true;
    std::string why;
    const std::int64_t limit = m_options.stale_after_days;
    if (meta->last_modified > 0 && age_days(meta->last_modified, m_now) >= limit) {
      why = "upstream data unchanged for " + std::to_string(age_days(meta->last_modified, m_now)) +
            " days (Last-Modified " + util::format_utc(meta->last_modified) + ")";
    }
    if (meta->fetched_at > 0 && age_days(meta->fetched_at, m_now) >= limit) {
      why += why.empty() ? "" : ", ";
      why += "last successful fetch " + std::to_string(age_days(meta->fetched_at, m_now)) + " days ago";
    }
    log::warning(label(job) + ": stale data: " + why + "; the feed may have stopped updating");
  }

  std::optional<Md5List> md5_list(const HttpResponse& resp, net::Family family, const std::string& url)
  {
    auto meta = m_cache.read_meta(k_md5sum, family);
    if (!resp.ok()) {
      log::warning(std::string(net::family_name(family)) + ": cannot fetch " + url + ": " + resp.error +
                   "; downloads are not checksum-verified");
      return std::nullopt;
    }
    if (resp.status == 304 && meta) {
      bool ok = false;
      if (auto body = m_cache.read_body(*meta, &ok); body && ok) {
        keep(*meta, resp);
        return parse_md5sum(*body);
      }
      return std::nullopt;
    }
    if (resp.status != 200) {
      log::verbose(std::string(net::family_name(family)) + ": no MD5SUM at " + url + " (HTTP " +
                   std::to_string(resp.status) + "); downloads are not checksum-verified");
      return std::nullopt;
    }
    auto list = parse_md5sum(resp.body);
    if (!list) {
      log::warning(url + ": not an MD5SUM file; downloads are not checksum-verified");
      return std::nullopt;
    }
    ZoneMeta fresh;
    fresh.country = k_md5sum;
    fresh.family = family;
    fresh.url = url;
    fresh.changed_at = m_now;
    note_response(fresh, resp, m_now);
    fresh.lines = list->size();
    m_cache.store(fresh, resp.body);
    return list;
  }

  HttpRequest request_for(const std::string& url, const std::optional<ZoneMeta>& meta, bool cache_ok) const
  {
    HttpRequest req;
    req.url = url;
    // Conditionals only when the cached body is intact: a 304 must never
    // make us reuse a body we do not have.
    if (meta && cache_ok && !meta->absent) {
      req.etag = meta->etag;
      req.last_modified = meta->last_modified_http;
    }
    return req;
  }

  const ZoneCache& cache() const { return m_cache; }

  // Writes what this run stored (one sync for all new zones) and the fetch
  // times of the unchanged ones.
  void commit()
  {
    m_batch.commit();
    m_cache.record_fetched(net::Family::V4, m_fetched[0], m_now);
    m_cache.record_fetched(net::Family::V6, m_fetched[1], m_now);
    m_cache.sync(); // here, where a failure is the run's error (not in the destructor)
  }

private:
  ZoneResult base_result(const Job& job) const
  {
    ZoneResult r;
    r.country = job.country;
    r.family = job.family;
    r.location = job.url;
    if (job.meta) {
      r.fetched_at = job.meta->fetched_at;
      r.last_modified = job.meta->last_modified;
    }
    return r;
  }

  // Unchanged data: rewrite the meta only when the validators changed,
  // otherwise just note the fetch time. Rewriting (and fsyncing) every meta
  // on an all-304 run would cost more than the whole network exchange.
  void keep(ZoneMeta& meta, const HttpResponse& resp)
  {
    const ZoneMeta before = meta;
    note_response(meta, resp, m_now);
    if (meta.etag != before.etag || meta.last_modified_http != before.last_modified_http ||
        meta.last_modified != before.last_modified) {
      m_cache.store_meta(meta);
    } else {
      m_fetched[net::family_index(meta.family)].push_back(meta.country);
    }
  }

  const FetchOptions& m_options;
  ZoneCache m_cache;
  std::int64_t m_now;
  std::vector<std::string> m_fetched[2]; // unchanged zones fetched in this run, per family
  util::AtomicBatch m_batch;             // new zones of this run
};

std::vector<net::Family>
family_list(net::Families families)
{
  std::vector<net::Family> list;
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    if (net::includes(families, f)) {
      list.push_back(f);
    }
  }
  return list;
}

} // namespace

std::string
zone_url(const std::string& base_url, const std::string& country, net::Family family)
{
  return base_of(base_url) + "/" + family_path(family) + country + ".zone";
}

std::string
md5sum_url(const std::string& base_url, net::Family family)
{
  return base_of(base_url) + "/" + family_path(family) + k_md5sum;
}

namespace {

std::string
default_template(const std::string& base_url, net::Family family)
{
  return base_of(base_url) + "/" + family_path(family) + "{cc}.zone";
}

const std::string&
template_of(const FetchOptions& options, net::Family family, std::string& fallback)
{
  const std::string& t = family == net::Family::V4 ? options.zone_url_v4 : options.zone_url_v6;
  if (!t.empty()) {
    return t;
  }
  fallback = default_template(options.base_url, family);
  return fallback;
}

} // namespace

std::string
expand_zone_url(const std::string& url_template, const std::string& country)
{
  std::string upper = country;
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  std::string out;
  for (std::size_t i = 0; i < url_template.size();) {
    if (url_template.compare(i, 4, "{cc}") == 0) {
      out += country;
      i += 4;
    } else if (url_template.compare(i, 4, "{CC}") == 0) {
      out += upper;
      i += 4;
    } else {
      out += url_template[i++];
    }
  }
  return out;
}

std::string
zone_url_template_problem(const std::string& t)
{
  if (t.rfind("http://", 0) != 0 && t.rfind("https://", 0) != 0 && t.rfind("file://", 0) != 0) {
    return "expected an http://, https:// or file:// URL template, got '" + t + "'";
  }
  if (t.find("{cc}") == std::string::npos && t.find("{CC}") == std::string::npos) {
    return "the template '" + t +
           "' has no {cc} or {CC} for the country code: every country would get the same file";
  }
  std::string rest = expand_zone_url(t, "xx");
  if (rest.find_first_of("{}") != std::string::npos) {
    return "unknown placeholder in '" + t + "' (only {cc} and {CC})";
  }
  return {};
}

std::string
zone_url(const FetchOptions& options, const std::string& country, net::Family family)
{
  std::string fallback;
  return expand_zone_url(template_of(options, family, fallback), country);
}

std::string
md5sum_url(const FetchOptions& options, net::Family family)
{
  std::string fallback;
  const std::string& t = template_of(options, family, fallback);
  const std::string dir = t.substr(0, t.rfind('/'));
  if (dir.find('{') != std::string::npos) {
    return {}; // one directory per country: no list of the zones
  }
  return dir + "/" + k_md5sum;
}

std::optional<Md5List>
parse_md5sum(std::string_view text)
{
  Md5List list;
  text::Lines lines(text);
  for (std::string_view line; lines.next(line);) {
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      continue;
    }
    if (line.size() < 34 || line[32] != ' ' || (line[33] != ' ' && line[33] != '*')) {
      return std::nullopt;
    }
    std::string md5(line.substr(0, 32));
    for (char& c : md5) {
      if (c >= 'A' && c <= 'F') {
        c = static_cast<char>(c - 'A' + 'a');
      }
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return std::nullopt;
      }
    }
    list[std::string(line.substr(34))] = std::move(md5);
  }
  return list;
}

HttpOptions
http_options(const FetchOptions& options)
{
  HttpOptions http;
  http.parallel = options.parallel;
  http.connect_timeout_ms = options.connect_timeout_ms;
  http.timeout_ms = options.timeout_ms;
  http.retries = options.retries;
  http.retry_delay_ms = options.retry_delay_ms;
  http.max_bytes = options.max_zone_bytes;
  http.ca_bundle = options.ca_bundle;
  http.seams = options.http_seams;
  return http;
}

namespace {

// All requests in one batch, with progress shown as they finish.
std::vector<HttpResponse>
download(const std::vector<HttpRequest>& requests, const FetchOptions& options)
{
  Progress progress(options.progress, requests.size(), clock_of(options));
  try {
    auto responses = http_get_all(requests, http_options(options),
                                  [&progress](std::size_t, const HttpResponse& r) { progress.done(r); });
    progress.finish();
    return responses;
  } catch (...) {
    progress.finish();
    throw;
  }
}

void
log_summary(const std::vector<ZoneResult>& results, const FetchOptions& options,
            util::MonotonicClock::time_point started)
{
  const FetchSummary s = summarize(results);
  const double secs = std::chrono::duration<double>(clock_of(options).now() - started).count();
  char took[32];
  std::snprintf(took, sizeof took, "%.2f s", secs);
  const std::string from = options.zone_url_v4.empty() && options.zone_url_v6.empty()
                               ? base_of(options.base_url)
                               : (options.zone_url_v4.empty() ? options.zone_url_v6 : options.zone_url_v4);
  log::info("fetched " + std::to_string(s.zones) + " zones from " + from + " in " + took + ": " +
            std::to_string(s.downloaded) + " downloaded (" + format_bytes(s.bytes) + "), " +
            std::to_string(s.not_modified) + " not modified, " + std::to_string(s.stale_cache) +
            " stale cache, " + std::to_string(s.failed) + " failed, " + std::to_string(s.absent) + " absent" +
            (s.refused > 0 ? ", " + std::to_string(s.refused) + " refused (max-shrink)" : std::string()));
}

} // namespace

std::vector<ZoneResult>
fetch_zones(const std::vector<std::string>& countries, net::Families families, const FetchOptions& options)
{
  const auto started = clock_of(options).now();
  Run run(options, options.clock());
  const std::vector<net::Family> fams = family_list(families);
  std::vector<Job> jobs;
  for (const net::Family f : fams) {
    for (const std::string& cc : countries) {
      jobs.push_back(run.make_job(cc, f));
    }
  }
  std::vector<ZoneResult> results;
  results.reserve(jobs.size());
  if (options.offline) {
    for (const Job& job : jobs) {
      results.push_back(run.offline(job));
      run.check_age(results.back(), job);
    }
    return results;
  }

  // One batch: the MD5SUM of each family first (where the layout has
  // one), then every zone.
  std::vector<HttpRequest> requests;
  std::vector<std::size_t> md5_family; // family index in fams of each MD5SUM request
  std::vector<std::string> md5_urls;
  if (options.verify_md5sum) {
    for (std::size_t i = 0; i < fams.size(); ++i) {
      const std::string url = md5sum_url(options, fams[i]);
      if (url.empty()) {
        continue;
      }
      md5_family.push_back(i);
      md5_urls.push_back(url);
      auto meta = run.cache().read_meta(k_md5sum, fams[i]);
      bool ok = false;
      if (meta) {
        run.cache().read_body(*meta, &ok);
      }
      requests.push_back(run.request_for(url, meta, ok));
    }
  }
  const std::size_t first_zone = requests.size();
  for (const Job& job : jobs) {
    requests.push_back(run.request_for(job.url, job.meta, job.cache_ok));
  }
  const std::vector<HttpResponse> responses = download(requests, options);

  // Per family: its MD5SUM, and whether the mirror has that family's
  // directory at all (a 404 then means "absent", not "wrong base URL").
  std::vector<std::optional<Md5List>> md5(fams.size());
  std::vector<bool> directory_exists(fams.size(), false);
  for (std::size_t i = 0; i < md5_urls.size(); ++i) {
    const std::size_t fi = md5_family[i];
    md5[fi] = run.md5_list(responses[i], fams[fi], md5_urls[i]);
    directory_exists[fi] = md5[fi].has_value();
  }
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const long status = responses[first_zone + j].status;
    if (status == 200 || status == 304) {
      directory_exists[j / countries.size()] = true;
    }
  }

  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const std::size_t fi = j / countries.size();
    results.push_back(
        run.process(jobs[j], responses[first_zone + j], md5[fi] ? &*md5[fi] : nullptr, directory_exists[fi]));
  }
  run.commit();
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    ZoneResult& r = results[j];
    run.check_age(r, jobs[j]);
    log::verbose(label(jobs[j]) + ": " + origin_name(r.origin) + ", " + std::to_string(r.networks()) +
                 " networks" + (r.bytes ? ", " + format_bytes(r.bytes) : std::string()));
  }
  if (options.progress != ProgressMode::Quiet) {
    log_summary(results, options, started);
  }
  return results;
}

FetchSummary
summarize(const std::vector<ZoneResult>& results)
{
  FetchSummary s;
  for (const ZoneResult& r : results) {
    ++s.zones;
    s.bytes += r.bytes;
    s.stale_data += r.stale;
    switch (r.origin) {
    case Origin::Downloaded:
      ++s.downloaded;
      break;
    case Origin::NotModified:
    case Origin::Local:
      ++s.not_modified;
      break;
    case Origin::StaleCache:
      ++s.stale_cache;
      break;
    case Origin::Refused:
      ++s.refused;
      break;
    case Origin::Failed:
      ++s.failed;
      break;
    case Origin::Absent:
      ++s.absent;
      break;
    }
  }
  return s;
}

bool
nothing_changed(const std::vector<ZoneResult>& results)
{
  for (const ZoneResult& r : results) {
    if (r.origin != Origin::NotModified && r.origin != Origin::Absent) {
      return false;
    }
  }
  return true;
}

std::vector<CacheEntry>
cache_status(const std::string& cache_dir, int stale_after_days, std::int64_t now)
{
  const ZoneCache cache(cache_dir);
  std::vector<CacheEntry> entries;
  for (ZoneMeta& meta : cache.list()) {
    CacheEntry e;
    bool ok = false;
    cache.read_body(meta, &ok);
    e.body_ok = ok;
    e.age_days = age_days(meta.last_modified > 0 ? meta.last_modified : meta.fetched_at, now);
    e.fetched_days_ago = age_days(meta.fetched_at, now);
    e.stale = !meta.absent && is_stale(meta, now, stale_after_days);
    e.meta = std::move(meta);
    entries.push_back(std::move(e));
  }
  return entries;
}

// True when `dir`, or the nearest existing directory above it, is writable.
bool
writable_dir(const std::string& dir)
{
  std::filesystem::path p(dir);
  while (!p.empty() && !std::filesystem::exists(p)) {
    p = p.parent_path();
  }
  return !p.empty() && ::access(p.c_str(), W_OK) == 0;
}

void
note_response(ZoneMeta& meta, const HttpResponse& resp, std::int64_t now)
{
  meta.fetched_at = now;
  if (!resp.etag.empty()) {
    meta.etag = resp.etag;
  }
  if (!resp.last_modified_http.empty()) {
    meta.last_modified_http = resp.last_modified_http;
  }
  if (resp.last_modified > 0) {
    meta.last_modified = resp.last_modified;
  }
}

void
scratch_cache_if_read_only(FetchOptions& options, std::optional<util::TempDir>& scratch)
{
  if (!options.offline && !writable_dir(options.cache_dir)) {
    scratch.emplace("geoblock-dry-run");
    log::info("cache-dir " + options.cache_dir +
              " is not writable; the dry run downloads into a temporary directory");
    options.cache_dir = scratch->path();
  }
}

HttpSource::HttpSource(FetchOptions options, Cache cache) : m_options(std::move(options))
{
  if (cache == Cache::ScratchIfReadOnly) {
    scratch_cache_if_read_only(m_options, m_scratch);
  }
}

std::optional<net::CacheReport>
HttpSource::cache(std::int64_t now) const
{
  net::CacheReport r{m_options.cache_dir, m_options.stale_after_days, {}};
  for (const CacheEntry& e : cache_status(m_options.cache_dir, m_options.stale_after_days, now)) {
    r.zones.push_back(net::CachedZone{e.meta.country,
                                      e.meta.family,
                                      e.meta.networks,
                                      e.age_days,
                                      e.fetched_days_ago,
                                      e.stale,
                                      e.body_ok,
                                      {}});
  }
  return r;
}

bool
HttpSource::load_cache_here(const net::LoadRequest& request, net::SourceData& out) const
{
  FetchOptions o = m_options;
  o.offline = true;
  o.progress = ProgressMode::Quiet;
  std::vector<ZoneResult> zones = fetch_zones(request.countries, request.families, o);
  out.zones.insert(out.zones.end(), std::make_move_iterator(zones.begin()),
                   std::make_move_iterator(zones.end()));
  return true;
}

} // namespace geoblock::fetch
