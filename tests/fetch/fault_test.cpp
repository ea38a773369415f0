// The fetcher against our own fault-injecting server: what nginx will not do
// on request, over real sockets and the real (libcurl) transport. Each
// fault must give the right error, leave the last good cached copy
// untouched, and end (retries few; the timeouts short where a fault makes
// them run out, generous where an answer is expected, so that load never
// decides). The waits between attempts are on a fake clock: a Retry-After
// of a second is compared, exactly, on that clock, and costs no time. The
// client's decisions themselves are tested on a fake network too
// (http_client_test.cpp).
#include "fetch/curl_transport.hpp"
#include "fetch/fetcher.hpp"
#include "fetch/http_client.hpp"
#include "fetch_test_util.hpp"
#include "support/fake_http.hpp"
#include "support/http_fault.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace geoblock::test {
namespace {

using net::Family;
using net::Origin;
using Mode = FaultReply::Mode;

const std::string k_good = "192.0.2.0/24\n198.51.100.0/25\n198.51.100.128/25\n203.0.113.0/24\n";
const std::string k_zone_path = "/ipblocks/data/countries/nz.zone";

class FaultFetch : public ::testing::Test {
protected:
  FaultFetch()
      : server([this](const FaultRequest& r) { return handle(r); }),
        options(loopback_options(server.base_url(), dir / "cache"))
  {
    options.retries = 2;
    options.http_seams.clock = &clock;
  }

  FaultReply handle(const FaultRequest& r)
  {
    if (r.path.ends_with("/MD5SUM")) {
      FaultReply sums;
      sums.body = util::md5_hex(k_good) + "  nz.zone\n";
      return sums;
    }
    // Called outside the lock: handlers run on the server's connection
    // threads at once, as a real server's would.
    std::function<FaultReply(const FaultRequest&)> f;
    {
      std::lock_guard lock(mutex);
      f = fault;
    }
    if (f) {
      return f(r);
    }
    FaultReply good;
    good.body = k_good;
    good.headers["ETag"] = "\"v1\"";
    good.headers["Last-Modified"] = "Tue, 24 Nov 2026 10:00:00 GMT";
    return good;
  }

  void set_fault(std::function<FaultReply(const FaultRequest&)> f)
  {
    std::lock_guard lock(mutex);
    fault = std::move(f);
  }

  net::ZoneResult fetch_nz()
  {
    auto results = fetch::fetch_zones({"nz"}, net::Families::V4, options);
    EXPECT_EQ(results.size(), 1u);
    return results.empty() ? net::ZoneResult{} : results[0];
  }

  // A first, good run: the cache holds the last good copy.
  void prime()
  {
    const auto r = fetch_nz();
    ASSERT_EQ(r.origin, Origin::Downloaded) << r.error;
    cached_zone = slurp(cache_zone());
    cached_meta = slurp(cache_meta());
    ASSERT_EQ(cached_zone, k_good);
  }

  std::string cache_zone() const { return fetch::ZoneCache(options.cache_dir).zone_path("nz", Family::V4); }
  std::string cache_meta() const { return fetch::ZoneCache(options.cache_dir).meta_path("nz", Family::V4); }

  // The fault kept the last good copy, used it, and changed nothing on disk.
  void expect_last_good_kept(const net::ZoneResult& r)
  {
    EXPECT_EQ(r.origin, Origin::StaleCache) << r.error;
    EXPECT_EQ(r.networks(), 4u);
    EXPECT_NE(r.error.find("nz"), std::string::npos) << r.error;
    EXPECT_EQ(slurp(cache_zone()), cached_zone);
    EXPECT_EQ(slurp(cache_meta()), cached_meta);
  }

