#include "privsep/separated_source.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "privsep/hand_over.hpp"
#include "privsep/report.hpp"
#include "privsep/runner.hpp"
#include "util/sandbox.hpp"
#include "util/temp_dir.hpp"
#include "util/unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace geoblock::privsep {

namespace {

void
confine_parent_once()
{
  static bool confined = false;
  if (!confined) {
    util::confine(util::Confinement::Privileged);
    confined = true;
  }
}

void
add_unique(std::vector<std::string>& to, const std::vector<std::string>& from)
{
  for (const std::string& s : from) {
    if (std::find(to.begin(), to.end(), s) == to.end()) {
      to.push_back(s);
    }
  }
}

// A file a source reads, opened here for the child: only a regular file
// (a FIFO would block, here or there); one that is missing or of another
// kind is left to the child, which fails on it naming it, as on a list it
// cannot fetch (its last good copy is used).
util::UniqueFd
open_for_child(const std::string& path)
{
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  struct stat st {};
  if (fd && (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))) {
    fd.reset();
  }
  return fd;
}

// What the child used in place of a real path: {used, real}.
using Renames = std::vector<std::pair<std::string, std::string>>;

std::string
real_names(std::string text, const Renames& renames)
{
  for (const auto& [used, real] : renames) {
    text = text::replace_all(std::move(text), used, real);
  }
  return text;
}

// The paths in what the child reports, as the user gave them.
void
put_back_real_names(net::SourceData& data, const Renames& renames)
{
  for (net::ZoneResult& z : data.zones) {
    z.location = real_names(std::move(z.location), renames);
    z.error = real_names(std::move(z.error), renames);
  }
  for (net::BlocklistResult& b : data.lists) {
    b.error = real_names(std::move(b.error), renames);
  }
  for (net::AsnResult& a : data.asns) {
    a.location = real_names(std::move(a.location), renames);
    a.error = real_names(std::move(a.error), renames);
  }
}

} // namespace

SeparatedSource::SeparatedSource(SeparationOptions options, std::vector<Part> parts)
    : m_options(std::move(options)), m_parts(std::move(parts))
{
  const Paths here{m_options.dir, {}};
  for (const Part& part : m_parts) {
    m_here.push_back(part(here));
  }
}

net::SourceData
SeparatedSource::expected(const net::LoadRequest& request) const
{
  net::SourceData out;
  for (const auto& s : m_here) {
    net::append(out, s->expected(request));
  }
  return out;
}

std::optional<net::CacheReport>
SeparatedSource::cache(std::int64_t now) const
{
  // What the sources' cache() reads is their metadata and the hashes of
  // their cached files (no parsing of network data); a bundle or GeoLite2
  // zip keeps no cache.
  std::vector<std::optional<net::CacheReport>> reports;
  for (const auto& s : m_here) {
    reports.push_back(s->cache(now));
  }
  return net::merge(std::move(reports));
}

std::vector<std::string>
SeparatedSource::cache_folders() const
{
  std::vector<std::string> out;
  for (const auto& s : m_here) {
    add_unique(out, s->cache_folders());
  }
  return out;
}

std::vector<std::string>
SeparatedSource::files() const
{
  std::vector<std::string> out;
  for (const auto& s : m_here) {
    add_unique(out, s->files());
  }
  return out;
}

