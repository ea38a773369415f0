#include "util/file.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace geoblock::util {

InputFile::InputFile(const std::string& path) : m_name(path == "-" ? "<stdin>" : path)
{
  if (path == "-") {
    return;
  }
  m_owned.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!m_owned) {
    throw Error(path + ": cannot open: " + std::strerror(errno));
  }
}

std::size_t
InputFile::size_hint() const
{
  struct stat st {};
  return fstat(fd(), &st) == 0 && S_ISREG(st.st_mode) ? static_cast<std::size_t>(st.st_size) : 0;
}

void
InputFile::for_each_chunk(const std::function<void(std::string_view)>& sink, std::size_t chunk)
{
  std::vector<char> buf(chunk);
  for (;;) {
    const ssize_t n = ::read(fd(), buf.data(), buf.size());
    if (n == 0) {
      return;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw Error(m_name + ": cannot read: " + std::strerror(errno));
    }
    sink(std::string_view(buf.data(), static_cast<std::size_t>(n)));
  }
}

std::string
read_file(const std::string& path)
{
  InputFile in(path);
  std::string data;
  data.reserve(in.size_hint());
  in.for_each_chunk([&](std::string_view piece) { data.append(piece); }, std::size_t{1} << 16);
  return data;
}

std::string
read_untrusted_file(const std::string& path, std::size_t max_bytes)
{
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd) {
    throw Error(path + ": cannot open: " + (errno == ELOOP ? "a symbolic link" : std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    throw Error(path + ": cannot stat: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw Error(path + ": not a regular file");
  }
  if (st.st_nlink != 1) {
    throw Error(path + ": has " + std::to_string(st.st_nlink) + " hard links (expected 1)");
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    throw Error(path + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  std::string data;
  data.reserve(static_cast<std::size_t>(st.st_size));
  std::vector<char> buf(std::size_t{1} << 16);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n == 0) {
      return data;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw Error(path + ": cannot read: " + std::strerror(errno));
    }
    if (data.size() + static_cast<std::size_t>(n) > max_bytes) {
      throw Error(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    data.append(buf.data(), static_cast<std::size_t>(n));
  }
}

} // namespace geoblock::util