  TempDir dir;
  FakeClock clock; // the waits between attempts
  std::mutex mutex;
  std::function<FaultReply(const FaultRequest&)> fault;
  FaultServer server;
  fetch::FetchOptions options;
  std::string cached_zone;
  std::string cached_meta;
};

FaultReply
status(int code, std::string body = "")
{
  FaultReply r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

TEST_F(FaultFetch, ServerErrorIsRetriedAndThenSucceeds)
{
  set_fault([](const FaultRequest& r) {
    if (r.hit == 1) {
      return status(500, "oops");
    }
    FaultReply ok;
    ok.body = k_good;
    return ok;
  });
  const auto r = fetch_nz();
  EXPECT_EQ(r.origin, Origin::Downloaded) << r.error;
  EXPECT_EQ(r.networks(), 4u);
  EXPECT_EQ(server.hits(k_zone_path), 2);
}

TEST_F(FaultFetch, RetryAfterOn503IsWaitedOutThenTheRetrySucceeds)
{
  // The mirror asks for a second's pause (ipdeny answers bursts with 503);
  // the client's own backoff is 10 ms. The retry comes when asked, on the
  // client's clock: libcurl read the header, the client waited it out.
  std::mutex m;
  std::vector<std::chrono::milliseconds> seen;
  set_fault([&](const FaultRequest& r) {
    {
      std::lock_guard lock(m);
      seen.push_back(clock.elapsed());
    }
    if (r.hit == 1) {
      FaultReply busy = status(503, "busy");
      busy.headers["Retry-After"] = "1";
      return busy;
    }
    return status(200, k_good);
  });
  const auto r = fetch_nz();
  EXPECT_EQ(r.origin, Origin::Downloaded) << r.error;
  std::lock_guard lock(m);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1] - seen[0], std::chrono::milliseconds(1'000));
  EXPECT_EQ(clock.slept(), std::chrono::milliseconds(1'000));
}

TEST_F(FaultFetch, ABurstOf503sWithRetryAfterEndsInBackoffAndSuccess)
{
  // ipdeny answers a burst of parallel requests with 503. Here the first
  // six zone requests of the run get 503 with Retry-After: 1; with the
  // default parallelism every zone must still arrive, and no zone may be
  // asked again before the second it was told to wait is over on the
  // client's clock.
  const std::vector<std::string> countries = {"de", "fr", "it", "es", "pt", "nl",
                                              "be", "lu", "at", "ch", "dk", "se"};
  options.parallel = fetch::FetchOptions{}.parallel;
  EXPECT_EQ(options.parallel, 4); // polite by default
  std::mutex m;
  int zone_requests = 0;
  std::map<std::string, std::vector<std::pair<std::chrono::milliseconds, int>>> seen;
  set_fault([&](const FaultRequest& r) {
    std::lock_guard lock(m);
    const bool busy = ++zone_requests <= 6;
    seen[r.path].emplace_back(clock.elapsed(), busy ? 503 : 200);
    if (busy) {
      FaultReply reply = status(503, "Service Temporarily Unavailable");
      reply.headers["Retry-After"] = "1";
      return reply;
    }
    return status(200, k_good);
  });
  const auto results = fetch::fetch_zones(countries, net::Families::V4, options);
  ASSERT_EQ(results.size(), countries.size());
  for (const auto& r : results) {
    EXPECT_EQ(r.origin, Origin::Downloaded) << r.country << ": " << r.error;
  }
  std::lock_guard lock(m);
  int answered_503 = 0;
  for (const auto& [path, hits] : seen) {
    for (std::size_t i = 0; i + 1 < hits.size(); ++i) {
      if (hits[i].second == 503) {
        ++answered_503;
        EXPECT_GE(hits[i + 1].first - hits[i].first, std::chrono::milliseconds(1'000)) << path;
      }
    }
    EXPECT_EQ(hits.back().second, 200) << path;
  }
  EXPECT_EQ(answered_503, 6);
}

TEST_F(FaultFetch, PersistentServerErrorGivesUpAfterTheRetries)
{
  prime();
  set_fault([](const FaultRequest&) { return status(503); });
  const int before = server.hits(k_zone_path);
  const auto r = fetch_nz();
  expect_last_good_kept(r);
  EXPECT_NE(r.error.find("HTTP 503"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(k_zone_path), std::string::npos) << r.error;
  EXPECT_EQ(server.hits(k_zone_path) - before, options.retries + 1);
}

TEST_F(FaultFetch, ClientErrorIsNotRetried)
{
  prime();
  set_fault([](const FaultRequest&) { return status(403, "go away"); });
  const int before = server.hits(k_zone_path);
  const auto r = fetch_nz();
  expect_last_good_kept(r);
  EXPECT_NE(r.error.find("HTTP 403"), std::string::npos) << r.error;
  EXPECT_EQ(server.hits(k_zone_path) - before, 1);
}

TEST_F(FaultFetch, HangingServerTimesOut)
{
  prime();
  set_fault([](const FaultRequest&) {
    FaultReply r;
    r.mode = Mode::Hang;
    return r;
  });
  options.retries = 1;
  options.timeout_ms = 200; // the server never answers: it always runs out
  const auto r = fetch_nz();
  expect_last_good_kept(r);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("after 2 attempts"), std::string::npos) << r.error;
}

TEST_F(FaultFetch, ConnectionCutMidBodyIsRetriedThenKeepsTheCache)
{
  prime();
  set_fault([](const FaultRequest&) {
    FaultReply r;
    r.mode = Mode::Cut;
    r.body = k_good + k_good;
    return r;
  });
  const int before = server.hits(k_zone_path);
  const auto r = fetch_nz();
  expect_last_good_kept(r);
  EXPECT_EQ(server.hits(k_zone_path) - before, options.retries + 1);
}

TEST_F(FaultFetch, BodyOverTheSizeLimitIsRefusedWithoutRetry)
{
  prime();
  options.max_zone_bytes = 1'000;
  for (const bool announced : {true, false}) {
    set_fault([announced](const FaultRequest&) {
      FaultReply r;
      for (int i = 0; i < 1'000; ++i) {
        r.body += "198.51.100.0/24\n";
      }
      r.content_length = announced;
      return r;
    });
    const int before = server.hits(k_zone_path);
    const auto r = fetch_nz();
    expect_last_good_kept(r);
    EXPECT_NE(r.error.find("larger than the limit of 1000 bytes"), std::string::npos) << r.error;
    EXPECT_EQ(server.hits(k_zone_path) - before, 1);
  }
}

TEST_F(FaultFetch, HtmlPageServedWith200IsRejected)
{
  prime();
  set_fault([](const FaultRequest&) {
    return status(200, "<!DOCTYPE html>\n<html><body>Please log in to the hotel Wi-Fi</body></html>\n");
  });
  const auto r = fetch_nz();
  expect_last_good_kept(r);
  EXPECT_NE(r.error.find("HTML"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(server.base_url() + k_zone_path + ":1:"), std::string::npos) << r.error;
}

TEST_F(FaultFetch, InvalidZonesAreRejectedNamingCountryUrlAndLine)
{
  prime();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"192.0.2.0/24\n2001:db8::/32\n", ".zone:2: "},         // wrong family
      {"192.0.2.0/24\n0.0.0.0/1\n", ".zone:2: "},             // disastrous prefix
      {"192.0.2.0/24\n198.51.100.0/2", ".zone:2: truncated"}, // cut last line
      {"192.0.2.0/24\nhello world\n", ".zone:2: "},           // garbage
  };
  for (const auto& [body, where] : cases) {
    set_fault([body = body](const FaultRequest&) { return status(200, body); });
    const auto r = fetch_nz();
    expect_last_good_kept(r);
    EXPECT_NE(r.error.find("nz IPv4 " + server.base_url() + k_zone_path), std::string::npos) << r.error;
    EXPECT_NE(r.error.find(where), std::string::npos) << body << " -> " << r.error;
  }
}

TEST_F(FaultFetch, NotFoundCountryIsAbsentWhenTheDirectoryExists)
{
  set_fault([](const FaultRequest&) { return status(404, "<html>not found</html>"); });
  const auto r = fetch_nz();
  EXPECT_EQ(r.origin, Origin::Absent) << r.error;
  EXPECT_TRUE(r.usable());
  EXPECT_TRUE(r.nets.empty());
  EXPECT_NE(r.error.find("404"), std::string::npos) << r.error;
  EXPECT_TRUE(fetch::nothing_changed({r}));
}

TEST_F(FaultFetch, SlowlorisTrickleIsCutByTheTotalTimeout)
{
  prime();
  set_fault([](const FaultRequest&) {
    FaultReply r;
    r.mode = Mode::Trickle;
    r.body = k_good + k_good + k_good;
    r.interval = std::chrono::milliseconds(100);
    return r;
  });
  options.retries = 0;
  options.timeout_ms = 300; // the body takes 20 s: it always runs out
  const auto r = fetch_nz();
  expect_last_good_kept(r);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
}

TEST_F(FaultFetch, FailureWithoutAnyCacheIsFailed)
{
  set_fault([](const FaultRequest&) { return status(500); });
  options.retries = 0;
  const auto r = fetch_nz();
  EXPECT_EQ(r.origin, Origin::Failed);
  EXPECT_FALSE(r.usable());
  EXPECT_NE(r.error.find("no cached copy"), std::string::npos) << r.error;
  EXPECT_FALSE(fetch::nothing_changed({r}));
}

TEST_F(FaultFetch, ConditionalHeadersAreSentAndA304ReusesTheCache)
{
  prime();
  std::string etag, since;
  set_fault([&etag, &since](const FaultRequest& r) {
    etag = r.headers.count("if-none-match") ? r.headers.at("if-none-match") : "";
    since = r.headers.count("if-modified-since") ? r.headers.at("if-modified-since") : "";
    return status(304);
  });
  const auto r = fetch_nz();
  EXPECT_EQ(r.origin, Origin::NotModified) << r.error;
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_EQ(r.networks(), 4u);
  EXPECT_EQ(etag, "\"v1\"");
  EXPECT_EQ(since, "Tue, 24 Nov 2026 10:00:00 GMT");
}

// Found by fuzz_http (see tests/fetch/response_parse_test.cpp): a validator
// with a bare CR came back in the next request mangled ("\"v1\"X-Injected:
// yes", the cache drops CR and LF); now it is not kept, and the next request
// is unconditional.
TEST_F(FaultFetch, ValidatorsWithControlCharactersAreNotSentBack)
{
  set_fault([](const FaultRequest&) {
    FaultReply r = status(200, k_good);
    r.headers["ETag"] = "\"v1\"\rX-Injected: yes";
    r.headers["Last-Modified"] = "Tue, 24 Nov 2026 10:00:00 GMT\rX-Injected-Too: yes";
    return r;
  });
  const auto first = fetch_nz();
  ASSERT_EQ(first.origin, Origin::Downloaded) << first.error;
  std::map<std::string, std::string> sent;
  set_fault([&sent](const FaultRequest& r) {
    sent = r.headers;
    return status(200, k_good);
  });
  const auto r = fetch_nz();
  EXPECT_EQ(r.origin, Origin::NotModified) << r.error;
  EXPECT_EQ(sent.count("if-none-match"), 0u);
  EXPECT_EQ(sent.count("if-modified-since"), 0u);
  for (const auto& [name, value] : sent) {
    EXPECT_EQ(name.find("injected"), std::string::npos) << name;
    EXPECT_EQ(value.find_first_of("\r\n"), std::string::npos) << name << ": " << value;
  }
}

TEST_F(FaultFetch, ServerIgnoringConditionalsStillCountsAsUnchanged)
{
  prime();
  set_fault([](const FaultRequest&) { return status(200, k_good); });
  const auto r = fetch_nz();
  EXPECT_EQ(r.origin, Origin::NotModified) << r.error;
  EXPECT_EQ(r.bytes, k_good.size());
  EXPECT_TRUE(fetch::nothing_changed({r}));
}

TEST_F(FaultFetch, ParallelTransfersAreBoundedAndUsed)
{
  // Each handler holds its request until `parallel` requests are in flight
  // (or every request has arrived), so the peak is exactly the bound when
  // the client keeps that many going, whatever the machine's load; a client
  // that stays below it makes the handlers wait out their deadline (a
  // minute, never reached otherwise) and the peak shows it.
  const std::vector<std::string> countries = {"de", "fr", "it", "es", "pt", "nl", "be", "lu", "at", "ch"};
  options.parallel = 3;
  options.verify_md5sum = false;
  std::mutex m;
  std::condition_variable cv;
  int in_flight = 0;
  int arrived = 0;
  int peak = 0;
  set_fault([&](const FaultRequest&) {
    std::unique_lock lock(m);
    if (++arrived == 1) {
      // Until a first response shows that the server speaks HTTP/1.1, not
      // HTTP/2, libcurl waits for it (PIPEWAIT) instead of opening more
      // connections: the first request is answered at once.
      return status(200, k_good);
    }
    peak = std::max(peak, ++in_flight);
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(60), [&] {
      return in_flight >= options.parallel || arrived == static_cast<int>(countries.size());
    });
    --in_flight;
    return status(200, k_good);
  });
  const auto results = fetch::fetch_zones(countries, net::Families::V4, options);
  ASSERT_EQ(results.size(), countries.size());
  for (const auto& r : results) {
    EXPECT_EQ(r.origin, Origin::Downloaded) << r.country << " " << r.error;
  }
  std::lock_guard lock(m);
  EXPECT_EQ(peak, options.parallel);
}

// The real transport, counted: how often the client waited on it, and
// how often for no time at all.
class CountingTransport final : public fetch::HttpTransport {
public:
  explicit CountingTransport(int connections) : m_real(fetch::make_curl_transport(connections)) {}
  void start(std::size_t id, const fetch::HttpRequest& request, const fetch::HttpOptions& options) override
  {
    m_real->start(id, request, options);
  }
  Finished wait(std::chrono::milliseconds at_most) override
  {
    ++waits;
    zero_waits += at_most.count() == 0;
    return m_real->wait(at_most);
  }
  int waits = 0;
  int zero_waits = 0;

private:
  std::unique_ptr<fetch::HttpTransport> m_real;
};

TEST(CurlTransport, WaitingOnSlowServersSleepsInsteadOfSpinning)
{
  // 12 slow responses (5 bytes, one every 20 ms) with 2 at once, 10
  // requests queued behind the busy slots all along. Each wait on the
  // network ends with network activity (a connection, a header, a byte):
  // some ten per response, whatever the load (load merges them). A loop
  // that polls without sleeping waits thousands of times, and for no time.
  FaultServer server([](const FaultRequest&) {
    FaultReply r;
    r.mode = FaultReply::Mode::Trickle;
    r.body = "1.2.3";
    r.interval = std::chrono::milliseconds(20);
    return r;
  });
  std::vector<fetch::HttpRequest> requests;
  for (int i = 0; i < 12; ++i) {
    requests.push_back({server.base_url() + "/slow/" + std::to_string(i), "", ""});
  }
  fetch::HttpOptions options;
  options.parallel = 2;
  options.retries = 0;
  CountingTransport counting(options.parallel);
  options.seams.transport = &counting;
  const auto responses = fetch::http_get_all(requests, options);
  for (const auto& r : responses) {
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.body, "1.2.3");
  }
  EXPECT_LT(counting.waits, 500) << "waits on 12 slow responses";
  EXPECT_EQ(counting.zero_waits, 0) << "waits for no time while requests were queued";
}

} // namespace
} // namespace geoblock::test
