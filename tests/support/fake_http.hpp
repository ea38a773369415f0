// The HTTP client's seams faked (ninja's DiskInterface style): a clock
// that only moves when the code under test waits on it, and a network of
// scripted answers that take no real time. With them, retries, backoff,
// Retry-After, the parallel bound and the size limit are tested exactly
// and in microseconds; the real transport is proven against nginx and the
// fault-injecting server (http_nginx.hpp, http_fault.hpp).
#pragma once

#include "fetch/http_client.hpp"
#include "util/clock.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace geoblock::test {

// Starts at an arbitrary moment and moves only through sleep_until() (the
// code under test waiting) and advance_to() (the fake transport letting
// an answer take its time). Thread-safe: a server thread may read it.
class FakeClock final : public util::MonotonicClock {
public:
  time_point now() override
  {
    std::lock_guard lock(m_mutex);
    return m_now;
  }
  void sleep_until(time_point t) override
  {
    std::lock_guard lock(m_mutex);
    ++m_sleeps;
    if (t > m_now) {
      m_slept += t - m_now;
      m_now = t;
    }
  }
  void advance_to(time_point t)
  {
    std::lock_guard lock(m_mutex);
    if (t > m_now) {
      m_now = t;
    }
  }
  // Time since the start, in milliseconds (what tests compare).
  std::chrono::milliseconds elapsed()
  {
    std::lock_guard lock(m_mutex);
    return std::chrono::duration_cast<std::chrono::milliseconds>(m_now - k_start);
  }
  // How often, and how long in all, the code under test slept.
  int sleeps()
  {
    std::lock_guard lock(m_mutex);
    return m_sleeps;
  }
  std::chrono::milliseconds slept()
  {
    std::lock_guard lock(m_mutex);
    return std::chrono::duration_cast<std::chrono::milliseconds>(m_slept);
  }

private:
  static constexpr time_point k_start = time_point{} + std::chrono::hours(1);
  std::mutex m_mutex;
  time_point m_now = k_start;
  time_point::duration m_slept{};
  int m_sleeps = 0;
};

// One request as the fake network saw it start.
struct FakeCall {
  std::string url;
  std::string etag;                // If-None-Match sent
  std::string last_modified;       // If-Modified-Since sent
  int hit = 0;                     // 1 for the first attempt at this URL, 2 for the second, ...
  std::chrono::milliseconds at{0}; // FakeClock::elapsed() when it started
};

// What the network answers an attempt, and how long that takes (on the
// FakeClock).
struct FakeAnswer {
  fetch::HttpAttempt attempt;
  std::chrono::milliseconds takes{0};
};

// An answer of `status` with `body` (a complete response).
inline FakeAnswer
answer(long status, std::string body = "")
{
  FakeAnswer a;
  a.attempt.status = status;
  a.attempt.bytes = body.size();
  a.attempt.body = std::move(body);
  return a;
}

// A failed attempt: a transient one (timeout, cut) or not.
inline FakeAnswer
failure(fetch::HttpAttempt::Failure kind, std::string error)
{
  FakeAnswer a;
  a.attempt.failure = kind;
  a.attempt.error = std::move(error);
  return a;
}

// The network: each started attempt gets the handler's answer at once;
// it finishes when the clock reaches its start plus `takes`. wait() moves
// the clock to the first attempt to finish, or by `at_most` when none
// does sooner. A client that keeps waiting for nothing without letting
// time pass (a busy loop) makes wait() throw after a while instead of
// hanging the test.
class FakeTransport final : public fetch::HttpTransport {
public:
  using Handler = std::function<FakeAnswer(const FakeCall&)>;

  FakeTransport(FakeClock& clock, Handler handler) : m_clock(clock), m_handler(std::move(handler)) {}

  void start(std::size_t id, const fetch::HttpRequest& request, const fetch::HttpOptions&) override
  {
    FakeCall call{request.url, request.etag, request.last_modified, ++m_hits[request.url], m_clock.elapsed()};
    m_calls.push_back(call);
    FakeAnswer a = m_handler(call);
    m_flight.push_back({id, m_clock.now() + a.takes, std::move(a.attempt)});
    m_peak = std::max(m_peak, m_flight.size());
  }

  Finished wait(std::chrono::milliseconds at_most) override
  {
    ++m_waits;
    const auto now = m_clock.now();
    auto first = util::MonotonicClock::time_point::max();
    for (const InFlight& f : m_flight) {
      first = std::min(first, f.done);
    }
    const auto limit = now + std::max(at_most, std::chrono::milliseconds(0));
    if (first > limit) {
      if (limit == now && ++m_idle_in_a_row > 1000) {
        throw std::logic_error("FakeTransport: waited 1000 times in a row for nothing, letting no time pass "
                               "(a busy loop)");
      }
      m_clock.advance_to(limit);
      return {};
    }
    m_idle_in_a_row = 0;
    m_clock.advance_to(first);
    Finished done;
    for (auto it = m_flight.begin(); it != m_flight.end();) {
      if (it->done <= first) {
        done.emplace_back(it->id, std::move(it->attempt));
        it = m_flight.erase(it);
      } else {
        ++it;
      }
    }
    return done;
  }

  const std::vector<FakeCall>& calls() const { return m_calls; }
  // The calls of one URL, oldest first.
  std::vector<FakeCall> calls(const std::string& url) const
  {
    std::vector<FakeCall> out;
    for (const FakeCall& c : m_calls) {
      if (c.url == url) {
        out.push_back(c);
      }
    }
    return out;
  }
  std::size_t peak_in_flight() const { return m_peak; }
  std::size_t in_flight() const { return m_flight.size(); }
  int waits() const { return m_waits; }

private:
  struct InFlight {
    std::size_t id;
    util::MonotonicClock::time_point done;
    fetch::HttpAttempt attempt;
  };
  FakeClock& m_clock;
  Handler m_handler;
  std::vector<FakeCall> m_calls;
  std::map<std::string, int> m_hits;
  std::vector<InFlight> m_flight;
  std::size_t m_peak = 0;
  int m_waits = 0;
  int m_idle_in_a_row = 0;
};

// Options whose seams are `transport` and `clock`.
inline fetch::HttpOptions
fake_http_options(FakeTransport& transport, FakeClock& clock)
{
  fetch::HttpOptions o;
  o.seams.transport = &transport;
  o.seams.clock = &clock;
  return o;
}

} // namespace geoblock::test
