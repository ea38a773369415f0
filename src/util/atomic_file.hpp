// A file replaced atomically: data goes to a temporary file created (mkstemp)
// in the target's directory, and commit() fsyncs it, renames it over the
// target and fsyncs the directory. Until commit() succeeds the target is
// untouched; the destructor of an uncommitted AtomicFile removes the
// temporary file, so a failure or exception never leaves torn data behind.
#pragma once

#include <string>
#include <string_view>

namespace geoblock::util {

class AtomicFile {
public:
  // Creates the temporary file; throws Error naming `path` on failure.
  // `mode` is applied to the final file.
  explicit AtomicFile(std::string path, unsigned mode = 0644);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Throws Error naming the file on a write error.
  void write(std::string_view data);

  // Makes the data the content of `path`. Throws Error naming the file.
  void commit();

  const std::string& path() const { return m_path; }

private:
  std::string m_path;
  std::string m_tmp_path;
  int m_fd = -1;
  unsigned m_mode;
};

// Convenience: replaces `path` with `data` atomically.
void write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644);

// Creates `dir` and its missing parents (like mkdir -p). Throws Error.
void make_dirs(const std::string& dir, unsigned mode = 0755);

} // namespace geoblock::util
