// The wall clock, behind a function so that tests can set the time instead
// of waiting for it to pass.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace geoblock::util {

// Returns the current unix time in seconds.
using UnixClock = std::function<std::int64_t()>;

// The system's clock (time(2)).
std::int64_t system_unix_time();

// "2026-12-02 05:01 UTC" for unix time `t`; "unknown" for t <= 0 (a time
// never recorded).
std::string format_utc(std::int64_t t);

} // namespace geoblock::util
