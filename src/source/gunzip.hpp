// gzip-compressed files (`.gz`: iptoasn's ip2asn-v4.tsv.gz, a downloaded
// database). The only user of zlib (src/source/gunzip.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace geoblock::source {

// True when `data` starts with the gzip magic (1f 8b).
bool is_gzip(std::string_view data);

// The decompressed bytes of `data` (one or more gzip members). Throws
// Error naming `name` when the data is not gzip, is damaged or truncated
// (a CRC or length mismatch, a cut stream), or inflates beyond `max_bytes`
// (a decompression bomb).
std::string gunzip(std::string_view data, const std::string& name, std::size_t max_bytes);

// "zlib 1.2.13", for --version.
std::string zlib_library_version();

} // namespace geoblock::source
