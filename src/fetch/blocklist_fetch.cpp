#include "fetch/blocklist_fetch.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "fetch/http_client.hpp"
#include "fetch/zone_cache.hpp"
#include "util/atomic_file.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sys/stat.h>

namespace geoblock::fetch {

namespace {

// A cached copy, as the zones' (fetch/zone_cache.cpp).
constexpr std::size_t k_max_cache_file = std::size_t{64} << 20;

std::string
cache_id(const std::string& name, const std::string& location)
{
  std::string id;
  for (const char c : name) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    id += keep ? c : '_';
  }
  // Never a hidden or relative name.
  if (id.empty() || id[0] == '.') {
    id.insert(0, "_");
  }
  return id + "-" + util::sha256_hex(location).substr(0, 12);
}

struct Job {
  net::BlocklistResult result;
  bool url = false;    // http(s); otherwise a path read as file://
  std::string fetch;   // what is requested, in messages and the meta
  std::string request; // what is requested (fetch, or a file read in its place)
  std::string body_path;
  std::string meta_path;
  std::optional<ZoneMeta> meta;
  std::optional<std::string> cached_body;
  bool cache_ok = false;     // body present and matching its recorded hash
  std::string cache_problem; // why a cached file there was not read (a link, a FIFO...)
};

// The meta at `path`, or nothing (a missing one silently; else `problem`
// says why).
std::optional<ZoneMeta>
read_meta(const std::string& path, std::string& problem)
{
  try {
    return parse_meta(util::read_untrusted_file(path, k_max_cache_file));
  } catch (const Error& e) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      problem = e.what();
    }
    return std::nullopt;
  }
}

class Run {
public:
  Run(const FetchOptions& options, std::int64_t now) : m_options(options), m_now(now) {}

