#include "cli/separated_source.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "fetch/blocklist_fetch.hpp"
#include "fetch/zone_cache.hpp"
#include "net/zone.hpp"
#include "util/atomic_file.hpp"
#include "util/temp_dir.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <list>
#include <memory>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace geoblock::cli {

namespace {

constexpr std::size_t k_max_field = 1024;
constexpr std::size_t k_max_line = 4096;
// The whole world's zones are about 20 MB of normalised text.
constexpr std::size_t k_max_report = std::size_t{512} << 20;
// Where the child finds what this process opened for it.
constexpr int k_report_fd = 3;
constexpr int k_file_fd = 4;
constexpr int k_cache_fd = 5;
constexpr int k_first_list_fd = 6; // then one per FILE blocklist root opened (-1: none)

constexpr net::Origin k_origins[] = {
    net::Origin::Downloaded, net::Origin::NotModified, net::Origin::StaleCache, net::Origin::Failed,
    net::Origin::Absent,     net::Origin::Local,       net::Origin::Refused};

std::string
printable(std::string_view s)
{
  std::string out;
  for (const char c : s.substr(0, k_max_field)) {
    const auto u = static_cast<unsigned char>(c);
    out += u >= 0x20 && u < 0x7f ? c : '?';
  }
  return out;
}

std::vector<net::Family>
families_of(net::Families families)
{
  std::vector<net::Family> out;
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    if (net::includes(families, f)) {
      out.push_back(f);
    }
  }
  return out;
}

std::vector<std::string_view>
split(std::string_view line, char sep)
{
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = line.find(sep);
    out.push_back(line.substr(0, at));
    if (at == std::string_view::npos) {
      return out;
    }
    line.remove_prefix(at + 1);
  }
}

bool
parse_count(std::string_view s, std::uint64_t& v)
{
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) {
    return false;
  }
  v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

std::string
networks_text(const net::NetList& nets)
{
  std::string body;
  for (const auto& p : nets.v4) {
    body += net::to_string(p) + "\n";
  }
  for (const auto& p : nets.v6) {
    body += net::to_string(p) + "\n";
  }
  return body;
}

bool
is_sha256(std::string_view s)
{
  return s.empty() || (s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos);
}

[[noreturn]] void
bad_report(std::size_t line, const std::string& what)
{
  throw Error("the fetching process's report, line " + std::to_string(line) + ": " + what +
              " (not trusted; nothing applied)");
}

void
write_all(int fd, std::string_view data)
{
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return; // the parent is gone or stopped reading: nothing to tell
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The names a source may carry in the report (cli's source_name), or
// none (a source not in a failover list).
bool
known_source(std::string_view name)
{
  return name.empty() || name == "http" || name == "rir" || name == "bundle" || name == "maxmind" ||
         name == "mmdb";
}

// Hands the cache directory `dir` over to the fetch-user, as root: the
// directory itself stays root's (so its v4 and v6 cannot be swapped for
// links), v4 and v6 become the fetcher's (systemd-tmpfiles makes them so
// for the default directory; here for any other, or outside systemd). A
// v4 or v6 still owned by root (written by geoblock before privilege
// separation) is handed over as it is: the fetcher replaces the files in
// it by rename, so none of them is ever chowned (chowning what is in a
// directory the fetcher could write is how a planted hard link would
// become its).
void
hand_over(const std::string& dir, const util::Account& to, const std::vector<std::string>& extra)
{
  util::make_dirs(dir, 0755);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(dir + ": not a directory");
  }
  if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
    throw Error(dir +
                ": must be owned by root and writable by root alone (only its v4 and v6 belong to "
                "the fetch-user '" +
                to.name + "'; docs/security.md)");
  }
  // The fetcher looks up v4 and v6 in it (also through /proc/self/fd,
  // which does not spare it the search permission of this directory).
  if ((st.st_mode & S_IXOTH) == 0 && ::chmod(dir.c_str(), (st.st_mode & 07777) | S_IXOTH) != 0) {
    throw Error(dir + ": cannot make it searchable: " + std::strerror(errno));
  }
  // v4 and v6: the zones (fetch/zone_cache.hpp); lists: the blocklists'
  // cache; rir: the registries' delegation files (fetch/rir_source.hpp);
  // `extra`: mmdb and asn, the last good copies of the databases and ASN
  // data, only where configured (a host without them keeps its cache as
  // it was, and needs no CAP_CHOWN for folders it does not use).
  std::vector<std::string> subs = {"v4", "v6", "lists", "rir"};
  subs.insert(subs.end(), extra.begin(), extra.end());
  for (const std::string& sub : subs) {
    const std::string path = dir + "/" + sub;
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      throw Error(path + ": cannot create directory: " + std::strerror(errno));
    }
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      throw Error(path + ": not a directory");
    }
    if (st.st_uid == to.uid && st.st_gid == to.gid) {
      continue;
    }
    if (st.st_uid != 0) {
      throw Error(path + ": owned by uid " + std::to_string(st.st_uid) +
                  ", neither root nor the fetch-user '" + to.name + "'");
    }
    if (::lchown(path.c_str(), to.uid, to.gid) != 0) {
      throw Error(path + ": cannot give it to the fetch-user '" + to.name + "': " + std::strerror(errno) +
                  " (without CAP_CHOWN, create it: install -d -o " + to.name + " -g " + to.name + " " + path +
                  "; docs/security.md)");
    }
  }
}

