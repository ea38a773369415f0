// A private temporary directory for a test (util::TempDir), with a helper
// to write files into it.
#pragma once

#include "util/temp_dir.hpp"

#include <string>

namespace geoblock::test {

class TempDir : public util::TempDir {
public:
  // Searchable and readable by others (0755, not mkdtemp's 0700): a test
  // that runs geoblock as root has its downloads done by the unprivileged
  // fetch-user (docs/security.md), which must read a file:// mirror here.
  TempDir();
  // Writes `content` to `name` (relative to the directory, parents
  // created); returns the path.
  std::string write(const std::string& name, const std::string& content, unsigned mode = 0644) const;
};

} // namespace geoblock::test
