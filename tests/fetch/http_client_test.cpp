// The HTTP client's decisions on the fake network and clock
// (support/fake_http.hpp): what is retried and what not, after how long
// (backoff, Retry-After), how many run at once, the size limit, what each
// response ends as. Every time here is the fake clock's, so the waits are
// exact and cost nothing: minutes of backoff run in microseconds. The real
// transport's side (libcurl on sockets) is proven in fault_test.cpp and
// nginx_test.cpp.
#include "fetch/http_client.hpp"
#include "support/fake_http.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace geoblock::test {
namespace {

using fetch::HttpAttempt;
using std::chrono::milliseconds;
using Failure = HttpAttempt::Failure;

std::vector<fetch::HttpRequest>
requests_for(int n)
{
  std::vector<fetch::HttpRequest> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({"http://mirror.test/" + std::to_string(i) + ".zone", "", ""});
  }
  return out;
}

const std::string k_url = "http://mirror.test/nz.zone";

class HttpClient : public ::testing::Test {
protected:
  // One request to k_url, answered by `handler`.
  fetch::HttpResponse get_one(FakeTransport::Handler handler)
  {
    transport.emplace(clock, std::move(handler));
    options.seams = {&*transport, &clock};
    const auto responses = fetch::http_get_all({{k_url, "", ""}}, options, {}, &stats);
    EXPECT_EQ(responses.size(), 1u);
    return responses.empty() ? fetch::HttpResponse{} : responses[0];
  }
  // The gaps between the attempts at k_url, in fake time.
  std::vector<milliseconds> gaps() const
  {
    std::vector<milliseconds> out;
    const auto calls = transport->calls(k_url);
    for (std::size_t i = 1; i < calls.size(); ++i) {
      out.push_back(calls[i].at - calls[i - 1].at);
    }
    return out;
  }

  FakeClock clock;
  std::optional<FakeTransport> transport;
  fetch::HttpOptions options;
  fetch::HttpStats stats;
};

TEST_F(HttpClient, RetriesTimeoutsServerErrorsAnd429WithExponentialBackoff)
{
  options.retries = 3;
  options.retry_delay_ms = 1'000;
  const auto r = get_one([](const FakeCall& c) {
    switch (c.hit) {
    case 1:
      return failure(Failure::Transient, "Operation timed out after 60000 milliseconds");
    case 2:
      return answer(500, "oops");
    case 3:
      return answer(429); // no Retry-After: the backoff alone
    default:
      return answer(200, "192.0.2.0/24\n");
    }
  });
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "192.0.2.0/24\n");
  EXPECT_EQ(r.attempts, 4);
  EXPECT_EQ(stats.transfers, 4u);
  EXPECT_EQ(stats.retries, 3u);
  // 1 s x 2^(n-1), times a jitter factor in [0.5, 1.5).
  const auto g = gaps();
  ASSERT_EQ(g.size(), 3u);
  for (std::size_t i = 0; i < g.size(); ++i) {
    const long base = 1'000L << i;
    EXPECT_GE(g[i].count(), base / 2) << "retry " << i + 1;
    EXPECT_LE(g[i].count(), base * 3 / 2) << "retry " << i + 1;
  }
  EXPECT_EQ(clock.slept(), g[0] + g[1] + g[2]) << "only the backoff was waited for";
}

TEST_F(HttpClient, GivesUpAfterTheRetriesSayingHowOftenItTried)
{
  options.retries = 2;
  auto r = get_one([](const FakeCall&) { return failure(Failure::Transient, "Connection refused"); });
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "Connection refused (after 3 attempts)");
  EXPECT_EQ(transport->calls().size(), 3u);
  // A server error stays what it is: the caller reads the status.
  r = get_one([](const FakeCall&) { return answer(503, "<html>busy</html>"); });
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "") << "an error page is not data";
  EXPECT_EQ(r.attempts, 3);
}

TEST_F(HttpClient, NeverRetriesOther4xxPermanentFailuresOrTooLargeBodies)
{
  options.retries = 3;
  for (const long status : {400L, 403L, 404L, 410L}) {
    const auto r = get_one([status](const FakeCall&) { return answer(status, "no"); });
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.attempts, 1) << status;
  }
  auto r = get_one([](const FakeCall&) {
    return failure(Failure::Permanent, "SSL peer certificate or SSH remote key was not OK");
  });
  EXPECT_EQ(r.error, "SSL peer certificate or SSH remote key was not OK");
  EXPECT_EQ(r.attempts, 1);
  r = get_one([](const FakeCall&) { return failure(Failure::TooLarge, "whatever the transport says"); });
  EXPECT_TRUE(r.too_large);
  EXPECT_EQ(r.error, "body larger than the limit of 8388608 bytes");
  EXPECT_EQ(r.attempts, 1);
}

