// file:// URLs through the HTTP client: a missing file is a 404 (absent, as
// on a mirror), any other reason a file cannot be read is an error naming
// the path, the reason and the user (issue 18: an unreadable zone was
// reported as "not found (HTTP 404)"). The fetch-user case, EACCES, runs as
// root in tests/cli/privsep_test.cpp.
#include "fetch/http_client.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <pwd.h>
#include <unistd.h>

namespace geoblock::test {
namespace {

std::string
me()
{
  const passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : "uid " + std::to_string(::geteuid());
}

fetch::HttpResponse
get(const std::string& url)
{
  fetch::HttpOptions o;
  o.retries = 0;
  return fetch::http_get_all({fetch::HttpRequest{url, "", ""}}, o).at(0);
}

TEST(FileUrl, AMissingFileIsA404AndAnUnreadableOneAnErrorNamingPathReasonAndUser)
{
  TempDir dir;
  const std::string zone = dir.write("zones/nz.zone", "203.0.113.0/24\n");
  fetch::HttpResponse r = get("file://" + zone);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "203.0.113.0/24\n");

  r = get("file://" + dir / "zones/au.zone");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.error.empty()) << r.error;

  // A link to itself: there, but no file can be read through it. The
  // message names the path as decoded from the URL.
  const std::string loop = dir / "zones/a loop.zone";
  std::filesystem::create_symlink(loop, loop);
  r = get("file://" + dir / "zones/a%20loop.zone");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, "cannot read " + loop + " as user " + me() + ": Too many levels of symbolic links");
  EXPECT_EQ(r.attempts, 1) << "not retried";
}

} // namespace
} // namespace geoblock::test
