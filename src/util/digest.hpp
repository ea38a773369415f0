// Message digests of whole buffers, as lower-case hex.
#pragma once

#include <string>
#include <string_view>

namespace geoblock::util {

std::string sha256_hex(std::string_view data);
std::string md5_hex(std::string_view data); // only to compare with upstream MD5SUM files

} // namespace geoblock::util
