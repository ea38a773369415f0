#include "fetch/rir_source.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "fetch/http_client.hpp"
#include "fetch/zone_cache.hpp"
#include "util/atomic_file.hpp"
#include "util/clock.hpp"
#include "util/digest.hpp"

#include <algorithm>
#include <ctime>
#include <limits>

namespace geoblock::fetch {

namespace {

constexpr net::Family k_slot = net::Family::V4; // the cache's family directory the files live in

bool
hex32(std::string_view s)
{
  if (s.size() != 32) {
    return false;
  }
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string
lower(std::string_view s)
{
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// The prefix guard of the zones, for a whole file: a registry file that
// would block a /2 is a disaster, not data.
std::string
guard_problem(const net::RirData& data, const net::ZoneOptions& guard)
{
  for (const auto& [cc, nets] : data.countries) {
    for (const net::Prefix4& p : nets.v4) {
      if (p.len < guard.min_prefix_v4) {
        return cc + " has " + net::to_string(p) + ", shorter than the guard /" +
               std::to_string(guard.min_prefix_v4) + " (min-prefix-v4)";
      }
    }
    for (const net::Prefix6& p : nets.v6) {
      if (p.len < guard.min_prefix_v6) {
        return cc + " has " + net::to_string(p) + ", shorter than the guard /" +
               std::to_string(guard.min_prefix_v6) + " (min-prefix-v6)";
      }
    }
  }
  return {};
}

} // namespace

std::optional<std::string>
parse_rir_md5(std::string_view text)
{
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && text.front() == ' ') {
    text.remove_prefix(1);
  }
  if (text.find('\n') != std::string_view::npos) {
    return std::nullopt; // one file, one line
  }
  if (text.rfind("MD5 (", 0) == 0) {
    const auto eq = text.rfind(") = ");
    if (eq == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view hash = text.substr(eq + 4);
    return hex32(hash) ? std::optional(lower(hash)) : std::nullopt;
  }
  if (text.size() == 32) {
    return hex32(text) ? std::optional(lower(text)) : std::nullopt;
  }
  if (text.size() > 34 && text[32] == ' ' && (text[33] == ' ' || text[33] == '*') &&
      hex32(text.substr(0, 32))) {
    return lower(text.substr(0, 32));
  }
  return std::nullopt;
}

std::string
rir_file_name(const std::string& url)
{
  std::string path = url.substr(0, url.find_first_of("?#"));
  return path.substr(path.rfind('/') + 1);
}

RirSource::RirSource(FetchOptions fetch, RirOptions rir, HttpSource::Cache cache)
    : m_options(std::move(fetch)), m_rir(std::move(rir))
{
  if (cache == HttpSource::Cache::ScratchIfReadOnly) {
    scratch_cache_if_read_only(m_options, m_scratch);
  }
}

std::string
RirSource::describe() const
{
  return "rir (" + std::to_string(m_rir.urls.size()) + " delegation files)";
}

namespace {

// One file's run: what the cache holds, what the network said, and the
// resulting data.
class FileRun {
public:
  // New files go into `batch` (one sync for all); files confirmed
  // unchanged with the same validators into `confirmed` (one write of the
  // fetch times), as the zone fetcher does: an all-304 run must not cost
  // an fsync per file.
  FileRun(const ZoneCache& cache, const FetchOptions& options, std::string url, std::int64_t now,
          util::AtomicBatch& batch, std::vector<std::string>& confirmed)
      : m_cache(cache), m_options(options), m_now(now), m_batch(batch), m_confirmed(confirmed)
  {
    m_out.url = std::move(url);
    m_out.name = rir_file_name(m_out.url);
    m_meta = m_cache.read_meta(m_out.name, k_slot);
    if (m_meta) {
      m_cached = m_cache.read_body(*m_meta, &m_cache_ok);
      m_out.fetched_at = m_meta->fetched_at;
      m_out.last_modified = m_meta->last_modified;
    }
  }

  HttpRequest request() const
  {
    HttpRequest req;
    req.url = m_out.url;
    if (m_meta && m_cache_ok) {
      req.etag = m_meta->etag;
      req.last_modified = m_meta->last_modified_http;
    }
    return req;
  }

  RirFile offline(RirFile out)
  {
    out = take(std::move(out));
    if (!m_cached) {
      out.origin = Origin::Failed;
      out.error = "no cached copy of " + m_out.name + " in " + m_cache.dir() + " (offline)";
      return out;
    }
    std::string problem;
    if (!parse(*m_cached, m_out.name + " (cached)", out.data, problem)) {
      out.origin = Origin::Failed;
      out.error = "the cached copy is unusable: " + problem;
      return out;
    }
    out.origin = Origin::NotModified;
    return out;
  }

  RirFile process(RirFile out, const HttpResponse& resp, const HttpResponse& md5)
  {
    out = take(std::move(out));
    out.bytes = resp.bytes + md5.bytes;
    if (!resp.ok()) {
      return fallback(std::move(out), "cannot fetch " + m_out.url + ": " + resp.error);
    }
    if (resp.status == 304) {
      if (!m_cache_ok) {
        return fallback(std::move(out),
                        "unexpected 304 Not Modified from " + m_out.url + " without a valid cached copy");
      }
      return unchanged(std::move(out), resp);
    }
    if (resp.status != 200) {
      return fallback(std::move(out), "HTTP " + std::to_string(resp.status) + " from " + m_out.url);
    }
    if (m_cache_ok && util::sha256_hex(resp.body) == m_meta->sha256) {
      return unchanged(std::move(out), resp);
    }
    std::string problem;
    net::RirData data;
    if (!parse(resp.body, m_out.url, data, problem)) {
      return fallback(std::move(out), "rejected: " + problem);
    }
    if (const std::string wrong = md5_problem(resp.body, md5); !wrong.empty()) {
      return fallback(std::move(out), "rejected: " + wrong);
    }
    ZoneMeta meta;
    meta.country = m_out.name;
    meta.family = k_slot;
    meta.url = m_out.url;
    meta.changed_at = m_now;
    note_response(meta, resp, m_now);
    meta.networks = data.records;
    meta.lines = static_cast<std::size_t>(std::count(resp.body.begin(), resp.body.end(), '\n'));
    // Cached by store() once max-shrink has compared the zones with the
    // last good copy, which stays until then.
    if (m_cached) {
      net::RirData previous;
      std::string unusable;
      if (parse(*m_cached, m_out.name + " (cached)", previous, unusable)) {
        m_previous = std::move(previous);
      }
    }
    m_pending = Pending{meta, resp.body};
    out.data = std::move(data);
    out.origin = Origin::Downloaded;
    out.fetched_at = meta.fetched_at;
    out.last_modified = meta.last_modified;
    return out;
  }

  // The last good copy's data, while this run's new copy waits for
  // max-shrink (nothing when the file was not downloaded, or had no usable
  // cached copy).
  const net::RirData* previous() const { return m_pending && m_previous ? &*m_previous : nullptr; }
  // When the last good copy was taken.
  std::int64_t copied_at() const
  {
    return !m_meta ? 0 : m_meta->changed_at > 0 ? m_meta->changed_at : m_meta->fetched_at;
  }

  // max-shrink refused a zone this file's new copy changes: the last good
  // copy serves instead and stays cached.
  RirFile keep_previous(RirFile out, const std::string& refusal)
  {
    m_pending.reset();
    out.data = std::move(*m_previous);
    m_previous.reset();
    out.origin = Origin::StaleCache;
    out.error = "its new copy was refused by max-shrink (" + refusal + ")";
    out.fetched_at = m_meta->fetched_at;
    out.last_modified = m_meta->last_modified;
    log::warning(m_out.name + ": new copy not taken, the last good copy of " + util::format_utc(copied_at()) +
                 " stays: " + refusal);
    return out;
  }

  // Caches the new copy (into the run's batch), unless max-shrink kept the
  // last good one.
  void store()
  {
    if (m_pending) {
      m_cache.store(m_pending->meta, m_pending->body, &m_batch);
      m_pending.reset();
    }
  }

private:
  RirFile take(RirFile out) const
  {
    out.url = m_out.url;
    out.name = m_out.name;
    out.fetched_at = m_out.fetched_at;
    out.last_modified = m_out.last_modified;
    return out;
  }

  // Validation of a whole file, before it is cached or used.
  bool parse(const std::string& body, const std::string& source, net::RirData& data,
             std::string& problem) const
  {
    const auto first = body.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && body[first] == '<') {
      problem =
          source + ":1: an HTML page, not a delegation statistics file (an error page or a captive portal?)";
      return false;
    }
    if (!body.empty() && body.back() != '\n') {
      problem = source + ":" + std::to_string(std::count(body.begin(), body.end(), '\n') + 1) +
                ": truncated: the last line has no newline";
      return false;
    }
    try {
      net::parse_rir(body, source, data);
    } catch (const ParseError& e) {
      problem = e.what();
      return false;
    }
    if (const std::string g = guard_problem(data, m_options.zone); !g.empty()) {
      problem = source + ": " + g;
      return false;
    }
    return true;
  }

  // "" when the registry's .md5 matches, or none is published (404), or it
  // could not be fetched (then a warning); else what is wrong. A .md5 that
  // is served but not understood refuses the file: it cannot be verified.
  std::string md5_problem(const std::string& body, const HttpResponse& md5) const
  {
    const std::string url = m_out.url + ".md5";
    if (!md5.ok()) {
      log::warning(m_out.name + ": cannot fetch " + url + ": " + md5.error + "; not checksum-verified");
      return {};
    }
    if (md5.status == 404) {
      log::verbose(m_out.name + ": no " + url + " published; not checksum-verified");
      return {};
    }
    if (md5.status != 200) {
      log::warning(m_out.name + ": HTTP " + std::to_string(md5.status) + " for " + url +
                   "; not checksum-verified");
      return {};
    }
    const auto want = parse_rir_md5(md5.body);
    if (!want) {
      return url + ": not an MD5 checksum ('MD5 (file) = hash', 'hash  file' or a bare hash)";
    }
    const std::string got = util::md5_hex(body);
    if (got != *want) {
      return m_out.url + ": MD5 " + got + " differs from " + url + "'s " + *want +
             " (corrupted or substituted in transit?)";
    }
    return {};
  }

  RirFile unchanged(RirFile out, const HttpResponse& resp)
  {
    std::string problem;
    if (!parse(*m_cached, m_out.name + " (cached)", out.data, problem)) {
      return fallback(std::move(out), "the cached copy is unusable: " + problem);
    }
    ZoneMeta meta = *m_meta;
    note_response(meta, resp, m_now);
    if (meta.etag != m_meta->etag || meta.last_modified_http != m_meta->last_modified_http ||
        meta.last_modified != m_meta->last_modified) {
      m_cache.store_meta(meta);
    } else {
      m_confirmed.push_back(m_out.name);
    }
    out.origin = Origin::NotModified;
    out.fetched_at = meta.fetched_at;
    out.last_modified = meta.last_modified;
    return out;
  }

  RirFile fallback(RirFile out, const std::string& error)
  {
    out.error = error;
    out.data = {};
    if (!m_cached) {
      out.origin = Origin::Failed;
      out.error += "; no cached copy";
      log::warning(m_out.name + ": " + out.error);
      return out;
    }
    std::string problem;
    if (!parse(*m_cached, m_out.name + " (cached)", out.data, problem)) {
      out.origin = Origin::Failed;
      out.error += "; the cached copy is unusable: " + problem;
      log::warning(m_out.name + ": " + out.error);
      return out;
    }
    out.origin = Origin::StaleCache;
    log::warning(m_out.name + ": " + error + "; using the cached copy fetched " +
                 util::format_utc(m_meta->fetched_at));
    return out;
  }

  struct Names {
    std::string url, name;
    std::int64_t fetched_at = 0, last_modified = 0;
  };
  const ZoneCache& m_cache;
  const FetchOptions& m_options;
  std::int64_t m_now;
  util::AtomicBatch& m_batch;
  std::vector<std::string>& m_confirmed;
  Names m_out;
  std::optional<ZoneMeta> m_meta;
  std::optional<std::string> m_cached;
  bool m_cache_ok = false;
  struct Pending {
    ZoneMeta meta;
    std::string body;
  };
  std::optional<Pending> m_pending;       // a downloaded copy not cached yet
  std::optional<net::RirData> m_previous; // the last good copy's data, beside m_pending
};

// "cc v4": a zone's key in RirSource::m_refused.
std::string
zone_key(const std::string& cc, net::Family family)
{
  return cc + " " + net::family_key(family);
}

// Appends the records of `cc` in `data` for `family` to `out`.
void
append(net::NetList& out, const net::RirData& data, const std::string& cc, net::Family family)
{
  const auto it = data.countries.find(cc);
  if (it == data.countries.end()) {
    return;
  }
  if (family == net::Family::V4) {
    out.v4.insert(out.v4.end(), it->second.v4.begin(), it->second.v4.end());
  } else {
    out.v6.insert(out.v6.end(), it->second.v6.begin(), it->second.v6.end());
  }
}

bool
same_records(const net::RirData& a, const net::RirData& b, const std::string& cc, net::Family family)
{
  net::NetList x, y;
  append(x, a, cc, family);
  append(y, b, cc, family);
  return x.v4 == y.v4 && x.v6 == y.v6;
}

// max-shrink for every zone of `countries` x `families` (rir_source.hpp):
// files whose new copy a refused zone's shrink came from keep their last
// good copy. Returns the refusals by zone_key.
std::map<std::string, std::string>
guard_shrink(std::vector<FileRun>& runs, std::vector<RirFile>& files,
             const std::vector<std::string>& countries, net::Families families, const ShrinkGuard& guard)
{
  std::map<std::string, std::string> refused;
  for (const net::Family family : {net::Family::V4, net::Family::V6}) {
    if (!net::includes(families, family)) {
      continue;
    }
    for (const std::string& cc : countries) {
      net::NetList before, after;
      std::vector<std::size_t> changed; // files with a last good copy whose records for the zone changed
      std::int64_t copied = 0;
      for (std::size_t i = 0; i < files.size(); ++i) {
        const net::RirData* previous = runs[i].previous();
        append(before, previous ? *previous : files[i].data, cc, family);
        append(after, files[i].data, cc, family);
        if (previous && !same_records(*previous, files[i].data, cc, family)) {
          changed.push_back(i);
          copied = std::max(copied, runs[i].copied_at());
        }
      }
      const Shrink s = measure_shrink(before, after, family);
      if (changed.empty() || !beyond(s, guard.max_shrink)) {
        continue;
      }
      const std::string what = describe_shrink(cc + " " + net::family_name(family), s, guard.max_shrink,
                                               last_good_copy_of(copied));
      if (guard.force) {
        log::warning(what + ": accepted (--force); the new files replace their last good copies");
        continue;
      }
      log::warning(what + ": refused; the last good copy stays (--force accepts it)");
      refused[zone_key(cc, family)] = what;
      for (const std::size_t i : changed) {
        files[i] = runs[i].keep_previous(std::move(files[i]), what);
      }
    }
  }
  return refused;
}

} // namespace

void
RirSource::read_files(Mode mode, const std::vector<std::string>& countries, net::Families families)
{
  const bool offline = mode == Mode::CacheOnly || m_options.offline;
  // A refresh serves cache-only readers too; a cache-only read is redone
  // when a refresh is asked for.
  if (m_read && (*m_read == Mode::Refresh || offline)) {
    return;
  }
  m_files.clear();
  m_refused.clear();
  const std::int64_t now = m_options.clock();
  const ZoneCache cache(m_options.cache_dir + "/rir");
  util::AtomicBatch batch;
  std::vector<std::string> confirmed;
  std::vector<FileRun> runs;
  runs.reserve(m_rir.urls.size());
  for (const std::string& url : m_rir.urls) {
    runs.emplace_back(cache, m_options, url, now, batch, confirmed);
  }
  if (offline) {
    for (FileRun& run : runs) {
      m_files.push_back(run.offline(RirFile{}));
    }
  } else {
    // One batch: every file and its .md5.
    std::vector<HttpRequest> requests;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      requests.push_back(runs[i].request());
      requests.push_back(HttpRequest{m_rir.urls[i] + ".md5", "", ""});
    }
    HttpOptions http = http_options(m_options);
    http.max_bytes = m_rir.max_bytes;
    const std::vector<HttpResponse> responses = http_get_all(requests, http);
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      m_files.push_back(runs[i].process(RirFile{}, responses[2 * i], responses[2 * i + 1]));
      bytes += m_files.back().bytes;
      log::verbose(m_files.back().name + ": " + origin_name(m_files.back().origin) + ", " +
                   std::to_string(m_files.back().data.records) + " records");
    }
    const bool configured = !m_rir.countries.empty();
    m_refused = guard_shrink(runs, m_files, configured ? m_rir.countries : countries,
                             configured ? m_rir.families : families, m_options.shrink);
    for (FileRun& run : runs) {
      run.store();
    }
    batch.commit();
    cache.record_fetched(k_slot, confirmed, now);
    cache.sync();
    if (m_options.progress != ProgressMode::Quiet) {
      std::size_t downloaded = 0, unchanged = 0, stale = 0;
      for (const RirFile& f : m_files) {
        downloaded += f.origin == Origin::Downloaded;
        unchanged += f.origin == Origin::NotModified;
        stale += f.origin == Origin::StaleCache;
      }
      log::info("fetched " + std::to_string(m_files.size()) + " delegation files: " +
                std::to_string(downloaded) + " downloaded (" + std::to_string(bytes) + " bytes), " +
                std::to_string(unchanged) + " not modified, " + std::to_string(stale) + " stale cache, " +
                std::to_string(m_files.size() - downloaded - unchanged - stale) + " failed");
    }
  }
  m_read = offline ? Mode::CacheOnly : Mode::Refresh;
}

