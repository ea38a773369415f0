// Whole-file and chunked reading with errors that name the file.
#pragma once

#include "util/unique_fd.hpp"

#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace geoblock::util {

// An open input file ("-" is standard input, which is not closed).
class InputFile {
public:
  // Throws Error naming the file and the system's reason.
  explicit InputFile(const std::string& path);

  // "<stdin>" or the path, for messages.
  const std::string& name() const { return m_name; }
  // The size of a regular file, else 0: a hint for reserving.
  std::size_t size_hint() const;
  // Feeds the rest of the file to `sink` in pieces of at most `chunk`
  // bytes, so a large input is never held whole. Throws Error on a read
  // error.
  void for_each_chunk(const std::function<void(std::string_view)>& sink,
                      std::size_t chunk = std::size_t{1} << 18);

private:
  int fd() const { return m_owned ? m_owned.get() : 0; } // standard input when none is owned

  std::string m_name;
  UniqueFd m_owned; // the file opened; none for standard input
};

// Reads all of `path` ("-" means standard input). Throws Error naming the
// file and the system's reason.
std::string read_file(const std::string& path);

// Reads `path`, a file in a directory that a less trusted process may
// write (the cache the unprivileged fetcher owns; docs/security.md):
// throws Error, without reading, when the last component is a symbolic
// link, the file is not a regular file (a FIFO would block, a device
// could do anything), it has other hard links (a link to a file the
// writer could not read itself), or it is larger than `max_bytes`.
// Open without following the link and without blocking, then check the
// open file: nothing can be swapped in between.
std::string read_untrusted_file(const std::string& path, std::size_t max_bytes);

} // namespace geoblock::util