TEST_F(HttpClient, TheSizeLimitHoldsWhateverTheTransportHandsOver)
{
  options.max_bytes = 10;
  auto r = get_one([](const FakeCall&) { return answer(200, "0123456789"); });
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.body, "0123456789");
  r = get_one([](const FakeCall&) { return answer(200, "0123456789A"); });
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.too_large);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.error, "body larger than the limit of 10 bytes");
  EXPECT_EQ(r.attempts, 1);
}

// ipdeny answers bursts with 503 and Retry-After: the retry comes no
// sooner than asked (here: exactly then, the backoff being shorter), and
// no later than max_retry_after_ms. Only 429 and 503 are taken at their
// word.
TEST_F(HttpClient, RetryAfterIsWaitedOutExactlyAndCapped)
{
  options.retry_delay_ms = 10;
  const auto busy = [](long status, long seconds, milliseconds takes) {
    return [=](const FakeCall& c) {
      if (c.hit > 1) {
        return answer(200, "x\n");
      }
      FakeAnswer a = answer(status);
      a.attempt.retry_after_s = seconds;
      a.takes = takes;
      return a;
    };
  };
  auto r = get_one(busy(503, 1, milliseconds(0)));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(gaps(), std::vector<milliseconds>{milliseconds(1'000)});
  // Counted from the answer, not from the request.
  r = get_one(busy(429, 2, milliseconds(250)));
  EXPECT_EQ(gaps(), std::vector<milliseconds>{milliseconds(2'250)});
  // An hour asked for: five minutes given.
  r = get_one(busy(503, 3'600, milliseconds(0)));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(gaps(), std::vector<milliseconds>{milliseconds(300'000)});
  // A 500's Retry-After is not one the client honours: the backoff.
  r = get_one(busy(500, 60, milliseconds(0)));
  ASSERT_EQ(gaps().size(), 1u);
  EXPECT_LE(gaps()[0], milliseconds(15));
  EXPECT_EQ(r.retry_after_s, 0) << "of the last attempt";
}

TEST_F(HttpClient, OtherTransfersGoOnWhileOneWaitsForItsRetry)
{
  options.parallel = 2;
  FakeTransport net(clock, [](const FakeCall& c) {
    if (c.url.ends_with("/0.zone") && c.hit == 1) {
      FakeAnswer a = answer(503);
      a.attempt.retry_after_s = 10;
      return a;
    }
    FakeAnswer a = answer(200, "x\n");
    a.takes = milliseconds(100);
    return a;
  });
  options.seams = {&net, &clock};
  const auto reqs = requests_for(5);
  const auto responses = fetch::http_get_all(reqs, options);
  for (const auto& r : responses) {
    EXPECT_EQ(r.status, 200) << r.error;
  }
  const auto retried = net.calls(reqs[0].url);
  ASSERT_EQ(retried.size(), 2u);
  EXPECT_EQ(retried[1].at, milliseconds(10'000));
  for (std::size_t i = 1; i < reqs.size(); ++i) {
    EXPECT_LT(net.calls(reqs[i].url).at(0).at, milliseconds(10'000)) << reqs[i].url;
  }
  EXPECT_EQ(clock.elapsed(), milliseconds(10'100)) << "the retry's own 100 ms, nothing waited in vain";
}

TEST_F(HttpClient, AtMostParallelAtOnceAndAlwaysThatMany)
{
  options.parallel = 3;
  FakeTransport net(clock, [](const FakeCall&) {
    FakeAnswer a = answer(200, "x\n");
    a.takes = milliseconds(100);
    return a;
  });
  options.seams = {&net, &clock};
  const auto responses = fetch::http_get_all(requests_for(10), options);
  EXPECT_EQ(responses.size(), 10u);
  EXPECT_EQ(net.peak_in_flight(), 3u);
  // 10 answers of 100 ms, 3 at a time: 4 rounds, no slot left idle.
  EXPECT_EQ(clock.elapsed(), milliseconds(400));
  // Started in request order.
  for (std::size_t i = 0; i < net.calls().size(); ++i) {
    EXPECT_EQ(net.calls()[i].url, requests_for(10)[i].url);
  }
}

// The client waits on the transport until something finishes (or a retry
// is due); a client that asks to wait no time at all while requests are
// queued behind busy slots spins, and the fake network throws.
TEST_F(HttpClient, WaitingForSlowAnswersNeverSpins)
{
  options.parallel = 2;
  options.retries = 0;
  FakeTransport net(clock, [](const FakeCall&) {
    FakeAnswer a = answer(200, "1.2.3");
    a.takes = milliseconds(300);
    return a;
  });
  options.seams = {&net, &clock};
  const auto responses = fetch::http_get_all(requests_for(12), options);
  for (const auto& r : responses) {
    EXPECT_EQ(r.body, "1.2.3");
  }
  EXPECT_EQ(clock.elapsed(), milliseconds(1'800));
  EXPECT_LE(net.waits(), 12) << "one wait per pair of answers, at most one per answer";
  EXPECT_EQ(clock.sleeps(), 0) << "nothing to sleep for: the transport waits";
}

TEST_F(HttpClient, ABurstOf503sEndsInBackoffAndSuccess)
{
  // The first six requests of a 12-zone run get 503 with Retry-After: 1;
  // with the default parallelism every zone arrives, and none is asked
  // again before its second is over.
  FakeTransport net(clock, [n = 0](const FakeCall&) mutable {
    if (++n <= 6) {
      FakeAnswer a = answer(503, "Service Temporarily Unavailable");
      a.attempt.retry_after_s = 1;
      return a;
    }
    FakeAnswer a = answer(200, "x\n");
    a.takes = milliseconds(20);
    return a;
  });
  options.seams = {&net, &clock};
  const auto reqs = requests_for(12);
  const auto responses = fetch::http_get_all(reqs, options);
  for (const auto& r : responses) {
    EXPECT_EQ(r.status, 200) << r.error;
  }
  int retried = 0;
  for (const auto& req : reqs) {
    const auto calls = net.calls(req.url);
    for (std::size_t i = 1; i < calls.size(); ++i) {
      EXPECT_GE(calls[i].at - calls[i - 1].at, milliseconds(1'000)) << req.url;
      ++retried;
    }
  }
  EXPECT_EQ(retried, 6);
  EXPECT_EQ(net.peak_in_flight(), 4u);
}

TEST_F(HttpClient, TheResponseIsTheLastAttemptsAndEachIsReportedOnceWhenDone)
{
  FakeTransport net(clock, [](const FakeCall& c) {
    if (c.url.ends_with("/0.zone") && c.hit == 1) {
      FakeAnswer a = answer(503, "busy");
      a.attempt.etag = "\"old\"";
      a.attempt.bytes = 4;
      return a;
    }
    FakeAnswer a = answer(200, "x\n");
    a.attempt.etag = "\"v2\"";
    a.attempt.last_modified_http = "Tue, 24 Nov 2026 10:00:00 GMT";
    a.attempt.last_modified = 1'795'514'400;
    a.takes = milliseconds(c.url.ends_with("/1.zone") ? 50 : 10);
    return a;
  });
  options.seams = {&net, &clock};
  options.retry_delay_ms = 100;
  std::vector<std::size_t> done;
  const auto responses = fetch::http_get_all(
      requests_for(2), options, [&done](std::size_t i, const fetch::HttpResponse&) { done.push_back(i); },
      &stats);
  EXPECT_EQ(done, (std::vector<std::size_t>{1, 0})) << "1 is done at 50 ms, 0 retries after its backoff";
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].etag, "\"v2\"");
  EXPECT_EQ(responses[0].last_modified_http, "Tue, 24 Nov 2026 10:00:00 GMT");
  EXPECT_EQ(responses[0].last_modified, 1'795'514'400);
  EXPECT_EQ(responses[0].attempts, 2);
  EXPECT_EQ(responses[0].bytes, 4u + 2u) << "bytes count every attempt";
  EXPECT_EQ(stats.bytes, 4u + 2u + 2u);
  EXPECT_EQ(stats.transfers, 3u);
  EXPECT_EQ(stats.retries, 1u);
}

} // namespace
} // namespace geoblock::test
