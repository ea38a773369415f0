// What `geoblock stats`, its JSON and the metrics file make of per-source
// counters (flow/stats.hpp), checked on random counters against what the
// accounting documentation promises: most packets first, the first N
// rows, bars scaled to the largest, a total over every counter, and one
// metric series per source, family, direction and action.
#include "flow/report.hpp"
#include "flow/stats.hpp"

#include <gtest/gtest.h>

#include <random>
#include <sstream>

namespace {

using namespace geoblock;
using flow::SourceCounter;

std::vector<SourceCounter>
random_counters(std::mt19937_64& rng)
{
  const char* sources[] = {"nz", "au", "cn", "list:drop.txt", "as:64496", "ru"};
  const char* hooks[] = {"raw", "input"};
  const char* actions[] = {"drop", "reject", "count", "limit"};
  std::vector<SourceCounter> rows;
  for (const char* s : sources) {
    for (const char* f : {"v4", "v6"}) {
      if (rng() % 3 == 0) {
        continue;
      }
      SourceCounter r;
      r.source = s;
      r.family = f;
      r.direction = rng() % 4 == 0 ? "out" : "in";
      r.hook = hooks[rng() % 2];
      r.action = actions[rng() % 4];
      // Wide ranges, ties and zeros.
      const int scale = static_cast<int>(rng() % 4);
      r.packets = scale == 0 ? 0 : rng() % (scale == 1 ? 10 : scale == 2 ? 100000 : 1ull << 40);
      r.bytes = r.packets * (40 + rng() % 1400);
      rows.push_back(r);
    }
  }
  std::shuffle(rows.begin(), rows.end(), rng);
  return rows;
}

std::vector<std::string>
lines_of(const std::string& text)
{
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    out.push_back(l);
  }
  return out;
}

// What follows the first `n` cells (code points) of a line.
std::string
after_cells(const std::string& line, int n)
{
  std::size_t i = 0;
  for (int cell = 0; cell < n && i < line.size(); ++cell) {
    ++i;
    while (i < line.size() && (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) {
      ++i;
    }
  }
  return line.substr(i);
}

// The packets column of a row: the first blank-separated word made of
// digits and commas after the bar.
std::uint64_t
packets_of(const std::string& line)
{
  std::istringstream in(after_cells(line, 20));
  for (std::string word; in >> word;) {
    if (word.find_first_not_of("0123456789,") == std::string::npos) {
      word.erase(std::remove(word.begin(), word.end(), ','), word.end());
      return std::stoull(word);
    }
  }
  return ~std::uint64_t{0};
}

// The bar's length in eighths of a cell.
int
eighths(const std::string& bar)
{
  int n = 0;
  for (std::size_t i = 0; i + 2 < bar.size(); i += 3) {
    const unsigned char c = static_cast<unsigned char>(bar[i + 2]);
    if (static_cast<unsigned char>(bar[i]) == 0xE2 && static_cast<unsigned char>(bar[i + 1]) == 0x96) {
      n += c == 0x88 ? 8 : 0x8F - c + 1; // U+2588 full, U+2589..U+258F seven eighths down to one
    }
  }
  return n;
}

TEST(Stats, TextListsMostPacketsFirstWithBarsScaledToTheLargestAndATotalOfAll)
{
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 300; ++round) {
    const auto rows = random_counters(rng);
    if (rows.empty()) {
      continue;
    }
    const std::size_t top = rng() % 2 ? 0 : 1 + rng() % rows.size();
    const auto lines = lines_of(flow::format_stats(rows, top));
    const std::size_t shown = top == 0 ? rows.size() : std::min(top, rows.size());
    ASSERT_EQ(lines.size(), shown + 2) << "a header, the rows, a total";
    std::uint64_t total = 0;
    std::uint64_t largest = 0;
    for (const auto& r : rows) {
      total += r.packets;
      largest = std::max(largest, r.packets);
    }
    auto rows_sorted = rows;
    flow::sort_counters(rows_sorted);
    std::uint64_t previous = ~std::uint64_t{0};
    for (std::size_t i = 1; i <= shown; ++i) {
      const std::string& l = lines[i];
      const std::uint64_t p = packets_of(l);
      EXPECT_EQ(p, rows_sorted[i - 1].packets) << l;
      EXPECT_LE(p, previous) << "sorted by packets: " << l;
      previous = p;
      // The bar: full for the largest, none for zero, proportional between.
      const int e = eighths(l.substr(0, l.size() - after_cells(l, 20).size()));
      if (p == largest && p > 0) {
        EXPECT_EQ(e, 160) << l;
      } else if (p == 0) {
        EXPECT_EQ(e, 0) << l;
      } else {
        const double want = static_cast<double>(p) / static_cast<double>(largest) * 160;
        EXPECT_NEAR(e, std::max(1.0, want), 1.0) << l;
      }
    }
    EXPECT_EQ(after_cells(lines.back(), 22).rfind("total", 0), 0u) << lines.back();
    EXPECT_EQ(packets_of(lines.back()), total) << "the total counts every counter, shown or not";
  }
}