// True when `dir`, or the nearest existing directory above it, is writable.
bool
writable_dir(const std::string& dir)
{
  std::string p = dir;
  struct stat st {};
  while (!p.empty() && ::stat(p.c_str(), &st) != 0) {
    const auto slash = p.rfind('/');
    p = slash == std::string::npos ? "" : slash == 0 ? "/" : p.substr(0, slash);
  }
  return !p.empty() && ::access(p.c_str(), W_OK) == 0;
}

// The path the child uses for what this process opened as `fd`: the real
// one when it reaches the same file with the access needed (the usual
// /var/cache/geoblock), else the descriptor itself (a directory below one
// the fetcher may not enter, such as a test's private temporary directory).
std::string
reach(const std::string& real, int fd, const std::string& probe, int access_mode)
{
  struct stat a {
  }, b{};
  if (::stat(real.c_str(), &a) == 0 && ::fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
      ::access(probe.c_str(), access_mode) == 0) {
    return real;
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

// Moves the descriptors the child keeps to 3, 4, 5 (and the blocklist
// files' from 6 on) and closes every other one but 0, 1, 2: nothing of the
// privileged process (the lock, a netlink socket opened as root) may reach
// the fetcher.
void
arrange_fds(int report, int file, int cache, const std::vector<int>& lists)
{
  std::vector<int> src = {report, file, cache};
  src.insert(src.end(), lists.begin(), lists.end());
  // Above every destination, so no copy lands on one still to be filled.
  const int above = k_first_list_fd + static_cast<int>(src.size()) + 64;
  for (int& fd : src) {
    if (fd >= 0) {
      fd = ::fcntl(fd, F_DUPFD_CLOEXEC, above);
      if (fd < 0) {
        throw Error(std::string("privilege separation: dup: ") + std::strerror(errno));
      }
    }
  }
  const int last = k_report_fd + static_cast<int>(src.size()) - 1;
  for (std::size_t i = 0; i < src.size(); ++i) {
    const int dst = k_report_fd + static_cast<int>(i);
    if (src[i] < 0) {
      ::close(dst); // whatever of ours was there
    } else if (::dup2(src[i], dst) < 0) {
      throw Error(std::string("privilege separation: dup2: ") + std::strerror(errno));
    }
  }
  if (::close_range(static_cast<unsigned>(last) + 1, ~0u, 0) != 0) {
    for (int fd = last + 1; fd < 65536; ++fd) {
      ::close(fd);
    }
  }
  // stdin from nowhere, stdout to stderr: the fetcher's messages are
  // diagnostics, and a dry run's stdout (the report, JSON) is ours alone.
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, STDIN_FILENO) < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    throw Error(std::string("privilege separation: redirecting stdin/stdout: ") + std::strerror(errno));
  }
  ::close(null);
}

struct ChildPlan {
  std::optional<util::Account> account;
  std::string file;   // the source file, if any
  std::string cache;  // the cache directory the source keeps, if any
  bool by_fd = false; // the two above come as descriptors too (the child is another user)
  pid_t parent = 0;
  const std::vector<std::string>* countries = nullptr;
  net::Families families = net::Families::Both;
  net::ZoneSource::Mode mode = net::ZoneSource::Mode::Refresh;
  std::int64_t now = 0;
  // The blocklists to fetch, and the options to fetch them with.
  const std::vector<std::string>* lists = nullptr;
  const fetch::FetchOptions* fetch = nullptr;
  std::vector<bool> list_by_fd; // per list: root opened it (by_fd only)
  // SeparationOptions::files, and whether root opened each (by_fd only);
  // their descriptors follow the lists'.
  const std::vector<std::string>* files = nullptr;
  std::vector<bool> file_by_fd;
  const SeparationOptions* options = nullptr; // load_asns, asns
};

