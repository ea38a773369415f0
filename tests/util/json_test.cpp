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
