// contrib/grafana/geoblock.json: it parses (strictly), its panels are
// well formed, and every metric its queries name is one the metrics file
// carries (format_metrics of a state document as update and status write
// it, with per-source counters).
#include "flow/report.hpp"
#include "flow/stats.hpp"
#include "net/zone.hpp"
#include "util/file.hpp"
#include "util/json.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace {

using namespace geoblock;

const std::string k_dashboard = std::string(GEOBLOCK_SOURCE_DIR) + "/contrib/grafana/geoblock.json";

void
collect_exprs(const util::Json& j, std::vector<std::string>& out)
{
  if (j.is_object()) {
    for (const auto& [key, value] : j.members()) {
      if (key == "expr") {
        out.push_back(value.as_string());
      } else {
        collect_exprs(value, out);
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j.items()) {
      collect_exprs(v, out);
    }
  }
}

// The metrics file of a host blocking cn (with a blocklist), after an
// update: the state document as report_json writes it, with what update
// adds (in sync, the dropped totals, the per-source counters).
std::string
metrics_file()
{
  net::ZoneResult z;
  z.country = "cn";
  z.family = net::Family::V4;
  z.origin = net::Origin::Downloaded;
  net::parse_zone("198.51.100.0/24\n", "cn", net::ZoneOptions{}, z.nets);
  net::BlocklistResult b;
  b.name = "drop.txt";
  b.location = "https://example.org/drop.txt";
  b.origin = net::Origin::Downloaded;
  flow::Settings s;
  s.countries = {"cn"};
  util::Json state = flow::report_json(flow::make_report({z}, {b}, s, 1000), s, false, 1000);
  state.set("in_sync", true);
  util::Json dropped = util::Json::object();
  dropped.set("v4", util::Json::object());
  state.set("dropped", std::move(dropped));
  state.set("counters", flow::stats_json({{"cn", "v4", "in", "raw", "drop", 7, 420},
                                          {"list:drop.txt", "v4", "in", "raw", "count", 1, 60}})
                            .get("counters"));
  return flow::format_metrics(state);
}

TEST(Dashboard, ParsesAndEveryMetricItNamesIsInTheMetricsFile)
{
  const util::Json dash = util::Json::parse(util::read_file(k_dashboard), k_dashboard);
  std::vector<std::string> exprs;
  collect_exprs(dash, exprs);
  ASSERT_GE(exprs.size(), 5u);
  const std::string metrics = metrics_file();
  std::set<std::string> named;
  const std::regex metric(R"(geoblock_[a-z0-9_]+)");
  for (const std::string& e : exprs) {
    for (std::sregex_iterator it(e.begin(), e.end(), metric), end; it != end; ++it) {
      named.insert(it->str());
    }
  }
  EXPECT_TRUE(named.count("geoblock_packets_total")) << "drops per country over time";
  for (const std::string& name : named) {
    EXPECT_NE(metrics.find("# TYPE " + name + " "), std::string::npos)
        << name << " is not in the metrics file:\n"
        << metrics;
  }
  // Labels a query groups or filters by exist on the series.
  const auto series = metrics.find("\ngeoblock_packets_total{");
  ASSERT_NE(series, std::string::npos) << metrics;
  const std::string first = metrics.substr(series + 1, metrics.find('\n', series + 1) - series - 1);
  for (const char* label : {"source=", "family=", "direction=", "action="}) {
    EXPECT_NE(first.find(label), std::string::npos) << label << " in " << first;
  }
}

TEST(Dashboard, PanelsAreWellFormedAndUseTheImportedDataSource)
{
  const util::Json dash = util::Json::parse(util::read_file(k_dashboard), k_dashboard);
  EXPECT_EQ(dash.get("uid").as_string(), "geoblock");
  EXPECT_EQ(dash.get("__inputs").items().at(0).get("name").as_string(), "DS_PROMETHEUS");
  std::set<std::int64_t> ids;
  for (const util::Json& p : dash.get("panels").items()) {
    const std::string title = p.get("title").as_string();
    EXPECT_FALSE(title.empty());
    EXPECT_TRUE(ids.insert(p.get("id").as_int(-1)).second) << "panel id used twice: " << title;
    EXPECT_EQ(p.get("datasource").get("uid").as_string(), "${DS_PROMETHEUS}") << title;
    const util::Json& g = p.get("gridPos");
    EXPECT_GE(g.get("w").as_int(), 1) << title;
    EXPECT_LE(g.get("x").as_int() + g.get("w").as_int(), 24) << title;
    EXPECT_FALSE(p.get("targets").items().empty()) << title;
  }
}

} // namespace