TEST(Stats, JsonIsTheDocumentedShapeSortedAndCut)
{
  std::vector<SourceCounter> rows = {{"au", "v6", "in", "raw", "count", 5, 500},
                                     {"nz", "v4", "in", "raw", "drop", 70, 4480},
                                     {"list:drop.txt", "v4", "out", "output", "reject", 9, 540}};
  EXPECT_EQ(flow::stats_json(rows, 2).dump(-1),
            R"({"counters":[{"source":"nz","family":"v4","direction":"in","hook":"raw","action":"drop",)"
            R"("packets":70,"bytes":4480},{"source":"list:drop.txt","family":"v4","direction":"out",)"
            R"("hook":"output","action":"reject","packets":9,"bytes":540}]})");
  // And back, as the state document carries them.
  auto back = flow::counters_from_json(flow::stats_json(rows).get("counters"));
  flow::sort_counters(rows);
  EXPECT_EQ(back, rows);
}

TEST(Stats, MetricsHaveOneSeriesPerSourceFamilyDirectionAndActionSummedOverHooks)
{
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 200; ++round) {
    const auto rows = random_counters(rng);
    const std::string text = flow::counter_metrics(rows);
    for (const auto& r : rows) {
      std::uint64_t packets = 0;
      std::uint64_t bytes = 0;
      for (const auto& o : rows) {
        if (o.source == r.source && o.family == r.family && o.direction == r.direction &&
            o.action == r.action) {
          packets += o.packets;
          bytes += o.bytes;
        }
      }
      const std::string labels = "{source=\"" + r.source + "\",family=\"" + r.family + "\",direction=\"" +
                                 r.direction + "\",action=\"" + r.action + "\"} ";
      EXPECT_NE(text.find("\ngeoblock_packets_total" + labels + std::to_string(packets) + "\n"),
                std::string::npos)
          << text;
      EXPECT_NE(text.find("\ngeoblock_bytes_total" + labels + std::to_string(bytes) + "\n"),
                std::string::npos);
    }
  }
  EXPECT_EQ(flow::label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(Stats, TheMetricsFileCarriesTheStateDocumentsCounters)
{
  util::Json state = util::Json::object();
  state.set("time", 1000);
  state.set("counters", flow::stats_json({{"nz", "v4", "in", "raw", "drop", 3, 180}}).get("counters"));
  const std::string text = flow::format_metrics(state);
  EXPECT_NE(
      text.find("geoblock_packets_total{source=\"nz\",family=\"v4\",direction=\"in\",action=\"drop\"} 3\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE geoblock_bytes_total counter\n"), std::string::npos);
}

TEST(Stats, NoCountersSaysSo)
{
  EXPECT_EQ(flow::format_stats({}), "no counters: nothing configured is counted yet (run geoblock update)\n");
}

} // namespace
