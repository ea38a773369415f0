// A process lock: flock(2) on a file, so two geoblock runs never interleave
// their kernel updates. The kernel drops the lock when the process dies, so a
// crashed run never leaves a stale lock behind.
#pragma once

#include "util/unique_fd.hpp"

#include <chrono>
#include <string>

namespace geoblock::util {

class FileLock {
public:
  // Takes an exclusive lock on `path` (created 0600 if missing, parent
  // directory must exist), waiting at most `wait`. Throws Error with a
  // one-line message ("another geoblock run holds PATH; gave up after N s")
  // when the wait runs out, or naming the file and the system's reason when
  // it cannot be opened.
  FileLock(const std::string& path, std::chrono::milliseconds wait);
  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) = delete;

  const std::string& path() const { return m_path; }

private:
  std::string m_path;
  UniqueFd m_fd; // closing it releases the flock
};

} // namespace geoblock::util
