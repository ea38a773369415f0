#include "util/clock.hpp"

#include <ctime>

namespace geoblock::util {

std::int64_t
system_unix_time()
{
  return static_cast<std::int64_t>(std::time(nullptr));
}

} // namespace geoblock::util