// The source file as the child can read it: the real path when it may
// open it, else a private in-memory copy of the descriptor root opened
// (reopening /proc/self/fd/N would check the file's permissions again).
std::string
readable_copy(const std::string& real, int fd)
{
  struct stat a {
  }, b{};
  if (::stat(real.c_str(), &a) == 0 && ::fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
      ::access(real.c_str(), R_OK) == 0) {
    return real;
  }
  const int copy = ::memfd_create("geoblock-source", MFD_CLOEXEC);
  if (copy < 0) {
    throw Error(real + ": cannot copy for reading: " + std::strerror(errno));
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw Error(real + ": cannot read: " + std::strerror(errno));
    }
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(copy, buf + done, static_cast<std::size_t>(n - done));
      if (w < 0) {
        throw Error(real + ": cannot copy for reading: " + std::strerror(errno));
      }
      done += w;
    }
  }
  return "/proc/self/fd/" + std::to_string(copy);
}

// `text` with the path the child used replaced by the one the user gave.
std::string
real_name(std::string text, const std::string& used, const std::string& real)
{
  if (used.empty() || used == real) {
    return text;
  }
  for (std::size_t at = text.find(used); at != std::string::npos; at = text.find(used, at + real.size())) {
    text.replace(at, used.size(), real);
  }
  return text;
}

[[noreturn]] void
child_main(const ChildPlan& plan, const SeparatedSource::FilesFactory& make_inner, int report, int file_fd,
           int cache_fd, const std::vector<int>& list_fds) noexcept
{
  int status = 1;
  std::string shown; // the path the child reads the source file by
  try {
    arrange_fds(report, file_fd, cache_fd, list_fds);
    ::setsid(); // no controlling terminal: nothing to type into
    if (plan.account) {
      util::drop_privileges(*plan.account);
    } else {
      const util::ProcessPrivileges p = util::process_privileges();
      if (p.cap_eff || p.cap_prm || p.cap_amb) {
        throw Error("privilege separation: the fetching process would keep capabilities; run as root "
                    "(it then becomes the fetch-user) or without capabilities");
      }
    }
    // Dropping credentials cleared any death signal: set it now, so a
    // fetcher whose parent was killed stops too.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != plan.parent) {
      ::_exit(1);
    }
    util::confine(util::Confinement::Fetcher);

    const std::string cache = plan.by_fd && !plan.cache.empty()
                                  ? reach(plan.cache, k_cache_fd, plan.cache + "/v4", W_OK | X_OK)
                                  : plan.cache;
    const std::string file =
        plan.by_fd && !plan.file.empty() ? readable_copy(plan.file, k_file_fd) : plan.file;
    shown = file;
    // The further files (mmdb-file, asn-file), as the child can read them.
    std::vector<std::pair<std::string, std::string>> reached; // {real, used}
    for (std::size_t i = 0; i < plan.files->size(); ++i) {
      const std::string& real = (*plan.files)[i];
      const int fd = k_first_list_fd + static_cast<int>(plan.lists->size() + i);
      reached.emplace_back(real, plan.by_fd && plan.file_by_fd[i] ? readable_copy(real, fd) : real);
    }
    const Reach reach = [&reached](const std::string& real) {
      for (const auto& [r, used] : reached) {
        if (r == real) {
          return used;
        }
      }
      return real;
    };
    std::vector<net::ZoneResult> zones =
        make_inner(cache, file, reach)->load(*plan.countries, plan.families, plan.mode);
    for (net::ZoneResult& z : zones) {
      z.location = real_name(z.location, file, plan.file);
      z.error = real_name(z.error, file, plan.file);
    }
    // The blocklists, in the same run: the cache they share with the zones,
    // the FILE lists root opened read from their copies.
    std::vector<net::BlocklistResult> lists;
    if (!plan.lists->empty()) {
      fetch::FetchOptions fo = *plan.fetch;
      fo.cache_dir = cache;
      fetch::BlocklistSource source(*plan.lists, fo);
      std::vector<std::pair<std::string, std::string>> copies; // {used, real}
      for (std::size_t i = 0; i < plan.lists->size(); ++i) {
        const std::string& real = (*plan.lists)[i];
        if (plan.by_fd && plan.list_by_fd[i]) {
          const std::string used = readable_copy(real, k_first_list_fd + static_cast<int>(i));
          if (used != real) {
            source.read_from(real, used);
            copies.emplace_back(used, real);
          }
        }
      }
      lists = source.load(plan.mode);
      for (net::BlocklistResult& b : lists) {
        for (const auto& [used, real] : copies) {
          b.error = real_name(b.error, fetch::file_url(used), fetch::file_url(real));
          b.error = real_name(b.error, used, real);
        }
        b.error = real_name(b.error, cache, plan.cache);
      }
    }
    std::vector<net::AsnResult> asns;
    if (!plan.options->asns.empty() && plan.options->load_asns) {
      asns = plan.options->load_asns(cache, reach, plan.mode);
    }
    write_all(k_report_fd, format_child_report(zones, lists, asns));
    status = 0;
  } catch (const std::exception& e) {
    write_all(k_report_fd, format_child_error(real_name(e.what(), shown, plan.file)));
  } catch (...) {
    write_all(k_report_fd, format_child_error("the fetching process failed"));
  }
  std::fflush(nullptr);
  ::_exit(status);
}

