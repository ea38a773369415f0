// The fetcher's use of HTTP on the fake network and clock
// (support/fake_http.hpp): which validators a request carries, what a 304
// or the same bytes again mean, and a Retry-After on the way, without a
// server or a wait. The same against nginx and the fault server, on real
// sockets: nginx_test.cpp, fault_test.cpp.
#include "fetch/fetcher.hpp"
#include "fetch_test_util.hpp"
#include "support/fake_http.hpp"

#include <gtest/gtest.h>

namespace geoblock::test {
namespace {

using net::Family;
using net::Origin;
using std::chrono::milliseconds;

const std::string k_base = "http://mirror.test";
const std::string k_body = "192.0.2.0/24\n198.51.100.0/24\n";
const std::string k_etag = "\"v1\"";
const std::string k_date = "Tue, 24 Nov 2026 10:00:00 GMT";

class FetchOnFakes : public ::testing::Test {
protected:
  FetchOnFakes()
      : net(clock, [this](const FakeCall& c) { return serve(c); }),
        options(loopback_options(k_base, dir / "cache"))
  {
    options.verify_md5sum = false;
    options.http_seams = {&net, &clock};
  }

  // A mirror that honours conditionals: 304 for the ETag it gave.
  FakeAnswer serve(const FakeCall& c)
  {
    if (busy_first && c.hit == 1) {
      FakeAnswer a = answer(503, "busy");
      a.attempt.retry_after_s = 30;
      return a;
    }
    if (c.etag == k_etag) {
      return answer(304);
    }
    FakeAnswer a = answer(200, k_body);
    a.attempt.etag = k_etag;
    a.attempt.last_modified_http = k_date;
    return a;
  }

  net::ZoneResult fetch_nz()
  {
    const auto results = fetch::fetch_zones({"nz"}, net::Families::V4, options);
    EXPECT_EQ(results.size(), 1u);
    return results.empty() ? net::ZoneResult{} : results[0];
  }

  std::string zone_url() const { return fetch::zone_url(k_base, "nz", Family::V4); }

  TempDir dir;
  FakeClock clock;
  FakeTransport net;
  fetch::FetchOptions options;
  bool busy_first = false;
};

TEST_F(FetchOnFakes, ValidatorsAreSentForAnIntactCachedBodyOnlyAndA304ReusesIt)
{
  auto r = fetch_nz();
  EXPECT_EQ(r.origin, Origin::Downloaded) << r.error;
  EXPECT_EQ(r.networks(), 2u);
  ASSERT_EQ(net.calls(zone_url()).size(), 1u);
  EXPECT_EQ(net.calls(zone_url())[0].etag, "") << "nothing cached: unconditional";
  EXPECT_EQ(net.calls(zone_url())[0].last_modified, "");

  r = fetch_nz();
  EXPECT_EQ(r.origin, Origin::NotModified) << r.error;
  EXPECT_EQ(r.networks(), 2u);
  EXPECT_EQ(r.bytes, 0u);
  ASSERT_EQ(net.calls(zone_url()).size(), 2u);
  EXPECT_EQ(net.calls(zone_url())[1].etag, k_etag);
  EXPECT_EQ(net.calls(zone_url())[1].last_modified, k_date);

  // A damaged cached body: a 304 would reuse bytes we do not have, so the
  // request is unconditional, and the body is stored again.
  const std::string cached = fetch::ZoneCache(options.cache_dir).zone_path("nz", Family::V4);
  spit(cached, "192.0.2.0/24\n");
  r = fetch_nz();
  ASSERT_EQ(net.calls(zone_url()).size(), 3u);
  EXPECT_EQ(net.calls(zone_url())[2].etag, "");
  EXPECT_EQ(net.calls(zone_url())[2].last_modified, "");
  EXPECT_EQ(r.origin, Origin::Downloaded) << r.error;
  EXPECT_EQ(r.bytes, k_body.size());
  EXPECT_EQ(slurp(cached), k_body);
  EXPECT_EQ(clock.elapsed(), milliseconds(0)) << "nothing was waited for";
}

TEST_F(FetchOnFakes, ARetryAfterOnTheWayIsWaitedOutOnTheClock)
{
  busy_first = true;
  const auto r = fetch_nz();
  EXPECT_EQ(r.origin, Origin::Downloaded) << r.error;
  const auto calls = net.calls(zone_url());
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].at - calls[0].at, milliseconds(30'000));
  EXPECT_EQ(clock.slept(), milliseconds(30'000));
}

} // namespace
} // namespace geoblock::test
