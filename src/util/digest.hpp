// Message digests of whole buffers, as lower-case hex.
#pragma once

#include <string>
#include <string_view>

namespace geoblock::util {

std::string sha256_hex(std::string_view data);
std::string md5_hex(std::string_view data); // only to compare with upstream MD5SUM files

// "libcrypto 3.0.19": the OpenSSL libcrypto this process runs with, and the
// version built against when that differs (for geoblock --version).
std::string libcrypto_version();

} // namespace geoblock::util
