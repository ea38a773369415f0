#include "privsep/hand_over.hpp"

#include "core/error.hpp"
#include "util/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace geoblock::privsep {

namespace {

bool
same_file(const std::string& path, int fd)
{
  struct stat a {
  }, b{};
  return ::stat(path.c_str(), &a) == 0 && ::fstat(fd, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

} // namespace

void
hand_over(const std::string& dir, const util::Account& to, const std::vector<std::string>& folders)
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
  // The fetcher looks up its folders in it (also through /proc/self/fd,
  // which does not spare it the search permission of this directory).
  if ((st.st_mode & S_IXOTH) == 0 && ::chmod(dir.c_str(), (st.st_mode & 07777) | S_IXOTH) != 0) {
    throw Error(dir + ": cannot make it searchable: " + std::strerror(errno));
  }
  for (const std::string& sub : folders) {
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

std::string
reach(const std::string& real, int fd, const std::string& probe, int access_mode)
{
  if (same_file(real, fd) && ::access(probe.c_str(), access_mode) == 0) {
    return real;
  }
  return util::fd_path(fd);
}

std::string
readable_copy(const std::string& real, int fd, std::vector<util::UniqueFd>& keep)
{
  if (same_file(real, fd) && ::access(real.c_str(), R_OK) == 0) {
    return real;
  }
  util::UniqueFd copy(::memfd_create("geoblock-source", MFD_CLOEXEC));
  if (!copy) {
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
    if (!util::write_all(copy.get(), std::string_view(buf, static_cast<std::size_t>(n)))) {
      throw Error(real + ": cannot copy for reading: " + std::strerror(errno));
    }
  }
  const std::string path = util::fd_path(copy.get());
  keep.push_back(std::move(copy));
  return path;
}

} // namespace geoblock::privsep
