#include "util/lock.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <thread>

namespace geoblock::util {

FileLock::FileLock(const std::string& path, std::chrono::milliseconds wait) : m_path(path)
{
  m_fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!m_fd) {
    throw Error("cannot open lock file " + path + ": " + std::strerror(errno));
  }
  // Polling LOCK_NB rather than a blocking flock under alarm(): no signal
  // handlers to install in a library, and the wait stays bounded.
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    if (::flock(m_fd.get(), LOCK_EX | LOCK_NB) == 0) {
      return;
    }
    const int e = errno;
    if (e != EWOULDBLOCK && e != EINTR) {
      throw Error("cannot lock " + path + ": " + std::strerror(e));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      const auto secs = std::chrono::duration_cast<std::chrono::duration<double>>(wait).count();
      char waited[32];
      std::snprintf(waited, sizeof waited, "%g", secs);
      throw Error("another geoblock run holds the lock " + path + "; gave up after waiting " + waited + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

} // namespace geoblock::util
