#include "core/error.hpp"
#include "util/json.hpp"

#include <gtest/gtest.h>

using geoblock::util::Json;

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
}

TEST(Json, MalformedInputNamesTheSourceAndOffset)
{
  for (const char* bad : {"{", "{\"a\" 1}", "[1,]", "tru", "{\"a\":1} x", "\"abc"}) {
    try {
      Json::parse(bad, "state.json");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const geoblock::Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("state.json: invalid JSON at offset ", 0), 0u) << e.what();
    }
  }
}