std::optional<net::CacheReport>
RirSource::cache(std::int64_t now) const
{
  const ZoneCache cache(m_options.cache_dir + "/rir");
  net::CacheReport report{cache.dir(), m_options.stale_after_days, {}};
  for (const std::string& url : m_rir.urls) {
    net::CachedZone z;
    z.file = rir_file_name(url);
    const auto meta = cache.read_meta(z.file, k_slot);
    if (!meta) {
      continue; // never fetched (a failover source that was not needed yet)
    }
    bool ok = false;
    cache.read_body(*meta, &ok);
    z.body_ok = ok;
    z.networks = meta->networks;
    z.age_days = age_days(meta->last_modified > 0 ? meta->last_modified : meta->fetched_at, now);
    z.fetched_days_ago = age_days(meta->fetched_at, now);
    z.stale = is_stale(*meta, now, m_options.stale_after_days);
    report.zones.push_back(std::move(z));
  }
  return report;
}

std::vector<ZoneResult>
RirSource::load(const std::vector<std::string>& countries, net::Families families, Mode mode)
{
  read_files(mode, countries, families);
  std::string failed;
  std::int64_t fetched_at = std::numeric_limits<std::int64_t>::max();
  for (const RirFile& f : m_files) {
    if (f.origin == Origin::Failed) {
      failed += (failed.empty() ? "" : "; ") + f.name + ": " + f.error;
    }
    fetched_at = std::min(fetched_at, f.fetched_at);
  }
  if (m_files.empty()) {
    fetched_at = 0;
  }
  const std::int64_t now = m_options.clock();
  std::vector<ZoneResult> results;
  for (const net::Family family : {net::Family::V4, net::Family::V6}) {
    if (!net::includes(families, family)) {
      continue;
    }
    for (const std::string& cc : countries) {
      ZoneResult r;
      r.country = cc;
      r.family = family;
      r.fetched_at = fetched_at;
      if (!failed.empty()) {
        r.origin = Origin::Failed;
        r.error = "a delegation file is missing (" + failed + ")";
        results.push_back(std::move(r));
        continue;
      }
      bool stale_copy = false, downloaded = false;
      std::int64_t last_modified = std::numeric_limits<std::int64_t>::max();
      for (const RirFile& f : m_files) {
        const auto it = f.data.countries.find(cc);
        if (it == f.data.countries.end()) {
          continue;
        }
        const std::size_t before = r.nets.size();
        if (family == net::Family::V4) {
          r.nets.v4.insert(r.nets.v4.end(), it->second.v4.begin(), it->second.v4.end());
        } else {
          r.nets.v6.insert(r.nets.v6.end(), it->second.v6.begin(), it->second.v6.end());
        }
        if (r.nets.size() == before) {
          continue;
        }
        r.location += (r.location.empty() ? "" : ", ") + f.url;
        if (f.origin == Origin::StaleCache) {
          stale_copy = true;
          r.error += (r.error.empty() ? "" : "; ") + f.name + ": " + f.error;
        }
        downloaded = downloaded || f.origin == Origin::Downloaded;
        if (f.last_modified > 0) {
          last_modified = std::min(last_modified, f.last_modified);
        }
      }
      r.lines = r.nets.size();
      if (const auto refused = m_refused.find(zone_key(cc, family)); refused != m_refused.end()) {
        r.origin = Origin::Refused; // the last good copies' networks
        r.error = refused->second;
      } else if (r.nets.empty()) {
        r.origin = Origin::Absent;
        r.error = "not listed in the delegation files";
      } else {
        r.origin = stale_copy ? Origin::StaleCache : downloaded ? Origin::Downloaded : Origin::NotModified;
        r.last_modified = last_modified == std::numeric_limits<std::int64_t>::max() ? 0 : last_modified;
        const std::int64_t data_time = r.last_modified > 0 ? r.last_modified : r.fetched_at;
        r.stale = m_options.stale_after_days > 0 && age_days(data_time, now) >= m_options.stale_after_days;
      }
      results.push_back(std::move(r));
    }
  }
  return results;
}

} // namespace geoblock::fetch
