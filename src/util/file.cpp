#include "util/file.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace geoblock::util {

InputFile::InputFile(const std::string& path) : m_name(path == "-" ? "<stdin>" : path)
{
  if (path == "-") {
    m_fd = STDIN_FILENO;
    return;
  }
  m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m_fd < 0) {
    throw Error(path + ": cannot open: " + std::strerror(errno));
  }
  m_owned = true;
}

InputFile::~InputFile()
{
  if (m_owned) {
    ::close(m_fd);
  }
}

std::size_t
InputFile::size_hint() const
{
  struct stat st {};
  return fstat(m_fd, &st) == 0 && S_ISREG(st.st_mode) ? static_cast<std::size_t>(st.st_size) : 0;
}

void
InputFile::for_each_chunk(const std::function<void(std::string_view)>& sink, std::size_t chunk)
{
  std::vector<char> buf(chunk);
  for (;;) {
    const ssize_t n = ::read(m_fd, buf.data(), buf.size());
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

} // namespace geoblock::util