  // Parses `body` into the job's result; "" or why it was refused.
  std::string validate(Job& job, const std::string& body, std::size_t& networks) const
  {
    const std::string source = job.result.name + " " + job.result.location;
    const auto first = body.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && body[first] == '<') {
      return source + ":1: an HTML page, not a list of networks (an error page or a captive portal?)";
    }
    try {
      net::NetList nets;
      const net::ZoneStats stats = net::parse_blocklist(body, source, m_options.zone, nets);
      job.result.nets = std::move(nets);
      job.result.lines = stats.lines;
      networks = stats.networks;
    } catch (const ParseError& e) {
      return e.what();
    }
    return {};
  }

  // The last good copy, after this run failed for the list.
  void fallback(Job& job, const std::string& error) const
  {
    net::BlocklistResult& r = job.result;
    r.error = error;
    r.nets = {};
    std::string problem =
        job.cache_problem.empty() ? "no cached copy" : "no usable cached copy: " + job.cache_problem;
    if (job.cached_body && job.meta) {
      std::size_t networks = 0;
      problem = validate(job, *job.cached_body, networks);
      if (problem.empty()) {
        r.origin = net::Origin::StaleCache;
        r.sha256 = util::sha256_hex(*job.cached_body);
        r.fetched_at = job.meta->fetched_at;
        r.last_modified = job.meta->last_modified;
        log::warning("blocklist " + r.name + ": " + error + "; using the last good copy (" +
                     std::to_string(networks) + " networks)");
        return;
      }
      problem = "the cached copy is unusable: " + problem;
    }
    r.origin = net::Origin::Failed;
    r.nets = {};
    r.error += "; " + problem;
    log::warning("blocklist " + r.name + ": " + r.error);
  }

  void from_cache(Job& job) const
  {
    std::size_t networks = 0;
    if (const std::string problem = validate(job, *job.cached_body, networks); !problem.empty()) {
      fallback(job, "the cached copy is unusable: " + problem);
      return;
    }
    job.result.origin = net::Origin::NotModified;
    job.result.sha256 = job.meta->sha256;
    job.result.fetched_at = job.meta->fetched_at;
    job.result.last_modified = job.meta->last_modified;
  }

  void offline(Job& job) const
  {
    if (!job.cached_body || !job.meta) {
      job.result.origin = net::Origin::Failed;
      job.result.error = job.cache_problem.empty()
                             ? "no cached copy in " + job.body_path + " (offline)"
                             : "no usable cached copy: " + job.cache_problem + " (offline)";
      log::warning("blocklist " + job.result.name + ": " + job.result.error);
      return;
    }
    from_cache(job);
  }

  void process(Job& job, const HttpResponse& resp) const
  {
    job.result.bytes = resp.bytes;
    if (!resp.ok()) {
      fallback(job, "cannot fetch " + job.result.location + ": " + resp.error);
      return;
    }
    if (resp.status == 304) {
      if (!job.cache_ok) {
        fallback(job, "unexpected 304 Not Modified from " + job.fetch + " without a valid cached copy");
        return;
      }
      keep(job, resp);
      return;
    }
    if (resp.status == 404 && !job.url) {
      fallback(job, "cannot read " + job.result.location + ": no such file");
      return;
    }
    if (resp.status != 200) {
      fallback(job, "HTTP " + std::to_string(resp.status) + " from " + job.fetch);
      return;
    }
    const std::string& body = resp.body;
    const std::string sha = util::sha256_hex(body);
    if (job.cache_ok && sha == job.meta->sha256) {
      keep(job, resp); // the server ignored the conditional (or a file): the same bytes
      return;
    }
    std::size_t networks = 0;
    if (const std::string problem = validate(job, body, networks); !problem.empty()) {
      fallback(job, "rejected: " + problem);
      return;
    }
    if (networks == 0 && job.url) {
      if (job.meta && job.meta->networks > 0) {
        fallback(job, "empty list at " + job.fetch + ", but it had " + std::to_string(job.meta->networks) +
                          " networks before: suspicious, kept out");
        return;
      }
      log::warning("blocklist " + job.result.name + ": " + job.fetch + " lists no networks");
    }
    if (shrink_refused(job)) {
      return;
    }
    ZoneMeta meta;
    meta.country = std::filesystem::path(job.body_path).stem().string();
    meta.url = job.fetch;
    meta.changed_at = m_now;
    note_response(meta, resp, m_now);
    meta.networks = networks;
    meta.lines = job.result.lines;
    meta.size = body.size();
    meta.sha256 = sha;
    meta.md5 = util::md5_hex(body);
    util::write_file_atomic(job.body_path, body, 0644, util::AtomicFile::DirSync::Deferred);
    util::write_file_atomic(job.meta_path, format_meta(meta), 0644);
    job.result.origin = job.url ? net::Origin::Downloaded : net::Origin::Local;
    job.result.sha256 = sha;
    job.result.fetched_at = meta.fetched_at;
    job.result.last_modified = meta.last_modified;
  }

