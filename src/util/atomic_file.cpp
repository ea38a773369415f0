#include "util/atomic_file.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace geoblock::util {

namespace {

std::string
dir_of(const std::string& path)
{
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

[[noreturn]] void
fail(const std::string& path, const char* what)
{
  throw Error(path + ": cannot " + what + ": " + std::strerror(errno));
}

} // namespace

AtomicFile::AtomicFile(std::string path, unsigned mode) : m_path(std::move(path)), m_mode(mode)
{
  // Same directory as the target, so rename() is atomic (one file system).
  const auto slash = m_path.rfind('/');
  const std::string base = slash == std::string::npos ? m_path : m_path.substr(slash + 1);
  m_tmp_path = dir_of(m_path) + "/." + base + ".tmp.XXXXXX";
  m_fd.reset(::mkostemp(m_tmp_path.data(), O_CLOEXEC));
  if (!m_fd) {
    fail(m_path, "create a temporary file");
  }
}

AtomicFile::~AtomicFile()
{
  if (m_fd) {
    m_fd.reset();
    ::unlink(m_tmp_path.c_str());
  }
}

void
AtomicFile::write(std::string_view data)
{
  if (!m_fd) {
    throw Error(m_path + ": write after commit");
  }
  if (!write_all(m_fd.get(), data)) {
    fail(m_path, "write");
  }
}

void
AtomicFile::commit(DirSync dir_sync)
{
  if (!m_fd) {
    throw Error(m_path + ": committed twice");
  }
  // fsync before rename: otherwise a crash can leave the new name pointing
  // at an empty or partial file on some file systems.
  if (::fchmod(m_fd.get(), static_cast<mode_t>(m_mode)) != 0) {
    fail(m_path, "write");
  }
  if (m_mtime >= 0) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(m_mtime), 0}};
    if (::futimens(m_fd.get(), times) != 0) {
      fail(m_path, "set the modification time of");
    }
  }
  if (::fsync(m_fd.get()) != 0) {
    fail(m_path, "write");
  }
  if (m_fd.close() != 0) {
    const int saved = errno;
    ::unlink(m_tmp_path.c_str());
    errno = saved;
    fail(m_path, "write");
  }
  if (::rename(m_tmp_path.c_str(), m_path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(m_tmp_path.c_str());
    errno = saved;
    fail(m_path, "replace");
  }
  if (dir_sync == DirSync::Now) {
    sync_dir(dir_of(m_path)); // make the rename itself durable
  }
}

AtomicBatch::~AtomicBatch()
{
  for (const Pending& p : m_files) {
    ::unlink(p.tmp_path.c_str());
  }
}

void
AtomicBatch::add(const std::string& path, std::string_view data, unsigned mode, std::int64_t mtime)
{
  const auto slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string tmp = dir_of(path) + "/." + base + ".tmp.XXXXXX";
  // Closed right away: a batch of a thousand files must not hold a thousand
  // descriptors. syncfs() in commit() needs none of them.
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) {
    fail(path, "create a temporary file");
  }
  m_files.push_back({tmp, path});
  if (!write_all(fd.get(), data)) {
    fail(path, "write");
  }
  if (mtime >= 0) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(mtime), 0}};
    if (::futimens(fd.get(), times) != 0) {
      fail(path, "set the modification time of");
    }
  }
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0 || fd.close() != 0) {
    fail(path, "write");
  }
}

void
AtomicBatch::commit()
{
  if (m_files.empty()) {
    return;
  }
  // Data first, for all files at once: renames must never expose data that
  // is not on disk yet.
  const std::string first_dir = dir_of(m_files.front().path);
  const UniqueFd dfd(::open(first_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) {
    fail(first_dir, "open directory");
  }
  if (::syncfs(dfd.get()) != 0) {
    fail(first_dir, "sync");
  }
  std::vector<std::string> dirs;
  // On a failure the destructor unlinks the temporaries not yet renamed
  // (unlinking the renamed ones' old names is a harmless ENOENT).
  for (const Pending& p : m_files) {
    if (::rename(p.tmp_path.c_str(), p.path.c_str()) != 0) {
      fail(p.path, "replace");
    }
    const std::string dir = dir_of(p.path);
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) {
      dirs.push_back(dir);
    }
  }
  m_files.clear();
  for (const std::string& dir : dirs) {
    sync_dir(dir);
  }
}

void
sync_dir(const std::string& dir)
{
  const UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) {
    fail(dir, "open directory");
  }
  int synced = 0;
  do {
    synced = ::fsync(dfd.get());
  } while (synced != 0 && errno == EINTR);
  // A file system that cannot sync directories at all says EINVAL (or
  // EOPNOTSUPP, ENOSYS: some network and FUSE ones); there a rename is as
  // durable as it makes it. Anything else (EIO, ENOSPC, EDQUOT) means the
  // renames in `dir` may not survive a crash: the caller must know.
  if (synced != 0 && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS) {
    fail(dir, "sync directory");
  }
}

void
write_file_atomic(const std::string& path, std::string_view data, unsigned mode, AtomicFile::DirSync dir_sync)
{
  AtomicFile f(path, mode);
  f.write(data);
  f.commit(dir_sync);
}

void
make_dirs(const std::string& dir, unsigned mode)
{
  if (dir.empty()) {
    return;
  }
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    const std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
      fail(part, "create directory");
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(dir + ": not a directory");
  }
}

} // namespace geoblock::util
