// What geoblock parses of HTTP responses itself: the validators (ETag,
// Last-Modified) of the header lines libcurl hands over, and MD5SUM files.
// tests/fuzz/http_fuzz.cpp fuzzes both.
#include "fetch/fetcher.hpp"
#include "fetch/http_client.hpp"

#include <gtest/gtest.h>

namespace geoblock::fetch {
namespace {

HttpResponse
headers(std::initializer_list<std::string_view> lines)
{
  HttpResponse r;
  for (const std::string_view line : lines) {
    parse_header_line(line, r);
  }
  return r;
}

TEST(HeaderLine, KeepsTheValidatorsTrimmedWhateverTheCase)
{
  const HttpResponse r =
      headers({"HTTP/1.1 200 OK\r\n", "Content-Type: text/plain\r\n", "etag:   W/\"5f2a\" \t\r\n",
               "LAST-MODIFIED:\tTue, 24 Nov 2026 10:00:00 GMT\n", "ETags: not this\r\n", "\r\n"});
  EXPECT_EQ(r.etag, "W/\"5f2a\"");
  EXPECT_EQ(r.last_modified_http, "Tue, 24 Nov 2026 10:00:00 GMT");
}

TEST(HeaderLine, AStatusLineStartsANewResponse)
{
  const HttpResponse redirected = headers({"HTTP/1.1 301 Moved Permanently\r\n", "ETag: \"old\"\r\n",
                                           "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "\r\n",
                                           "HTTP/2 200\r\n", "etag: \"new\"\r\n", "\r\n"});
  EXPECT_EQ(redirected.etag, "\"new\"");
  EXPECT_EQ(redirected.last_modified_http, "");
}

// Found by fuzz_http: a validator with a control character in it was kept.
// libcurl hands over a bare CR inside a header line as it is; the cache then
// dropped CR and LF from the stored value (so no header line could be added
// to the next request) but sent the rest back mangled ("\"v1\"X-Injected:
// yes"), and NUL, ESC or DEL as they came. Now such a value is not kept.
TEST(HeaderLine, RefusesValidatorsWithControlCharacters)
{
  using namespace std::string_view_literals;
  for (const std::string_view line : {"ETag: \"v1\"\rX-Injected: yes\r\n"sv, "ETag: \"v\0\"\r\n"sv,
                                      "ETag: \"v\x1b[2J\"\r\n"sv, "ETag: \"v\x7f\"\r\n"sv}) {
    EXPECT_EQ(headers({"ETag: \"earlier\"\r\n", line}).etag, "") << line;
  }
  EXPECT_EQ(headers({"Last-Modified: Tue, 24 Nov 2026\r10:00:00 GMT\r\n"}).last_modified_http, "");
  // A tab inside a value is allowed (RFC 9110 field-value).
  EXPECT_EQ(headers({"ETag: \"a\tb\"\r\n"}).etag, "\"a\tb\"");
}

TEST(Md5sum, ReadsTextAndBinaryModeLinesInLowerCase)
{
  const auto list = parse_md5sum("0123456789abcdef0123456789ABCDEF  cn.zone\r\n"
                                 "\n"
                                 "fedcba9876543210fedcba9876543210 *nl.zone\n"
                                 "00000000000000000000000000000000  cn.zone");
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ(list->at("cn.zone"), "00000000000000000000000000000000"); // listed twice: the last
  EXPECT_EQ(list->at("nl.zone"), "fedcba9876543210fedcba9876543210");
  EXPECT_TRUE(parse_md5sum("").has_value());
}

TEST(Md5sum, RefusesWhatIsNotAnMd5sumFile)
{
  for (const char* text : {"<!DOCTYPE html>\n<html></html>\n",
                           "0123456789abcdef0123456789abcdeg  cn.zone\n", // not hex
                           "0123456789abcdef0123456789abcdef cn.zone\n",  // one blank
                           "0123456789abcdef0123456789abcde  cn.zone\n",  // 31 digits
                           "0123456789abcdef0123456789abcdef  cn.zone\nnot a line\n"}) {
    EXPECT_FALSE(parse_md5sum(text).has_value()) << text;
  }
}

} // namespace
} // namespace geoblock::fetch