private:
  // max-shrink for a URL list, per family, against its last good copy and
  // before the new copy replaces it: true when the job's result became
  // Refused (the last good copy kept, the refusal in its error). A FILE list
  // is the administrator's own: shrinking it is a decision, as emptying it
  // is.
  bool shrink_refused(Job& job) const
  {
    if (!job.url || !job.cached_body || !job.meta || job.meta->networks == 0) {
      return false; // no previous copy: never a shrink
    }
    net::NetList before;
    std::size_t lines = 0;
    try {
      lines =
          net::parse_blocklist(*job.cached_body, job.result.name + " (cached)", m_options.zone, before).lines;
    } catch (const ParseError&) {
      return false; // an unusable copy is no last good one
    }
    const ShrinkGuard& guard = m_options.shrink;
    const std::int64_t copied = job.meta->changed_at > 0 ? job.meta->changed_at : job.meta->fetched_at;
    std::string refused;
    for (const net::Family f : {net::Family::V4, net::Family::V6}) {
      const Shrink s = measure_shrink(before, job.result.nets, f);
      if (!beyond(s, guard.max_shrink)) {
        continue;
      }
      const std::string what = describe_shrink("blocklist " + job.result.name + " " + net::family_name(f), s,
                                               guard.max_shrink, last_good_copy_of(copied));
      if (guard.force) {
        log::warning(what + ": accepted (--force); it replaces the last good copy");
      } else {
        refused += (refused.empty() ? "" : "; ") + what;
      }
    }
    if (refused.empty()) {
      return false;
    }
    log::warning(refused + ": refused; the last good copy stays (--force accepts it)");
    net::BlocklistResult& r = job.result;
    r.nets = std::move(before);
    r.lines = lines;
    r.origin = net::Origin::Refused;
    r.error = refused;
    r.sha256 = util::sha256_hex(*job.cached_body);
    r.fetched_at = job.meta->fetched_at;
    r.last_modified = job.meta->last_modified;
    return true;
  }

  // Unchanged data: the cached copy serves; the meta records this fetch.
  void keep(Job& job, const HttpResponse& resp) const
  {
    ZoneMeta meta = *job.meta;
    note_response(meta, resp, m_now);
    util::write_file_atomic(job.meta_path, format_meta(meta), 0644);
    job.meta = meta;
    from_cache(job);
  }

  const FetchOptions& m_options;
  std::int64_t m_now;
};

bool
starts_with_nocase(const std::string& s, std::string_view prefix)
{
  return s.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

} // namespace

bool
is_blocklist_url(const std::string& location)
{
  return starts_with_nocase(location, "http://") || starts_with_nocase(location, "https://");
}

std::string
file_url(const std::string& path)
{
  const std::string abs = std::filesystem::absolute(path).lexically_normal().string();
  std::string url = "file://";
  constexpr char hex[] = "0123456789ABCDEF";
  for (const char c : abs) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      url += c;
    } else {
      url += '%';
      url += hex[u >> 4];
      url += hex[u & 15];
    }
  }
  return url;
}

BlocklistSource::BlocklistSource(std::vector<std::string> locations, FetchOptions options,
                                 HttpSource::Cache cache)
    : m_options(std::move(options))
{
  // A list given twice is one list (as a country code given twice is one).
  for (std::string& l : locations) {
    if (std::find(m_locations.begin(), m_locations.end(), l) == m_locations.end()) {
      m_locations.push_back(std::move(l));
    }
  }
  if (cache == HttpSource::Cache::ScratchIfReadOnly && !m_options.offline && !m_locations.empty() &&
      !writable_dir(m_options.cache_dir)) {
    m_scratch.emplace("geoblock-dry-run");
    m_options.cache_dir = m_scratch->path();
  }
}

std::string
BlocklistSource::cache_path(const std::string& location) const
{
  return m_options.cache_dir + "/lists/" + cache_id(net::blocklist_name(location), location) + ".list";
}

std::vector<std::string>
BlocklistSource::names() const
{
  std::vector<std::string> out;
  for (std::size_t i = 0; i < m_locations.size(); ++i) {
    const std::string name = net::blocklist_name(m_locations[i]);
    const auto same = std::count_if(m_locations.begin(), m_locations.begin() + static_cast<std::ptrdiff_t>(i),
                                    [&](const std::string& l) { return net::blocklist_name(l) == name; });
    out.push_back(same > 0 ? name + "~" + std::to_string(same + 1) : name);
  }
  return out;
}

