#include "support/temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <sys/stat.h>

namespace geoblock::test {

TempDir::TempDir() : util::TempDir("geoblock-test")
{
  ::chmod(path().c_str(), 0755);
}

std::string
TempDir::write(const std::string& name, const std::string& content, unsigned mode) const
{
  const std::string p = *this / name;
  std::filesystem::create_directories(std::filesystem::path(p).parent_path());
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ::chmod(p.c_str(), mode);
  return p;
}

} // namespace geoblock::test
