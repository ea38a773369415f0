// Actions in the countries list (flow/config.hpp, parse_country_entries):
// random lists written the ways an administrator may write them read back
// as the entries they were written from, and every bad word or rate is one
// error naming the file, the line and the value.
#include "core/country.hpp"
#include "core/error.hpp"
#include "flow/config.hpp"

#include <gtest/gtest.h>

#include <random>

namespace {

using namespace geoblock;
using Kind = apply::SourceAction::Kind;

apply::SourceAction
action(Kind kind, std::string rate = {})
{
  apply::SourceAction a;
  a.kind = kind;
  a.rate = std::move(rate);
  return a;
}

// The words an administrator may write for `a` (any case for the word,
// the rate in any unit spelling parse_rate takes), and the canonical rate.
std::string
spell(const apply::SourceAction& a, std::mt19937& rng, bool explicit_drop)
{
  switch (a.kind) {
  case Kind::Drop:
    return explicit_drop ? (rng() % 2 ? " drop" : " DROP") : "";
  case Kind::Reject:
    return rng() % 2 ? " reject" : " Reject";
  case Kind::Count:
    return " count";
  case Kind::Limit:
    break;
  }
  const std::string n = a.rate.substr(0, a.rate.find('/'));
  const std::string unit = a.rate.substr(a.rate.find('/') + 1);
  const std::vector<std::string> sec = {"s", "sec", "second"}, min = {"m", "min", "minute"};
  const auto& spellings = unit == "sec" ? sec : min;
  return " limit " + n + "/" + spellings[rng() % spellings.size()];
}

TEST(CountryActions, RandomListsReadBackAsWritten)
{
  const auto& all = all_countries();
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int round = 0; round < 300; ++round) {
    // Distinct countries, each with an action; written one or several to a
    // line, an action after each code or after a group sharing it.
    std::vector<flow::CountryEntry> want;
    const std::size_t n = 1 + rng() % 12;
    while (want.size() < n) {
      const std::string& cc = all[rng() % all.size()];
      if (std::any_of(want.begin(), want.end(), [&](const auto& e) { return e.code == cc; })) {
        continue;
      }
      const Kind kinds[] = {Kind::Drop, Kind::Reject, Kind::Count, Kind::Limit};
      const Kind k = kinds[rng() % 4];
      want.push_back({cc, k == Kind::Limit
                              ? action(k, std::to_string(1 + rng() % 10000) + (rng() % 2 ? "/sec" : "/min"))
                              : action(k)});
    }
    std::string text = rng() % 2 ? "# blocked\n" : "";
    std::size_t line = text.empty() ? 1 : 2;
    for (std::size_t i = 0; i < want.size();) {
      // A group: the next codes sharing this action, on one line.
      std::size_t j = i + 1;
      while (j < want.size() && want[j].action == want[i].action && rng() % 2) {
        ++j;
      }
      const char* seps[] = {" ", ",", ", ", "\t", ";"};
      for (std::size_t k = i; k < j; ++k) {
        std::string cc = want[k].code;
        if (rng() % 3 == 0) {
          cc[0] = static_cast<char>(cc[0] - 'a' + 'A');
        }
        text += (k == i ? "" : seps[rng() % 5]) + cc;
        want[k].line = line;
      }
      text += spell(want[i].action, rng, rng() % 4 == 0);
      if (rng() % 4 == 0) {
        text += "  # why";
      }
      text += rng() % 5 == 0 ? "\r\n" : "\n";
      ++line;
      i = j;
    }
    const auto got = flow::parse_country_entries(text, "countries.cfg");
    ASSERT_EQ(got, want) << text;
  }
}

std::string
error_of(const std::string& text)
{
  try {
    flow::parse_country_entries(text, "/etc/geoblock/countries.cfg");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CountryActions, EveryBadWordOrRateIsOneErrorNamingFileLineAndValue)
{
  const std::string f = "/etc/geoblock/countries.cfg:";
  EXPECT_EQ(error_of("cn\nnz rejct\n"),
            f + "2: 'rejct' is neither a country code nor an action (drop, reject, "
                "count, limit RATE)");
  EXPECT_EQ(error_of("nz limit\n"), f + "1: 'limit' needs a rate after it (limit 10/second)");
  EXPECT_EQ(error_of("cn\n\nnz limit 10/fortnight\n"),
            f + "3: limit '10/fortnight': unknown unit 'fortnight' (second, minute, hour or day)");
  EXPECT_NE(error_of("nz limit ten/second\n").find(f + "1: limit 'ten/second': expected N/second"),
            std::string::npos);
  EXPECT_NE(error_of("nz limit 0/second\n").find(f + "1: limit '0/second'"), std::string::npos);
  EXPECT_EQ(error_of("reject nz\n"), f + "1: 'reject' follows no country: an action goes after the code it "
                                         "applies to ('nz reject')");
  EXPECT_EQ(error_of("nz count reject\n"),
            f + "1: 'reject' follows no country: an action goes after the code it "
                "applies to ('nz reject')");
  EXPECT_EQ(error_of("nz\nau\nnz reject\n"),
            f + "3: nz is listed with two actions: drop (line 1) and reject");
  EXPECT_EQ(error_of("xx reject\n"), f + "1: 'xx' is not an ISO 3166-1 alpha-2 country code");
  // The same country twice with the same action is no conflict.
  EXPECT_EQ(error_of("nz count\nnz count\n"), "(no error)");
}

TEST(CountryActions, ActionsApplyToTheCodesBeforeThemOnTheirLineOnly)
{
  const auto got = flow::parse_country_entries("cn ru reject kp\nnz, au limit 10/minute\nir count\n", "f");
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(apply::to_string(got[0].action), "reject"); // cn
  EXPECT_EQ(apply::to_string(got[1].action), "reject"); // ru
  EXPECT_EQ(apply::to_string(got[2].action), "drop");   // kp: nothing after it
  EXPECT_EQ(apply::to_string(got[3].action), "limit 10/min");
  EXPECT_EQ(apply::to_string(got[4].action), "limit 10/min");
  EXPECT_EQ(apply::to_string(got[5].action), "count");
  EXPECT_EQ(got[5].line, 3u);
}

} // namespace