void
SeparatedSource::load_into(const net::LoadRequest& request, net::SourceData& out)
{
  // CacheOnly: what the parts may read here (restore at boot, --offline:
  // no network, no fork, no user needed); the others run in the child.
  net::SourceData here;
  std::vector<std::size_t> in_child;
  for (std::size_t i = 0; i < m_here.size(); ++i) {
    if (request.mode == net::LoadMode::CacheOnly && m_here[i]->load_cache_here(request, here)) {
      continue;
    }
    in_child.push_back(i);
  }
  // This process confines itself only once the child runs (before the
  // fork, the child would inherit the filter), or right away without one.
  if (in_child.empty()) {
    if (m_options.parent == SeparationOptions::Parent::Confine) {
      confine_parent_once();
    }
    net::append(out, std::move(here));
    return;
  }

  // What the child's parts need and return.
  net::SourceData expected;
  std::vector<std::string> folders, files;
  for (const std::size_t i : in_child) {
    net::append(expected, m_here[i]->expected(request));
    add_unique(folders, m_here[i]->cache_folders());
    add_unique(files, m_here[i]->files());
  }
  Confinement c;
  if (m_options.user) {
    c.account = util::require_account(*m_options.user);
  }
  std::string cache = folders.empty() ? std::string() : m_options.dir;
  // The cache, which a normal user's dry run may not be able to write.
  std::optional<util::TempDir> scratch;
  if (!cache.empty() && !c.account && m_options.scratch_if_read_only && !writable_dir(cache)) {
    scratch.emplace("geoblock-dry-run");
    log::info("cache-dir " + cache + " is not writable; the dry run downloads into a temporary directory");
    cache = scratch->path();
  }
  // As root, the cache directory (its folders handed to the fetch-user)
  // and the files go over as descriptors: handed_fd(0) the directory,
  // then one per file (empty: left to the child).
  std::vector<bool> file_open(files.size(), false);
  if (c.account) {
    util::UniqueFd dir;
    if (!cache.empty()) {
      hand_over(cache, *c.account, folders);
      dir.reset(::open(cache.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!dir) {
        throw Error(cache + ": cannot open: " + std::strerror(errno));
      }
    }
    c.handed.push_back(std::move(dir));
    for (std::size_t i = 0; i < files.size(); ++i) {
      c.handed.push_back(open_for_child(files[i]));
      file_open[i] = c.handed.back().valid();
    }
  }
  c.max_output = k_max_report;
  c.timeout = m_options.timeout;
  c.error_output = format_child_error;
  if (m_options.parent == SeparationOptions::Parent::Confine) {
    c.once_started = confine_parent_once;
  }
  const bool by_fd = c.account.has_value();
  const std::string who =
      c.account ? "the fetching process (user " + c.account->name + ")" : std::string("the fetching process");

  // In the child: the paths it reaches things by, the parts made with
  // them, and their results with the real paths put back.
  const auto body = [&]() -> std::string {
    std::string used_cache = cache;
    if (by_fd && !cache.empty()) {
      used_cache = reach(cache, handed_fd(0), cache + "/" + folders.front(), W_OK | X_OK);
    }
    std::vector<util::UniqueFd> copies;
    Renames renames;                                          // {used, real}
    std::vector<std::pair<std::string, std::string>> reached; // {real, used}
    for (std::size_t i = 0; i < files.size(); ++i) {
      const std::string used =
          by_fd && file_open[i] ? readable_copy(files[i], handed_fd(1 + i), copies) : files[i];
      reached.emplace_back(files[i], used);
      if (used != files[i]) {
        renames.emplace_back(used, files[i]);
      }
    }
    if (used_cache != cache) {
      renames.emplace_back(used_cache, cache);
    }
    // Longer first, so that no path is replaced inside a longer one.
    std::sort(renames.begin(), renames.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    const Paths paths{used_cache, [&reached](const std::string& real) {
                        for (const auto& [r, used] : reached) {
                          if (r == real) {
                            return used;
                          }
                        }
                        return real;
                      }};
    net::SourceData data;
    try {
      for (const std::size_t i : in_child) {
        m_parts[i](paths)->load_into(request, data);
      }
    } catch (const std::exception& e) {
      throw Error(real_names(e.what(), renames));
    }
    put_back_real_names(data, renames);
    return format_child_report(data);
  };
  const Finished done = run_confined(std::move(c), body);

  if (WIFSIGNALED(done.status)) {
    const int sig = WTERMSIG(done.status);
    throw Error(who + " was killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")" +
                (sig == SIGSYS ? ": a system call its seccomp filter forbids" : "") + "; nothing applied");
  }
  const ChildReport report = parse_child_report(done.output, expected, request.lookups);
  if (!WIFEXITED(done.status) || WEXITSTATUS(done.status) != 0) {
    throw Error(who + " failed (exit status " + std::to_string(WEXITSTATUS(done.status)) +
                "); nothing applied");
  }
  net::append(out, std::move(here));
  net::append(out, revalidate(report, m_options.guards, request.lookups));
}

} // namespace geoblock::privsep
