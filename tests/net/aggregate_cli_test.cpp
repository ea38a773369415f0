// `geoblock aggregate` as a user runs it: the golden cases under
// tests/data/aggregate/NN-name/ (in iprange's tests.d style), each run
// through the real binary, plus checks that need more than a fixed text.
//
// A case directory holds:
//   input   standard input (none: empty)
//   args    arguments after "aggregate", one per line (none: no arguments)
//   output  the expected standard output
//   stderr  the expected standard error (none: it must be empty)
//   exit    the expected exit code (none: 0)
// "@DIR@" in args and stderr stands for the case directory, so cases can
// name extra files of their own (allow lists, several inputs).
#include "net_test_util.hpp"

#include <algorithm>
#include <filesystem>

namespace geoblock::net_test {
namespace {

namespace fs = std::filesystem;

const std::string k_cases = std::string(GEOBLOCK_SOURCE_DIR) + "/tests/data/aggregate";

std::vector<std::string>
case_names()
{
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(k_cases, ec)) {
    if (entry.is_directory()) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string
substitute(std::string text, const std::string& dir)
{
  for (std::size_t at = text.find("@DIR@"); at != std::string::npos;
       at = text.find("@DIR@", at + dir.size())) {
    text.replace(at, 5, dir);
  }
  return text;
}

std::vector<std::string>
lines_of(const std::string& text)
{
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      nl = text.size();
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

class GoldenCase : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenCase, MatchesExpectedOutput)
{
  const std::string dir = k_cases + "/" + GetParam();
  const auto has = [&](const char* name) { return fs::exists(dir + "/" + name); };
  std::vector<std::string> argv = {GEOBLOCK_BINARY, "aggregate"};
  if (has("args")) {
    for (const std::string& arg : lines_of(read_text(dir + "/args"))) {
      argv.push_back(substitute(arg, dir));
    }
  }
  const std::string input = has("input") ? read_text(dir + "/input") : "";
  const std::string want_out = read_text(dir + "/output");
  const std::string want_err = has("stderr") ? substitute(read_text(dir + "/stderr"), dir) : "";
  const int want_code = has("exit") ? std::stoi(read_text(dir + "/exit")) : 0;

  TempDir tmp;
  const Ran r = run(argv, input, tmp);
  EXPECT_EQ(r.code, want_code) << r.err;
  EXPECT_EQ(r.out, want_out);
  EXPECT_EQ(r.err, want_err);
}

INSTANTIATE_TEST_SUITE_P(Aggregate, GoldenCase, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& case_info) {
                           std::string name = case_info.param;
                           std::replace_if(
                               name.begin(), name.end(),
                               [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
                           return name;
                         });

TEST(GoldenCases, AreThere)
{
  // A missing data directory must not pass silently as zero cases.
  EXPECT_GE(case_names().size(), 30u) << k_cases;
}

// Checks beyond fixed text -------------------------------------------------

Ran
aggregate(const std::vector<std::string>& args, const std::string& input, const TempDir& dir)
{
  std::vector<std::string> argv = {GEOBLOCK_BINARY, "aggregate"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, input, dir);
}

TEST(AggregateCli, HelpListsTheOptions)
{
  TempDir dir;
  const Ran r = aggregate({"--help"}, "", dir);
  EXPECT_EQ(r.code, 0);
  for (const char* option : {"--family", "--allow", "--allow-file", "--stats", "--guard", "--min-prefix-v4",
                             "--min-prefix-v6", "--ipset-reduce"}) {
    EXPECT_NE(r.out.find(option), std::string::npos) << option;
  }
}

TEST(AggregateCli, StatsGoToStderrAndNameEachSource)
{
  TempDir dir;
  write_text(dir / "a.zone", "# a\n10.0.0.0/9\n10.0.0.1/32\n");
  write_text(dir / "b.zone", "10.128.0.0/9\n2001:db8::/64\n\n");
  const Ran r = aggregate({"--stats", dir / "a.zone", dir / "b.zone"}, "", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "10.0.0.0/8\n2001:db8::/64\n");
  EXPECT_NE(r.err.find("geoblock: stats: " + dir / "a.zone" + ": lines 3, networks 2 (IPv4 2, IPv6 0)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("geoblock: stats: " + dir / "b.zone" + ": lines 3, networks 2 (IPv4 1, IPv6 1)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("IPv4: networks in 3, out 1, prefix lengths 1, addresses 16777216"), std::string::npos)
      << r.err;
  EXPECT_NE(
      r.err.find("IPv6: networks in 1, out 1, prefix lengths 1, addresses 18446744073709551616 (/64s: 1)"),
      std::string::npos)
      << r.err;
}

TEST(AggregateCli, IpsetReduceCutsPrefixLengthsKeepingAddresses)
{
  TempDir dir;
  // Networks of many lengths: /16 ... /30, one each, far apart.
  std::string input;
  for (int len = 16; len <= 30; ++len) {
    input += std::to_string(len) + ".0.0.0/" + std::to_string(len) + "\n";
  }
  const Ran plain = aggregate({"--stats"}, input, dir);
  const Ran reduced = aggregate({"--stats", "--ipset-reduce", "1000"}, input, dir);
  ASSERT_EQ(plain.code, 0) << plain.err;
  ASSERT_EQ(reduced.code, 0) << reduced.err;
  EXPECT_NE(plain.err.find("prefix lengths 15,"), std::string::npos) << plain.err;
  EXPECT_EQ(reduced.err.find("prefix lengths 15,"), std::string::npos) << reduced.err;
  const auto count = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  EXPECT_GT(count(reduced.out), count(plain.out));
  EXPECT_LE(count(reduced.out), 15 * 11); // growth bound: +1000 %
  // The same addresses: aggregating the reduced list gives the plain one.
  const Ran again = aggregate({}, reduced.out, dir);
  EXPECT_EQ(again.out, plain.out);
}

TEST(AggregateCli, LargeInputFromStdinMatchesAFile)
{
  TempDir dir;
  std::string input;
  for (std::uint32_t i = 0; i < 50000; ++i) {
    // Reverse order, every third /24 missing: plenty to sort and merge.
    const std::uint32_t n = 50000 - i;
    if (n % 3 != 0) {
      input += net::address_to_string((0x0a000000u + (n << 8))) + "/24\n";
    }
  }
  write_text(dir / "big.zone", input);
  const Ran from_stdin = aggregate({}, input, dir);
  const Ran from_file = aggregate({dir / "big.zone"}, "", dir);
  EXPECT_EQ(from_stdin.code, 0);
  EXPECT_EQ(from_stdin.out, from_file.out);
  EXPECT_EQ(from_stdin.out.rfind("10.0.1.0/24\n10.0.2.0/24\n", 0), 0u) << from_stdin.out.substr(0, 80);
}

} // namespace
} // namespace geoblock::net_test
