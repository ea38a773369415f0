#include "core/error.hpp"
#include "util/json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

using geoblock::util::Json;
using testing::HasSubstr;
using testing::MatchesRegex;
using testing::StartsWith;

namespace {

// The message parse() throws, or "accepted".
std::string
parse_error(std::string_view text, const std::string& name = "in.json")
{
  try {
    Json::parse(text, name);
  } catch (const geoblock::Error& e) {
    return e.what();
  }
  return "accepted";
}

void
expect_refused(std::string_view text)
{
  EXPECT_THAT(parse_error(text), StartsWith("in.json:1:")) << "input: " << text;
}

} // namespace

TEST(Json, RoundTripKeepsValuesAndOrder)
{
  Json doc = Json::object();
  doc.set("name", "geo\"block\n");
  doc.set("count", 42);
  doc.set("ratio", 0.5);
  doc.set("ok", true);
  doc.set("none", Json());
  Json list = Json::array();
  list.push("cn");
  list.push(7);
  doc.set("list", list);
  for (int indent : {-1, 2}) {
    const Json back = Json::parse(doc.dump(indent), "test");
    EXPECT_EQ(back.get("name").as_string(), "geo\"block\n");
    EXPECT_EQ(back.get("count").as_int(), 42);
    EXPECT_DOUBLE_EQ(back.get("ratio").as_double(), 0.5);
    EXPECT_TRUE(back.get("ok").as_bool());
    EXPECT_TRUE(back.get("none").is_null());
    EXPECT_EQ(back.get("list").items().size(), 2u);
    EXPECT_EQ(back.members().front().first, "name");
    EXPECT_EQ(back.dump(indent), doc.dump(indent));
  }
  EXPECT_EQ(doc.dump(-1),
            "{\"name\":\"geo\\\"block\\n\",\"count\":42,\"ratio\":0.5,\"ok\":true,\"none\":null,"
            "\"list\":[\"cn\",7]}");
  EXPECT_EQ(Json::parse("{\"z\": {}, \"a\": []}", "t").dump(2), "{\n  \"z\": {},\n  \"a\": []\n}\n");
}

TEST(Json, MalformedInputNamesTheSourceLineAndColumn)
{
  for (const char* bad :
       {"", "{", "{\"a\" 1}", "[1,]", "tru", "{\"a\":1} x", "\"abc", "[1 2]", "{\"a\":1,}"}) {
    const std::string what = parse_error(bad, "state.json");
    EXPECT_THAT(what, MatchesRegex("state\\.json:1:[0-9]+: invalid JSON: .+")) << bad;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  // Line and column of the offending byte, counted from 1.
  EXPECT_THAT(parse_error("{\n  \"format\": \"geoblock-bundle\",\n  \"version\": 1x\n}", "manifest.json"),
              StartsWith("manifest.json:3:15: invalid JSON: syntax error"));
  EXPECT_THAT(parse_error("[1,\n]", "m"), StartsWith("m:2:1: invalid JSON: "));
  EXPECT_THAT(parse_error("[1,\r\n\t2,\n  ]", "m"), StartsWith("m:3:3: invalid JSON: "));
  EXPECT_THAT(parse_error("{\"a\":1} x", "m"), StartsWith("m:1:9: invalid JSON: "));
  EXPECT_THAT(parse_error("[1,", "m"), StartsWith("m:1:4: invalid JSON: ")); // the end of the text
}

TEST(Json, ParseErrorsStayOneShortLine)
{
  // The offending token can be an untrusted megabyte with control bytes.
  std::string text = "[\"" + std::string(1 << 20, 'x') + "\x01\x1b[2J\xff\"]";
  const std::string what = parse_error(text);
  EXPECT_THAT(what, StartsWith("in.json:1:1048579: invalid JSON: "));
  EXPECT_LT(what.size(), 300u) << what;
  for (const unsigned char c : what) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << what;
  }
}

