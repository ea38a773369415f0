// A private temporary directory (mkdtemp), removed with its contents when
// the object goes away.
#pragma once

#include <string>

namespace geoblock::test {

class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return m_path; }
  std::string operator/(const std::string& name) const { return m_path + "/" + name; }
  // Writes `content` to `name` (relative to the directory); returns the path.
  std::string write(const std::string& name, const std::string& content, unsigned mode = 0644) const;

private:
  std::string m_path;
};

} // namespace geoblock::test
