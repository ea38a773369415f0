#include "core/country.hpp"
#include "core/error.hpp"

#include <gtest/gtest.h>

namespace geoblock {
namespace {

TEST(Country, KnowsTheOfficialCodesAndNothingElse)
{
  EXPECT_EQ(all_countries().size(), 249u);
  for (const char* code : {"cn", "CN", "Ru", "us", "de", "va", "zw", "ax"}) {
    EXPECT_TRUE(is_country_code(code)) << code;
  }
  for (const char* code : {"xx", "eu", "ap", "uk", "zz", "c", "cnn", "c1", "", "é"}) {
    EXPECT_FALSE(is_country_code(code)) << code;
  }
}

TEST(Country, NormalizesToLowerCaseAndExplainsRefusals)
{
  std::string out;
  std::string problem;
  ASSERT_TRUE(normalize_country(" DE ", out, &problem));
  EXPECT_EQ(out, "de");
  EXPECT_FALSE(normalize_country("xx", out, &problem));
  EXPECT_NE(problem.find("'xx' is not an ISO 3166-1 alpha-2 country code"), std::string::npos) << problem;
  EXPECT_FALSE(normalize_country("c1", out, &problem));
  EXPECT_NE(problem.find("two ASCII letters"), std::string::npos) << problem;
}

TEST(Country, ParsesListsRemovingDuplicatesInOrder)
{
  EXPECT_EQ(parse_countries({"RU,cn", "us ru", "CN"}), (std::vector<std::string>{"ru", "cn", "us"}));
}

TEST(Country, RejectsUnknownCodesAndEmptyLists)
{
  try {
    parse_countries({"cn,xq,us"});
    FAIL() << "xq accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'xq'"), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), ExitCode::Usage);
  }
  EXPECT_THROW(parse_countries({" , "}), UsageError);
  EXPECT_THROW(parse_countries({}), UsageError);
}

} // namespace
} // namespace geoblock
