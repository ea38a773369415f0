#include "fetch/mirror.hpp"

#include "core/error.hpp"
#include "fetch/fetcher.hpp"
#include "util/atomic_file.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"

#include <algorithm>
#include <dirent.h>
#include <filesystem>
#include <memory>
#include <optional>
#include <sys/stat.h>

namespace geoblock::fetch {

namespace {

std::optional<std::string>
read_if_exists(const std::string& path)
{
  if (!std::filesystem::is_regular_file(path)) {
    return std::nullopt;
  }
  return util::read_file(path);
}

// Replaces `path` with `text` unless it holds exactly that; true when it
// will be replaced. With a batch, the file changes when the batch commits
// (one sync for all the zones of a run rather than one per file).
bool
replace(const std::string& path, const std::string& text, std::int64_t mtime, const MirrorOptions& options,
        util::AtomicBatch* batch = nullptr)
{
  if (const auto old = read_if_exists(path)) {
    if (*old == text) {
      return false;
    }
    // New content always gets a later mtime than the old one: a web
    // server's ETag (size and mtime) and Last-Modified must change with it,
    // or a client's conditional GET would get a 304 for the old content
    // (an MD5SUM keeps its size when a zone changes; two runs may fall in
    // one second; a source may change data without a new Last-Modified).
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && mtime <= st.st_mtime) {
      mtime = static_cast<std::int64_t>(st.st_mtime) + 1;
    }
  }
  if (batch) {
    batch->add(path, text, 0644, mtime > 0 ? mtime : -1);
    return true;
  }
  util::AtomicFile file(path);
  file.write(text);
  if (mtime > 0) {
    file.set_mtime(mtime);
  }
  file.commit(util::AtomicFile::DirSync::Deferred);
  if (options.on_replace) {
    options.on_replace(path);
  }
  return true;
}

// "<md5>  cc.zone" for every zone file in `dir`, sorted by name.
std::string
md5sum_text(const std::string& dir)
{
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) {
    throw Error(dir + ": cannot list the directory");
  }
  while (const dirent* e = ::readdir(d.get())) {
    const std::string name = e->d_name;
    // Not the temporary files of a replacement (".cc.zone.tmp.XXXXXX").
    if (name.size() > 5 && name[0] != '.' && name.compare(name.size() - 5, 5, ".zone") == 0) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  std::string text;
  for (const std::string& name : names) {
    text += util::md5_hex(util::read_file(dir + "/" + name)) + "  " + name + "\n";
  }
  return text;
}

} // namespace

std::string
zone_text(const net::NetList& nets, net::Family family)
{
  std::string text;
  if (family == net::Family::V4) {
    text.reserve(nets.v4.size() * 16);
    for (const auto& p : nets.v4) {
      net::append_prefix(text, p);
      text += '\n';
    }
  } else {
    text.reserve(nets.v6.size() * 24);
    for (const auto& p : nets.v6) {
      net::append_prefix(text, p);
      text += '\n';
    }
  }
  return text;
}

MirrorSummary
write_mirror(const std::vector<net::ZoneResult>& zones, const std::string& dir, const MirrorOptions& options)
{
  MirrorSummary summary;
  std::vector<std::string> dirs;
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    const std::string md5 = md5sum_url(dir, f);
    dirs.push_back(md5.substr(0, md5.rfind('/')));
  }
  bool used[2] = {false, false};
  util::AtomicBatch batch;
  std::vector<std::string> replaced;
  for (const net::ZoneResult& z : zones) {
    if (z.origin == net::Origin::Failed || z.origin == net::Origin::Absent) {
      ++summary.skipped;
      continue;
    }
    const std::size_t f = net::family_index(z.family);
    if (!used[f]) {
      util::make_dirs(dirs[f]);
      used[f] = true;
    }
    const std::int64_t mtime = z.last_modified > 0 ? z.last_modified
                               : z.fetched_at > 0  ? z.fetched_at
                                                   : options.now;
    const std::string path = zone_url(dir, z.country, z.family);
    if (replace(path, zone_text(z.nets, z.family), mtime, options, &batch)) {
      ++summary.written;
      replaced.push_back(path);
    } else {
      ++summary.unchanged;
    }
  }
  // Every zone in place and durable (the batch syncs their data, renames
  // them and fsyncs their directories), then each directory's MD5SUM.
  batch.commit();
  if (options.on_replace) {
    for (const std::string& path : replaced) {
      options.on_replace(path);
    }
  }
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    const std::size_t i = net::family_index(f);
    if (!used[i]) {
      continue;
    }
    if (replace(md5sum_url(dir, f), md5sum_text(dirs[i]), options.now, options)) {
      ++summary.md5sums;
    }
    util::sync_dir(dirs[i]);
  }
  return summary;
}

} // namespace geoblock::fetch
