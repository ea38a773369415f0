// The clocks, behind seams so that tests set the time instead of waiting
// for it to pass: the wall clock (unix time, for data ages and records) and
// a monotonic clock (for timeouts, backoff and other waits).
#pragma once

#include <chrono>
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

// Monotonic time and waiting on it. The real one is the steady clock and
// sleeps; a test's fake (tests/support/fake_http.hpp) moves its now() to
// the time asked for and returns at once, so a wait of minutes costs
// nothing and its length is exact.
class MonotonicClock {
public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~MonotonicClock() = default;
  virtual time_point now() = 0;
  // Returns once now() >= t (at once when it already is).
  virtual void sleep_until(time_point t) = 0;
};

// std::chrono::steady_clock, shared (it holds no state).
MonotonicClock& steady_clock();

} // namespace geoblock::util
