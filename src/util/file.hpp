// Whole-file reading with errors that name the file.
#pragma once

#include <cstdio>
#include <string>

namespace geoblock::util {

// Reads all of `path` ("-" means standard input). Throws Error naming the
// file and the system's reason.
std::string read_file(const std::string& path);

// Reads all of an open stream.
std::string read_stream(std::FILE* f, const std::string& name);

} // namespace geoblock::util