// Kills and reaps the child unless it was waited for.
class Child {
public:
  explicit Child(pid_t pid) : m_pid(pid) {}
  ~Child()
  {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      wait();
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int wait()
  {
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
    m_pid = -1;
    return status;
  }

private:
  pid_t m_pid;
};

struct Fd {
  int fd = -1;
  ~Fd()
  {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

std::string
read_report(int fd)
{
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) {
      return text;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw Error(std::string("reading the fetching process's report: ") + std::strerror(errno));
    }
    if (text.size() + static_cast<std::size_t>(n) > k_max_report) {
      throw Error("the fetching process's report is larger than " + std::to_string(k_max_report) +
                  " bytes (not trusted; nothing applied)");
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
}

void
confine_parent_once()
{
  static bool confined = false;
  if (!confined) {
    util::confine(util::Confinement::Privileged);
    confined = true;
  }
}

} // namespace

std::string
format_child_report(const std::vector<net::ZoneResult>& zones, const std::vector<net::BlocklistResult>& lists,
                    const std::vector<net::AsnResult>& asns)
{
  std::string out;
  for (const net::ZoneResult& z : zones) {
    // The networks as zone text: what this side's strict parser reads.
    std::string body;
    if (z.usable() && z.origin != net::Origin::Absent) {
      body = networks_text(z.nets);
    }
    out += "zone\t" + printable(z.country) + "\t" + net::family_key(z.family) + "\t" +
           net::origin_name(z.origin) + "\t" + std::to_string(z.bytes) + "\t" + (z.stale ? "1" : "0") + "\t" +
           std::to_string(std::max<std::int64_t>(z.fetched_at, 0)) + "\t" +
           std::to_string(std::max<std::int64_t>(z.last_modified, 0)) + "\t" + printable(z.location) + "\t" +
           printable(z.error) + "\t" + printable(z.source) + "\t" + std::to_string(body.size()) + "\n" + body;
  }
  for (const net::BlocklistResult& b : lists) {
    // The networks as text, one per line: what net::parse_blocklist reads.
    const std::string body = b.usable() ? networks_text(b.nets) : std::string();
    out += "list\t" + printable(b.name) + "\t" + printable(b.location) + "\t" + net::origin_name(b.origin) +
           "\t" + std::to_string(b.bytes) + "\t" + std::to_string(std::max<std::int64_t>(b.fetched_at, 0)) +
           "\t" + std::to_string(std::max<std::int64_t>(b.last_modified, 0)) + "\t" + printable(b.sha256) +
           "\t" + printable(b.error) + "\t" + std::to_string(body.size()) + "\n" + body;
  }
  for (const net::AsnResult& a : asns) {
    const std::string body = a.usable() ? networks_text(a.nets) : std::string();
    out += "asn\t" + std::to_string(a.number) + "\t" + (a.allow ? "1" : "0") + "\t" + printable(a.name) +
           "\t" + net::origin_name(a.origin) + "\t" +
           std::to_string(std::max<std::int64_t>(a.fetched_at, 0)) + "\t" +
           std::to_string(std::max<std::int64_t>(a.last_modified, 0)) + "\t" + printable(a.location) + "\t" +
           printable(a.error) + "\t" + std::to_string(body.size()) + "\n" + body;
  }
  out += "end\t" + std::to_string(zones.size() + lists.size() + asns.size()) + "\n";
  return out;
}

std::string
format_child_error(const std::string& message)
{
  return "error\t" + printable(message) + "\n";
}

std::vector<ReportedZone>
parse_child_report(const std::string& text, const std::vector<std::string>& countries, net::Families families)
{
  return parse_child_report(text, countries, families, {}).zones;
}

ChildReport
parse_child_report(const std::string& text, const std::vector<std::string>& countries, net::Families families,
                   const std::vector<ExpectedList>& lists, const std::vector<ExpectedAsn>& asns)
{
  const std::string_view all(text);
  std::size_t pos = 0, line = 0;
  // The next header line, checked: printable ASCII and tabs, bounded.
  const auto next_line = [&]() -> std::string_view {
    ++line;
    const auto nl = all.find('\n', pos);
    if (nl == std::string_view::npos || nl - pos > k_max_line) {
      bad_report(line, "truncated or overlong");
    }
    const std::string_view l = all.substr(pos, nl - pos);
    pos = nl + 1;
    for (const char c : l) {
      const auto u = static_cast<unsigned char>(c);
      if (c != '\t' && (u < 0x20 || u >= 0x7f)) {
        bad_report(line, "a control or non-ASCII byte");
      }
    }
    return l;
  };
  if (all.substr(0, 6) == "error\t") {
    const std::string_view message = next_line().substr(6);
    if (message.empty() || message.size() > k_max_field || message.find('\t') != std::string_view::npos ||
        pos != all.size()) {
      bad_report(1, "a malformed error line");
    }
    throw Error(std::string(message));
  }
  std::vector<std::pair<std::string, net::Family>> expected;
  for (const net::Family f : families_of(families)) {
    for (const std::string& cc : countries) {
      expected.emplace_back(cc, f);
    }
  }
  // In any order (a bundle lists its zones per country), each expected
  // zone exactly once; returned in the expected order.
  std::vector<std::optional<ReportedZone>> found(expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto f = split(next_line(), '\t');
    if (f.size() != 12 || f[0] != "zone" || (f[2] != "v4" && f[2] != "v6")) {
      bad_report(line, "not a zone line");
    }
    ReportedZone z;
    z.country = std::string(f[1]);
    z.family = f[2] == "v4" ? net::Family::V4 : net::Family::V6;
    std::size_t slot = expected.size();
    for (std::size_t j = 0; j < expected.size(); ++j) {
      if (expected[j].first == z.country && expected[j].second == z.family) {
        slot = j;
      }
    }
    if (slot == expected.size() || found[slot]) {
      bad_report(line, "a zone not asked for, or twice: '" + z.country + " " + std::string(f[2]) + "'");
    }
    bool known = false;
    for (const net::Origin o : k_origins) {
      if (f[3] == net::origin_name(o)) {
        z.origin = o;
        known = true;
      }
    }
    std::uint64_t fetched = 0, modified = 0, body = 0;
    if (!known || !parse_count(f[4], z.bytes) || (f[5] != "0" && f[5] != "1") ||
        !parse_count(f[6], fetched) || !parse_count(f[7], modified) || f[8].size() > k_max_field ||
        f[9].size() > k_max_field || !known_source(f[10]) || !parse_count(f[11], body)) {
      bad_report(line, "a malformed field");
    }
    if (body > all.size() - pos || (body > 0 && (!z.usable() || z.origin == net::Origin::Absent))) {
      bad_report(line, "a zone body that is cut short, or where none belongs");
    }
    z.stale = f[5] == "1";
    z.fetched_at = static_cast<std::int64_t>(fetched);
    z.last_modified = static_cast<std::int64_t>(modified);
    z.location = std::string(f[8]);
    z.error = std::string(f[9]);
    z.source = std::string(f[10]);
    z.body = std::string(all.substr(pos, body));
    pos += body;
    found[slot] = std::move(z);
  }
  // Then each list asked for, in order, named as asked.
  ChildReport out;
  for (const ExpectedList& want : lists) {
    const auto f = split(next_line(), '\t');
    if (f.size() != 10 || f[0] != "list") {
      bad_report(line, "not a list line");
    }
    if (f[1] != printable(want.name) || f[2] != printable(want.location)) {
      bad_report(line, "a list not asked for here: '" + std::string(f[1]) + "'");
    }
    ReportedList r;
    r.name = want.name;
    r.location = want.location;
    bool known = false;
    for (const net::Origin o : k_origins) {
      if (f[3] == net::origin_name(o) && o != net::Origin::Absent) {
        r.origin = o;
        known = true;
      }
    }
    std::uint64_t fetched = 0, modified = 0, body = 0;
    if (!known || !parse_count(f[4], r.bytes) || !parse_count(f[5], fetched) ||
        !parse_count(f[6], modified) || !is_sha256(f[7]) || f[8].size() > k_max_field ||
        !parse_count(f[9], body)) {
      bad_report(line, "a malformed field");
    }
    if (body > all.size() - pos || (body > 0 && !r.usable())) {
      bad_report(line, "a list body that is cut short, or where none belongs");
    }
    r.fetched_at = static_cast<std::int64_t>(fetched);
    r.last_modified = static_cast<std::int64_t>(modified);
    r.sha256 = std::string(f[7]);
    r.error = std::string(f[8]);
    r.body = std::string(all.substr(pos, body));
    pos += body;
    out.lists.push_back(std::move(r));
  }
  // Then each AS asked for, in order.
  for (const ExpectedAsn& want : asns) {
    const auto f = split(next_line(), '\t');
    if (f.size() != 10 || f[0] != "asn") {
      bad_report(line, "not an asn line");
    }
    std::uint64_t number = 0;
    if (!parse_count(f[1], number) || number != want.number || f[2] != (want.allow ? "1" : "0")) {
      bad_report(line, "an AS not asked for here: '" + std::string(f[1]) + "'");
    }
    ReportedAsn a;
    a.number = want.number;
    a.allow = want.allow;
    bool known = false;
    for (const net::Origin o : k_origins) {
      if (f[4] == net::origin_name(o)) {
        a.origin = o;
        known = true;
      }
    }
    std::uint64_t fetched = 0, modified = 0, body = 0;
    if (!known || f[3].size() > k_max_field || !parse_count(f[5], fetched) || !parse_count(f[6], modified) ||
        f[7].size() > k_max_field || f[8].size() > k_max_field || !parse_count(f[9], body)) {
      bad_report(line, "a malformed field");
    }
    if (body > all.size() - pos ||
        (body > 0 && (a.origin == net::Origin::Failed || a.origin == net::Origin::Absent))) {
      bad_report(line, "an AS body that is cut short, or where none belongs");
    }
    a.name = std::string(f[3]);
    a.fetched_at = static_cast<std::int64_t>(fetched);
    a.last_modified = static_cast<std::int64_t>(modified);
    a.location = std::string(f[7]);
    a.error = std::string(f[8]);
    a.body = std::string(all.substr(pos, body));
    pos += body;
    out.asns.push_back(std::move(a));
  }
  const std::size_t records = expected.size() + lists.size() + asns.size();
  std::uint64_t n = 0;
  const auto end = split(next_line(), '\t');
  if (end.size() != 2 || end[0] != "end" || !parse_count(end[1], n) || n != records || pos != all.size()) {
    bad_report(line, "expected 'end " + std::to_string(records) + "' and nothing after it");
  }
  for (auto& z : found) {
    out.zones.push_back(std::move(*z));
  }
  return out;
}

std::vector<net::BlocklistResult>
revalidate_lists(const std::vector<ReportedList>& lists, const net::ZoneOptions& guards)
{
  // The lists' networks, validated again here by the strict list parser
  // with the configured guards; a list that fails is that list's failure.
  std::vector<net::BlocklistResult> out;
  for (const ReportedList& r : lists) {
    net::BlocklistResult b;
    b.name = r.name;
    b.location = r.location;
    b.origin = r.origin;
    b.bytes = r.bytes;
    b.fetched_at = r.fetched_at;
    b.last_modified = r.last_modified;
    b.sha256 = r.sha256;
    b.error = r.error;
    if (b.usable()) {
      try {
        b.lines =
            net::parse_blocklist(r.body, b.name + " " + b.location + " (handed over)", guards, b.nets).lines;
      } catch (const ParseError& e) {
        b.nets = {};
        b.origin = net::Origin::Failed;
        b.error = std::string("refused on re-validation: ") + e.what();
        log::warning("blocklist " + b.name + ": " + b.error);
      }
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<net::AsnResult>
revalidate_asns(const std::vector<ReportedAsn>& asns, const net::ZoneOptions& guards)
{
  std::vector<net::AsnResult> out;
  for (const ReportedAsn& r : asns) {
    net::AsnResult a;
    a.number = r.number;
    a.allow = r.allow;
    a.name = r.name;
    a.origin = r.origin;
    a.fetched_at = r.fetched_at;
    a.last_modified = r.last_modified;
    a.location = r.location;
    a.error = r.error;
    if (a.usable() && a.origin != net::Origin::Absent) {
      try {
        a.lines =
            net::parse_blocklist(r.body, "AS" + std::to_string(a.number) + " (handed over)", guards, a.nets)
                .lines;
      } catch (const ParseError& e) {
        a.nets = {};
        a.origin = net::Origin::Failed;
        a.error = std::string("refused on re-validation: ") + e.what();
        log::warning(a.label() + ": " + a.error);
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

SeparatedSource::SeparatedSource(SeparationOptions options, Factory make_inner)
    : m_options(std::move(options)),
      m_make_inner([make = std::move(make_inner)](const std::string& cache_dir, const std::string& file,
                                                  const Reach&) { return make(cache_dir, file); })
{
}

SeparatedSource::SeparatedSource(SeparationOptions options, FilesFactory make_inner)
    : m_options(std::move(options)), m_make_inner(std::move(make_inner))
{
}

std::vector<net::ZoneResult>
SeparatedSource::reread(const std::string& dir, const std::vector<std::string>& countries,
                        net::Families families) const
{
  fetch::FetchOptions o = m_options.reread;
  o.cache_dir = dir;
  o.offline = true;
  o.progress = fetch::ProgressMode::Quiet;
  return fetch::fetch_zones(countries, families, o);
}

std::vector<net::ZoneResult>
SeparatedSource::load(const std::vector<std::string>& countries, net::Families families, Mode mode)
{
  // The blocklists as configured, each once, and their names.
  fetch::FetchOptions list_options = m_options.reread;
  list_options.cache_dir = m_options.dir;
  list_options.progress = fetch::ProgressMode::Quiet;
  const fetch::BlocklistSource configured(m_options.blocklists, list_options);
  m_lists.clear();
  if (mode == Mode::CacheOnly) {
    // Their last good copies, read here as untrusted files (no network, no
    // child needed: restore at boot, --offline).
    list_options.offline = true;
    m_lists = fetch::BlocklistSource(m_options.blocklists, list_options).load(mode);
  }

  // This process confines itself only once the child runs (before the
  // fork, the child would inherit the filter), or right away without one.
  m_asns.clear();
  if (m_options.read_cache_here && mode == Mode::CacheOnly && m_options.asns.empty()) {
    if (m_options.parent == SeparationOptions::Parent::Confine) {
      confine_parent_once();
    }
    return reread(m_options.dir, countries, families);
  }
  static const std::vector<std::string> no_lists;
  const std::vector<std::string>& fetch_lists = mode == Mode::Refresh ? configured.locations() : no_lists;
  std::vector<ExpectedList> expected_lists;
  if (mode == Mode::Refresh) {
    const std::vector<std::string> names = configured.names();
    for (std::size_t i = 0; i < names.size(); ++i) {
      expected_lists.push_back({names[i], fetch_lists[i]});
    }
  }

  ChildPlan plan;
  plan.parent = ::getpid();
  plan.countries = &countries;
  plan.families = families;
  plan.mode = mode;
  plan.now = m_options.reread.clock();
  plan.file = m_options.file;
  plan.cache = m_options.dir;
  plan.lists = &fetch_lists;
  plan.fetch = &m_options.reread;
  plan.files = &m_options.files;
  plan.options = &m_options;
  if (m_options.user) {
    plan.account = util::require_account(*m_options.user);
  }

  // The cache, which a normal user's dry run may not be able to write.
  std::optional<util::TempDir> scratch;
  if (!plan.cache.empty() && !plan.account && m_options.scratch_if_read_only && !writable_dir(plan.cache)) {
    scratch.emplace("geoblock-dry-run");
    log::info("cache-dir " + plan.cache +
              " is not writable; the dry run downloads into a temporary directory");
    plan.cache = scratch->path();
  }
  Fd file_fd, cache_fd;
  std::list<Fd> list_fds; // (stable addresses: Fd closes what it holds)
  if (plan.account) {
    plan.by_fd = true;
    const auto open_dir = [&plan, this](const std::string& dir, Fd& fd) {
      hand_over(dir, *plan.account, m_options.extra_cache_dirs);
      fd.fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd.fd < 0) {
        throw Error(dir + ": cannot open: " + std::strerror(errno));
      }
    };
    if (!plan.cache.empty()) {
      open_dir(plan.cache, cache_fd);
    }
    if (!plan.file.empty()) {
      file_fd.fd = ::open(plan.file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
      if (file_fd.fd < 0) {
        throw Error(plan.file + ": cannot open: " + std::strerror(errno));
      }
    }
    // A FILE blocklist the fetch-user may not read (in /etc/geoblock, mode
    // 0600) is opened here; one that is missing, or not a regular file (a
    // FIFO would block), is left to the child, which fails on it as on a
    // list it cannot fetch (its last good copy is used).
    for (const std::string& location : fetch_lists) {
      Fd& fd = list_fds.emplace_back();
      if (!fetch::is_blocklist_url(location)) {
        fd.fd = ::open(location.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st {};
        if (fd.fd >= 0 && (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode))) {
          ::close(fd.fd);
          fd.fd = -1;
        }
      }
      plan.list_by_fd.push_back(fd.fd >= 0);
    }
    // The further files likewise (a database only root may read); one that
    // is missing or no regular file is the child's to fail on, naming it.
    for (const std::string& path : m_options.files) {
      Fd& fd = list_fds.emplace_back();
      fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
      struct stat st {};
      if (fd.fd >= 0 && (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        ::close(fd.fd);
        fd.fd = -1;
      }
      plan.file_by_fd.push_back(fd.fd >= 0);
    }
  }
  std::vector<int> list_fd_numbers;
  for (const Fd& fd : list_fds) {
    list_fd_numbers.push_back(fd.fd);
  }

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw Error(std::string("privilege separation: pipe: ") + std::strerror(errno));
  }
  Fd read_end{pipe_fds[0]};
  Fd write_end{pipe_fds[1]};
  std::fflush(nullptr); // nothing buffered may be written twice
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw Error(std::string("privilege separation: fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    child_main(plan, m_make_inner, write_end.fd, file_fd.fd, cache_fd.fd, list_fd_numbers);
  }
  Child child(pid);
  ::close(write_end.fd);
  write_end.fd = -1;
  if (m_options.parent == SeparationOptions::Parent::Confine) {
    confine_parent_once();
  }
  const std::string text = read_report(read_end.fd);
  const int status = child.wait();
  const std::string who = plan.account ? "the fetching process (user " + plan.account->name + ")"
                                       : std::string("the fetching process");
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    throw Error(who + " was killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")" +
                (sig == SIGSYS ? ": a system call its seccomp filter forbids" : "") + "; nothing applied");
  }
  const ChildReport report = parse_child_report(text, countries, families, expected_lists, m_options.asns);
  const std::vector<ReportedZone>& reported = report.zones;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(who + " failed (exit status " + std::to_string(WEXITSTATUS(status)) + "); nothing applied");
  }

  m_lists = revalidate_lists(report.lists, m_options.reread.zone);
  m_asns = revalidate_asns(report.asns, m_options.reread.zone);

  // The networks are validated again here, by the strict zone parser with
  // the configured guards, from the text the child handed over.
  std::vector<net::ZoneResult> zones;
  for (const ReportedZone& r : reported) {
    net::ZoneResult z;
    z.country = r.country;
    z.family = r.family;
    z.origin = r.origin;
    z.bytes = r.bytes;
    z.stale = r.stale;
    z.fetched_at = r.fetched_at;
    z.last_modified = r.last_modified;
    z.location = r.location;
    z.error = r.error;
    z.source = r.source;
    if (z.usable() && z.origin != net::Origin::Absent) {
      net::ZoneOptions zo = m_options.reread.zone;
      zo.families = z.family == net::Family::V4 ? net::Families::V4 : net::Families::V6;
      try {
        z.lines = net::parse_zone(r.body, z.country + " " + net::family_name(z.family) + " (handed over)", zo,
                                  z.nets)
                      .lines;
      } catch (const ParseError& e) {
        z.nets = {};
        z.origin = net::Origin::Failed;
        z.error = std::string("refused on re-validation: ") + e.what();
        log::warning(z.country + " " + net::family_name(z.family) + ": " + z.error);
      }
    }
    zones.push_back(std::move(z));
  }
  return zones;
}

std::optional<net::CacheReport>
SeparatedSource::cache(std::int64_t now) const
{
  if (!m_options.read_cache_here) {
    // What the sources' cache() reads is their metadata and the hashes of
    // their cached files (no parsing of network data), here as for the
    // mirror below; a bundle or GeoLite2 zip keeps no cache.
    return m_make_inner(m_options.dir, m_options.file, [](const std::string& f) { return f; })->cache(now);
  }
  fetch::FetchOptions o = m_options.reread;
  o.cache_dir = m_options.dir;
  return fetch::HttpSource(o).cache(now);
}

} // namespace geoblock::cli
