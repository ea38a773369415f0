#include "core/error.hpp"

namespace geoblock {

std::string
ParseError::format(const std::string& source, std::size_t line, const std::string& text,
                   const std::string& problem)
{
  // Keep the message on one line whatever the input holds: control
  // characters are shown escaped, long text is cut.
  std::string shown;
  for (unsigned char c : text.substr(0, 80)) {
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      shown += "\\x";
      shown += hex[c >> 4];
      shown += hex[c & 15];
    } else {
      shown += static_cast<char>(c);
    }
  }
  if (text.size() > 80) {
    shown += "...";
  }
  return source + ":" + std::to_string(line) + ": " + problem + ": '" + shown + "'";
}

} // namespace geoblock
