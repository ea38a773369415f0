// `geoblock stats` through the binary, on the bundled sample in a private
// namespace: after an update whose countries list gives actions, one row
// per country and family with its action, JSON in the documented shape,
// --top cutting the rows but not the total, and a bad --top refused.
#include "support/geoblock_binary.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/file.hpp"
#include "util/json.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sys/stat.h>

using namespace geoblock;

namespace {

std::string
config_in(test::TempDir& dir, const std::string& countries)
{
  const std::string list = dir.write("countries.cfg", countries);
  const std::string conf =
      dir.write("geoblock.conf", "source = bundle:" + std::string(GEOBLOCK_SOURCE_DIR) +
                                     "/tests/data/sample/zones.zip\ncountries-file = " + list +
                                     "\ncache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                                     "\nlock-file = " + dir / "lock" +
                                     "\nbackend = nftables\nmetrics-file = " + dir / "geoblock.prom" + "\n");
  chmod(list.c_str(), 0644);
  chmod(conf.c_str(), 0644);
  return conf;
}

} // namespace

TEST(StatsCommand, OneRowPerCountryAndFamilyWithItsActionInTheDocumentedShape)
{
  GEOBLOCK_REQUIRE_NETNS();
  test::in_fresh_netns([] {
    test::TempDir dir;
    const std::string conf = config_in(dir, "ad\nis count\nli reject\nmt limit 10/second\nsm\n");
    auto r = test::run_geoblock({"update", "--quiet", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The metrics file exports the same counters.
    const std::string metrics = util::read_file(dir / "geoblock.prom");
    EXPECT_NE(
        metrics.find(
            "geoblock_packets_total{source=\"li\",family=\"v4\",direction=\"in\",action=\"reject\"} 0\n"),
        std::string::npos)
        << metrics;
    r = test::run_geoblock({"stats", "--json", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const util::Json doc = util::Json::parse(r.out, "stats --json");
    std::map<std::string, std::string> actions;
    std::size_t rows = 0;
    for (const util::Json& c : doc.get("counters").items()) {
      ++rows;
      actions[c.get("source").as_string()] = c.get("action").as_string();
      EXPECT_EQ(c.get("direction").as_string(), "in");
      EXPECT_EQ(c.get("hook").as_string(), "raw");
      EXPECT_TRUE(c.get("packets").is_number());
      EXPECT_TRUE(c.get("bytes").is_number());
      const std::string family = c.get("family").as_string();
      EXPECT_TRUE(family == "v4" || family == "v6") << family;
    }
    EXPECT_EQ(rows, 10u) << "five countries, two families";
    EXPECT_EQ(actions,
              (std::map<std::string, std::string>{
                  {"ad", "drop"}, {"is", "count"}, {"li", "reject"}, {"mt", "limit"}, {"sm", "drop"}}));

    r = test::run_geoblock({"stats", "--top", "3", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 5) << "a header, three rows, a total:\n" << r.out;
    EXPECT_NE(r.out.find("total (10 counters)"), std::string::npos) << r.out;

    // status shows the top five.
    r = test::run_geoblock({"status", "--json", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(util::Json::parse(r.out, "status --json").get("top_sources").items().size(), 5u) << r.out;
    r = test::run_geoblock({"status", "--config", conf});
    EXPECT_NE(r.out.find("top sources ('geoblock stats' lists them all):\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("total (10 counters)"), std::string::npos) << r.out;

    r = test::run_geoblock({"stats", "--top", "many", "--config", conf});
    EXPECT_EQ(r.exit_code, 2) << r.err;
  });
}

TEST(StatsCommand, OnNftablesEveryCountryIsCountedOnItsOwnWithoutAnyAction)
{
  GEOBLOCK_REQUIRE_NETNS();
  test::in_fresh_netns([] {
    test::TempDir dir;
    const std::string conf = config_in(dir, "ad is li\n");
    auto r = test::run_geoblock({"update", "--quiet", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = test::run_geoblock({"stats", "--json", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::string> actions;
    const util::Json doc = util::Json::parse(r.out, "stats --json");
    for (const util::Json& c : doc.get("counters").items()) {
      actions[c.get("source").as_string()] = c.get("action").as_string();
    }
    EXPECT_EQ(actions, (std::map<std::string, std::string>{{"ad", "drop"}, {"is", "drop"}, {"li", "drop"}}));
    // A shape not by source yet (direction both): the single set, no rows,
    // and the same countries still blocked.
    util::write_file_atomic(dir / "geoblock.conf.orig", util::read_file(conf), 0644);
    std::string text = util::read_file(conf) + "direction = both\n";
    util::write_file_atomic(conf, text, 0644);
    r = test::run_geoblock({"update", "--quiet", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = test::run_geoblock({"stats", "--json", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(util::Json::parse(r.out, "stats --json").get("counters").items().empty()) << r.out;
    r = test::run_geoblock({"status", "--config", conf});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    // count-by-source = false: the merged set again, no rows.
    util::write_file_atomic(conf, util::read_file(dir / "geoblock.conf.orig"), 0644);
    util::write_file_atomic(conf, util::read_file(conf) + "count-by-source = false\n", 0644);
    r = test::run_geoblock({"update", "--quiet", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = test::run_geoblock({"stats", "--json", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(util::Json::parse(r.out, "stats --json").get("counters").items().empty()) << r.out;
    // A plain set again: nft lists it as a set (a map it would refuse).
    EXPECT_NE(
        test::run_checked({"nft", "list", "set", "inet", "geoblock", "geoblock-v4"}).find("set geoblock-v4"),
        std::string::npos);
  });
}
