#include "util/clock.hpp"

#include <ctime>
#include <thread>

namespace geoblock::util {

namespace {

class SteadyClock final : public MonotonicClock {
public:
  time_point now() override { return std::chrono::steady_clock::now(); }
  void sleep_until(time_point t) override { std::this_thread::sleep_until(t); }
};

} // namespace

MonotonicClock&
steady_clock()
{
  static SteadyClock clock;
  return clock;
}

std::int64_t
system_unix_time()
{
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string
format_utc(std::int64_t t)
{
  if (t <= 0) {
    return "unknown";
  }
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

} // namespace geoblock::util
