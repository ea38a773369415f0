#include "util/temp_dir.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace geoblock::util {

TempDir::TempDir(const std::string& prefix)
{
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (!::mkdtemp(templ.data())) {
    throw Error("cannot create a temporary directory in " + templ.substr(0, templ.rfind('/')) + ": " +
                std::strerror(errno));
  }
  m_path = templ;
}

TempDir::~TempDir()
{
  std::error_code ec;
  std::filesystem::remove_all(m_path, ec);
}

} // namespace geoblock::util