std::vector<net::BlocklistResult>
BlocklistSource::load(net::ZoneSource::Mode mode) const
{
  if (m_locations.empty()) {
    return {};
  }
  const Run run(m_options, m_options.clock());
  const std::vector<std::string> list_names = names();
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < m_locations.size(); ++i) {
    const std::string& location = m_locations[i];
    Job job;
    job.result.location = location;
    job.result.name = list_names[i];
    job.url = is_blocklist_url(location);
    job.fetch = job.url ? location : file_url(location);
    const auto instead = m_read_from.find(location);
    job.request = job.url || instead == m_read_from.end() ? job.fetch : file_url(instead->second);
    job.body_path = cache_path(location);
    job.meta_path = job.body_path.substr(0, job.body_path.size() - 5) + ".meta";
    job.meta = read_meta(job.meta_path, job.cache_problem);
    if (job.meta) {
      try {
        job.cached_body = util::read_untrusted_file(job.body_path, k_max_cache_file);
        job.cache_ok = job.cached_body->size() == job.meta->size &&
                       util::sha256_hex(*job.cached_body) == job.meta->sha256;
      } catch (const Error& e) {
        job.cached_body.reset();
        job.cache_problem = e.what();
      }
    }
    jobs.push_back(std::move(job));
  }
  std::vector<net::BlocklistResult> results;
  if (m_options.offline || mode == net::ZoneSource::Mode::CacheOnly) {
    for (Job& job : jobs) {
      run.offline(job);
      results.push_back(std::move(job.result));
    }
    return results;
  }
  std::vector<HttpRequest> requests;
  for (const Job& job : jobs) {
    HttpRequest req;
    req.url = job.request;
    // Conditionals only when the cached copy is intact: a 304 must never
    // make us reuse a body we do not have.
    if (job.meta && job.cache_ok) {
      req.etag = job.meta->etag;
      req.last_modified = job.meta->last_modified_http;
    }
    requests.push_back(std::move(req));
  }
  util::make_dirs(m_options.cache_dir + "/lists");
  const std::vector<HttpResponse> responses = http_get_all(requests, http_options(m_options));
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    run.process(jobs[i], responses[i]);
    if (const auto instead = m_read_from.find(jobs[i].result.location); instead != m_read_from.end()) {
      std::string& error = jobs[i].result.error;
      error = text::replace_all(std::move(error), jobs[i].request, jobs[i].fetch);
      error = text::replace_all(std::move(error), instead->second, instead->first);
    }
    log::verbose("blocklist " + jobs[i].result.name + ": " + net::origin_name(jobs[i].result.origin) + ", " +
                 std::to_string(jobs[i].result.nets.v4.size() + jobs[i].result.nets.v6.size()) + " networks");
    results.push_back(std::move(jobs[i].result));
  }
  util::sync_dir(m_options.cache_dir + "/lists");
  return results;
}

std::string
BlocklistSource::describe() const
{
  std::string out;
  for (const std::string& l : m_locations) {
    out += (out.empty() ? "blocklist " : ", ") + l;
  }
  return out;
}

void
BlocklistSource::load_into(const net::LoadRequest& request, net::SourceData& out)
{
  for (net::BlocklistResult& b : load(request.mode)) {
    out.lists.push_back(std::move(b));
  }
}

net::SourceData
BlocklistSource::expected(const net::LoadRequest&) const
{
  net::SourceData out;
  const std::vector<std::string> list_names = names();
  for (std::size_t i = 0; i < m_locations.size(); ++i) {
    net::BlocklistResult b;
    b.name = list_names[i];
    b.location = m_locations[i];
    out.lists.push_back(std::move(b));
  }
  return out;
}

std::vector<std::string>
BlocklistSource::files() const
{
  std::vector<std::string> out;
  for (const std::string& l : m_locations) {
    if (!is_blocklist_url(l)) {
      out.push_back(l);
    }
  }
  return out;
}

bool
BlocklistSource::load_cache_here(const net::LoadRequest&, net::SourceData& out) const
{
  FetchOptions o = m_options;
  o.offline = true;
  o.progress = ProgressMode::Quiet;
  for (net::BlocklistResult& b : BlocklistSource(m_locations, o).load(net::LoadMode::CacheOnly)) {
    out.lists.push_back(std::move(b));
  }
  return true;
}

} // namespace geoblock::fetch