TEST(Json, UnicodeEscapesAreChecked)
{
  // \u took whatever strtoul made of the next four bytes.
  for (const char* bad :
       {"\"\\uZZZZ\"", "\"\\u12\"", "\"\\u00G0\"", "\"\\u-001\"", "\"\\u 123\"", "\"\\u\""}) {
    expect_refused(bad);
  }
  EXPECT_EQ(Json::parse("\"\\u00e9\\u20AC\\u0041\"", "t").as_string(), "\xc3\xa9\xe2\x82\xac"
                                                                       "A");
}

TEST(Json, SurrogatePairsAreCombined)
{
  // U+1F600: one four-byte UTF-8 sequence, not two encoded surrogates.
  EXPECT_EQ(Json::parse("\"\\ud83d\\ude00\"", "t").as_string(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(Json::parse("\"\\uDBFF\\uDFFF\"", "t").as_string(), "\xf4\x8f\xbf\xbf");
}

TEST(Json, LoneSurrogatesAreRefused)
{
  for (const char* bad :
       {"\"\\ud800\"", "\"\\udc00\"", "\"\\ud83dx\"", "\"\\ud83d\\u0041\"", "\"\\ude00\\ud83d\""}) {
    expect_refused(bad);
  }
}

TEST(Json, DoublesRoundTripExactly)
{
  // "%.6g" kept six digits.
  for (const double d : {0.1, 1.0 / 3, 123456.789, 0.1 + 0.2, 1e300, -2.5e-8, 5e-324, 1.7976931348623157e308,
                         9007199254740993.0, 1.5, -0.0}) {
    const std::string text = Json(d).dump(-1);
    const double back = Json::parse(text, "t").as_double(42);
    EXPECT_EQ(std::memcmp(&back, &d, sizeof d), 0) << text;
  }
  EXPECT_EQ(Json(0.1).dump(-1), "0.1");
  EXPECT_EQ(Json(std::nan("")).dump(-1), "null");
  EXPECT_EQ(Json(-std::numeric_limits<double>::infinity()).dump(-1), "null");
}

TEST(Json, UnsignedAboveInt64MaxIsKeptExactly)
{
  // The constructors stored int64: UINT64_MAX was written as -1.
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(Json(max).dump(-1), "18446744073709551615");
  EXPECT_EQ(Json(static_cast<unsigned long>(1) << 63).dump(-1), "9223372036854775808");
  EXPECT_EQ(Json::parse("18446744073709551615", "t").dump(-1), "18446744073709551615");
  Json doc = Json::object();
  doc.set("bytes", static_cast<unsigned long long>(max - 1));
  EXPECT_EQ(Json::parse(doc.dump(2), "t").dump(-1), "{\"bytes\":18446744073709551614}");
}

TEST(Json, AsIntNeverWrapsTruncatesOrSaturates)
{
  // It gives the fallback for a value it cannot represent: strtoll
  // saturated 18446744073709551615 to INT64_MAX, a double was truncated.
  for (const char* text : {"18446744073709551615", "9223372036854775808", "1.5", "-0.25", "1e19", "-1e19",
                           "9.3e18", "\"7\"", "true", "null", "[]", "{}"}) {
    EXPECT_EQ(Json::parse(text, "t").as_int(-7), -7) << text;
  }
  EXPECT_EQ(Json(std::numeric_limits<std::uint64_t>::max()).as_int(-7), -7);
  EXPECT_EQ(Json::parse("9223372036854775807", "t").as_int(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(Json::parse("-9223372036854775808", "t").as_int(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(Json::parse("2.0", "t").as_int(), 2);
  EXPECT_EQ(Json::parse("-1e3", "t").as_int(), -1000);
  EXPECT_EQ(Json::parse("-9.2233720368547758e18", "t").as_int(), std::numeric_limits<std::int64_t>::min());
}

TEST(Json, AsUintReadsTheWholeUnsignedRange)
{
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(Json::parse("18446744073709551615", "t").as_uint(), max);
  EXPECT_EQ(Json(max).as_uint(), max);
  EXPECT_EQ(Json(42).as_uint(), 42u);
  EXPECT_EQ(Json::parse("1e19", "t").as_uint(), 10000000000000000000u);
  EXPECT_DOUBLE_EQ(Json(max).as_double(), 18446744073709551615.0);
  for (const char* text : {"-1", "0.5", "1.8446744073709552e19", "\"1\"", "null"}) {
    EXPECT_EQ(Json::parse(text, "t").as_uint(7), 7u) << text;
  }
}

TEST(Json, NumbersAreStrict)
{
  for (const char* bad : {"+1", "01", "-01", "00", "1.", ".5", "-", "1e", "1e+", "0x10", "- 1", "NaN",
                          "Infinity", "-Infinity", "[+1]", "{\"a\":01}", "1.5.2", "--1"}) {
    expect_refused(bad);
  }
  EXPECT_EQ(Json::parse("-0", "t").as_int(9), 0);
  EXPECT_EQ(Json::parse("0e0", "t").as_int(9), 0);
  EXPECT_DOUBLE_EQ(Json::parse("-1.25E+2", "t").as_double(), -125);
}

TEST(Json, NumberOverflowIsRefused)
{
  // strtoll and strtod saturated or gave infinity, silently.
  for (const char* bad : {"1e400", "-1e400", "[1E309]", "99999999999999999999", "18446744073709551616",
                          "-9223372036854775809", "{\"bytes\": 123456789012345678901234567890}"}) {
    expect_refused(bad);
  }
  EXPECT_EQ(parse_error("[\n 18446744073709551616]"),
            "in.json:2:2: invalid JSON: integer out of range: 18446744073709551616");
  EXPECT_EQ(Json::parse("1e-400", "t").as_double(1), 0.0); // underflow rounds to zero, as in every reader
}

TEST(Json, ControlCharactersAndUnknownEscapesAreRefused)
{
  for (const char* bad : {"\"a\nb\"", "\"a\tb\"", "\"\x01\"", "\"\\q\"", "\"\\x41\"", "\"\\'\"", "\"\\\""}) {
    expect_refused(bad);
  }
  EXPECT_EQ(Json::parse("\"\\b\\f\\n\\r\\t\\/\\\\\\\"\\u0000\"", "t").as_string(),
            std::string("\b\f\n\r\t/\\\"\0", 9));
}

TEST(Json, InvalidUtf8IsRefused)
{
  for (const char* bad : {
           "\"\xff\"",             // never in UTF-8
           "\"\x80\"",             // continuation byte alone
           "\"\xc3\"",             // truncated
           "\"\xe2\x82\"",         // truncated
           "\"\xc0\xaf\"",         // overlong '/'
           "\"\xe0\x80\xaf\"",     // overlong '/'
           "\"\xed\xa0\x80\"",     // a surrogate, encoded
           "\"\xf4\x90\x80\x80\"", // above U+10FFFF
           "[\"ok\", \"\xfe\"]",
           "{\"\xff\": 1}", // in a key
       }) {
    expect_refused(bad);
  }
  EXPECT_EQ(Json::parse("\"\xe2\x82\xac \xf0\x9f\x98\x80\"", "t").as_string(),
            "\xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(Json, TrailingGarbageIsRefused)
{
  for (const std::string bad : {"{} x", "1 2", "[1]]", "{}}", "\"a\"\"b\"", "null,", "true false"}) {
    expect_refused(bad);
  }
  // nlohmann's lexer takes a NUL byte for the end of the input.
  EXPECT_THAT(parse_error(std::string("{}\0{\"more\": 1}", 15)), StartsWith("in.json:1:3: invalid JSON: "));
  EXPECT_THAT(parse_error(std::string("[1] \0", 5)), StartsWith("in.json:1:5: invalid JSON: "));
  EXPECT_NE(parse_error(std::string("[1,\0 2]", 7)), "accepted");
  EXPECT_EQ(Json::parse(" \t\r\n[1]\n\n", "t").items().size(), 1u);
}

TEST(Json, DuplicateKeysAreRefused)
{
  // A manifest with "file" twice was read with the last one winning; another
  // reader may take the first.
  EXPECT_EQ(parse_error("{\"file\": \"a.zone\",\n \"file\": \"b.zone\"}"),
            "in.json:2:2: invalid JSON: duplicate key \"file\"");
  EXPECT_EQ(parse_error("{\"zones\": [{\"a\": 1, \"b\": 2, \"a\\\"\\\\\": 3, \"a\\\"\\\\\": 4}]}"),
            "in.json:1:41: invalid JSON: duplicate key \"a\\\"\\\\\"");
  // The same key in different objects, or an escaped spelling that differs
  // in bytes, is fine.
  const Json doc =
      Json::parse("{\"a\": {\"a\": 1}, \"b\": {\"a\": 2}, \"c\": [{\"a\": 3}, {\"a\": 4}], \"A\": 5}", "t");
  EXPECT_EQ(doc.get("c").items()[1].get("a").as_int(), 4);
  expect_refused("{\"a\": 1, \"\\u0061\": 2}");
}

TEST(Json, DeepNestingIsRefusedWithoutOverflow)
{
  EXPECT_EQ(parse_error(std::string(100000, '[')),
            "in.json:1:65: invalid JSON: nested deeper than 64 levels");
  EXPECT_EQ(parse_error(std::string(100000, '[') + std::string(100000, ']')),
            "in.json:1:65: invalid JSON: nested deeper than 64 levels");
  std::string objects;
  for (int i = 0; i < 100000; ++i) {
    objects += "{\"a\":";
  }
  EXPECT_THAT(parse_error(objects), StartsWith("in.json:1:321: invalid JSON: nested deeper than 64 levels"));

  const std::string deepest = std::string(Json::max_depth, '[') + std::string(Json::max_depth, ']');
  const Json ok = Json::parse(deepest, "t");
  EXPECT_EQ(ok.dump(-1), deepest);
  EXPECT_THAT(parse_error("[" + deepest + "]"), HasSubstr("nested deeper than 64 levels"));
}

TEST(Json, WrittenStringsAreAlwaysValidUtf8)
{
  // Error texts can hold bytes from a server; the old writer copied them
  // into state.json, which a strict reader then refuses.
  Json doc = Json::object();
  doc.set("error", "bad \xff\xfe byte, \xe2\x82 cut, \xe2\x82\xac kept");
  for (int indent : {-1, 2}) {
    const Json back = Json::parse(doc.dump(indent), "state.json");
    EXPECT_EQ(back.get("error").as_string(),
              "bad \xef\xbf\xbd\xef\xbf\xbd byte, \xef\xbf\xbd cut, \xe2\x82\xac kept");
  }
  EXPECT_EQ(Json(std::string("\x01\x1f\x7f", 3)).dump(-1), "\"\\u0001\\u001f\x7f\"");
}

TEST(Json, AccessorsGiveFallbacksForOtherTypes)
{
  const Json doc =
      Json::parse("{\"s\": \"x\", \"n\": 3, \"b\": false, \"l\": [1], \"o\": {\"k\": null}}", "t");
  EXPECT_EQ(doc.get("s").as_int(5), 5);
  EXPECT_EQ(doc.get("n").as_string("d"), "d");
  EXPECT_TRUE(doc.get("b").as_bool(true) == false);
  EXPECT_TRUE(doc.get("n").as_bool(true));
  EXPECT_TRUE(doc.get("missing").is_null());
  EXPECT_TRUE(doc.get("l").members().empty());
  EXPECT_TRUE(doc.get("o").items().empty());
  EXPECT_TRUE(doc.get("o").get("k").is_null());
  EXPECT_TRUE(doc.get("n").is_number());
  EXPECT_TRUE(Json(std::numeric_limits<std::uint64_t>::max()).is_number());
}
