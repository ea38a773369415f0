// A private temporary directory (mkdtemp under $TMPDIR or /tmp, mode 0700,
// never a predictable name), removed with its contents by the destructor.
#pragma once

#include <string>

namespace geoblock::util {

class TempDir {
public:
  // `prefix` starts the directory's name ("geoblock-dry-run"). Throws Error.
  explicit TempDir(const std::string& prefix = "geoblock");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return m_path; }
  std::string operator/(const std::string& name) const { return m_path + "/" + name; }

private:
  std::string m_path;
};

} // namespace geoblock::util
