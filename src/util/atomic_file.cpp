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
  m_fd = ::mkostemp(m_tmp_path.data(), O_CLOEXEC);
  if (m_fd < 0) {
    fail(m_path, "create a temporary file");
  }
}

AtomicFile::~AtomicFile()
{
  if (m_fd >= 0) {
    ::close(m_fd);
    ::unlink(m_tmp_path.c_str());
  }
}

void
AtomicFile::write(std::string_view data)
{
  if (m_fd < 0) {
    throw Error(m_path + ": write after commit");
  }
  while (!data.empty()) {
    const ssize_t n = ::write(m_fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(m_path, "write");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void
AtomicFile::commit(DirSync dir_sync)
{
  if (m_fd < 0) {
    throw Error(m_path + ": committed twice");
  }
  // fsync before rename: otherwise a crash can leave the new name pointing
  // at an empty or partial file on some file systems.
  if (::fchmod(m_fd, static_cast<mode_t>(m_mode)) != 0) {
    fail(m_path, "write");
  }
  if (m_mtime >= 0) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(m_mtime), 0}};
    if (::futimens(m_fd, times) != 0) {
      fail(m_path, "set the modification time of");
    }
  }
  if (::fsync(m_fd) != 0) {
    fail(m_path, "write");
  }
  if (::close(m_fd) != 0) {
    m_fd = -1;
    ::unlink(m_tmp_path.c_str());
    fail(m_path, "write");
  }
  m_fd = -1;
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
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    fail(path, "create a temporary file");
  }
  m_files.push_back({tmp, path});
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      ::close(fd);
      fail(path, "write");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (mtime >= 0) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(mtime), 0}};
    if (::futimens(fd, times) != 0) {
      ::close(fd);
      fail(path, "set the modification time of");
    }
  }
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0 || ::close(fd) != 0) {
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
  const int dfd = ::open(first_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    fail(first_dir, "open directory");
  }
  const int synced = ::syncfs(dfd);
  ::close(dfd);
  if (synced != 0) {
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
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    fail(dir, "open directory");
  }
  int synced = 0;
  do {
    synced = ::fsync(dfd);
  } while (synced != 0 && errno == EINTR);
  const int err = errno;
  ::close(dfd);
  // A file system that cannot sync directories at all says EINVAL (or
  // EOPNOTSUPP, ENOSYS: some network and FUSE ones); there a rename is as
  // durable as it makes it. Anything else (EIO, ENOSPC, EDQUOT) means the
  // renames in `dir` may not survive a crash: the caller must know.
  if (synced != 0 && err != EINVAL && err != EOPNOTSUPP && err != ENOSYS) {
    errno = err;
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
