// UniqueFd: the one owner of a file descriptor (ccache's util/Fd). Every
// descriptor geoblock opens and keeps beyond one expression is held by one:
// it closes exactly once, in its destructor or reset(), and cannot be
// copied, so no copy can close a number that has since been reused.
#pragma once

#include <string>
#include <string_view>

namespace geoblock::util {

class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : m_fd(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : m_fd(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept
  {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return m_fd; }
  bool valid() const noexcept { return m_fd >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  // Gives up ownership: the caller closes it (or hands it to a process).
  int release() noexcept
  {
    const int fd = m_fd;
    m_fd = -1;
    return fd;
  }
  // Closes what it holds (its error, if any, is lost: use close() where it
  // matters) and takes `fd`.
  void reset(int fd = -1) noexcept;
  // Closes now and returns close(2)'s result (0, or -1 with errno set): for
  // a written file, whose close may report a failed write-back. The
  // descriptor is gone either way (Linux never leaves it open).
  int close() noexcept;

private:
  int m_fd = -1;
};

// A pipe, both ends close-on-exec. Throws Error naming `what` on failure.
struct Pipe {
  UniqueFd read;
  UniqueFd write;
};
Pipe make_pipe(const std::string& what = "cannot create a pipe");

// An anonymous in-memory file (memfd, close-on-exec) holding `bytes`, for a
// library that opens files by name only (read it through fd_path). Throws
// Error "`what`: <the system's reason>".
UniqueFd memory_file(std::string_view bytes, const char* name, const std::string& what);

// "/proc/self/fd/N": a path that opens what descriptor `fd` refers to.
std::string fd_path(int fd);

// Writes all of `data` to `fd`, retrying after EINTR and short writes.
// Returns false (errno set) on a write error.
bool write_all(int fd, std::string_view data);

} // namespace geoblock::util
