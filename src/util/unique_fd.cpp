#include "util/unique_fd.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace geoblock::util {

void
UniqueFd::reset(int fd) noexcept
{
  if (m_fd >= 0 && m_fd != fd) {
    ::close(m_fd);
  }
  m_fd = fd;
}

int
UniqueFd::close() noexcept
{
  if (m_fd < 0) {
    return 0;
  }
  // Not retried after EINTR: Linux has released the number already, and a
  // second close could hit a descriptor another thread just opened.
  const int r = ::close(m_fd);
  m_fd = -1;
  return r;
}

Pipe
make_pipe(const std::string& what)
{
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw Error(what + ": " + std::strerror(errno));
  }
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

UniqueFd
memory_file(std::string_view bytes, const char* name, const std::string& what)
{
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd || !write_all(fd.get(), bytes)) {
    throw Error(what + ": " + std::strerror(errno));
  }
  return fd;
}

std::string
fd_path(int fd)
{
  return "/proc/self/fd/" + std::to_string(fd);
}

bool
write_all(int fd, std::string_view data)
{
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

} // namespace geoblock::util
