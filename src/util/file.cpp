#include "util/file.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace geoblock::util {

namespace {

std::string read_fd(int fd, const std::string& name)
{
  std::string data;
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    data.reserve(static_cast<std::size_t>(st.st_size));
  }
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw Error(name + ": cannot read: " + std::strerror(errno));
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}

} // namespace

std::string read_file(const std::string& path)
{
  if (path == "-") {
    return read_fd(STDIN_FILENO, "<stdin>");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(path + ": cannot open: " + std::strerror(errno));
  }
  try {
    std::string data = read_fd(fd, path);
    ::close(fd);
    return data;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

std::string read_stream(std::FILE* f, const std::string& name)
{
  return read_fd(fileno(f), name);
}

} // namespace geoblock::util
