// geoblock.conf.example documents every key the binary accepts, with the
// binary's own defaults, and is accepted by the configuration parser;
// countries.cfg.example is a valid countries file.
#include "ops/ops_support.hpp"

#include "cli/options.hpp"
#include "flow/config.hpp"
#include "util/file.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace geoblock::test::ops {
namespace {

const std::string k_conf = std::string(GEOBLOCK_SOURCE_DIR) + "/geoblock.conf.example";
const std::string k_countries = std::string(GEOBLOCK_SOURCE_DIR) + "/countries.cfg.example";

// key -> default ("" when the option shows none), from the section of
// "geoblock update --help" that lists the configuration keys.
std::map<std::string, std::string>
keys_of_the_binary()
{
  const ProcResult help = run({GEOBLOCK_BINARY, "update", "--help"});
  EXPECT_EQ(help.status, 0) << help.both();
  const auto start = help.out.find("Configuration");
  EXPECT_NE(start, std::string::npos) << help.out;
  std::map<std::string, std::string> keys;
  const std::regex option(R"(^  --([a-z0-9-]+)( [^ (]+)?( \(=([^)]*)\))?)");
  for (const auto& line : lines_of(help.out.substr(start))) {
    std::smatch m;
    if (std::regex_search(line, m, option)) {
      keys[m[1]] = m[4];
    }
  }
  return keys;
}

// Documented "#key = value" lines of the example: key -> values in order.
std::map<std::string, std::vector<std::string>>
documented_keys()
{
  std::map<std::string, std::vector<std::string>> keys;
  const std::regex doc(R"(^#([a-z0-9-]+) = (.*)$)");
  for (const auto& line : lines_of(read_text(k_conf))) {
    std::smatch m;
    if (std::regex_match(line, m, doc)) {
      keys[m[1]].push_back(m[2]);
    }
  }
  return keys;
}

std::string
normal_bool(const std::string& v)
{
  if (v == "false" || v == "no" || v == "off") {
    return "0";
  }
  if (v == "true" || v == "yes" || v == "on") {
    return "1";
  }
  return v;
}

TEST(Examples, ConfDocumentsEveryKeyWithTheBinarysDefault)
{
  const auto binary = keys_of_the_binary();
  const auto documented = documented_keys();
  ASSERT_FALSE(binary.empty());
  for (const auto& [key, def] : binary) {
    ASSERT_TRUE(documented.count(key)) << "geoblock.conf.example does not document '" << key << "'";
    if (!def.empty()) {
      EXPECT_EQ(normal_bool(documented.at(key).front()), def) << "default of '" << key << "'";
    }
  }
  for (const auto& [key, values] : documented) {
    EXPECT_TRUE(binary.count(key)) << "geoblock.conf.example documents '" << key
                                   << "', which the binary lacks";
  }
  // Nothing is active: installed as /etc/geoblock/geoblock.conf, the example
  // must not change any default.
  for (const auto& line : lines_of(read_text(k_conf))) {
    const std::string t = trim(line);
    EXPECT_TRUE(t.empty() || t[0] == '#') << "active line: " << line;
  }
}

TEST(Examples, ConfWithEveryDefaultUncommentedIsAccepted)
{
  // Uncomment every key that has a default (those without one show an
  // example path that does not exist here), then parse and validate it as
  // "geoblock update" does.
  const auto binary = keys_of_the_binary();
  std::string conf;
  int active = 0;
  const std::regex doc(R"(^#([a-z0-9-]+) = (.*)$)");
  for (const auto& line : lines_of(read_text(k_conf))) {
    std::smatch m;
    if (std::regex_match(line, m, doc) && binary.count(m[1]) && !binary.at(m[1]).empty()) {
      conf += line.substr(1) + "\n";
      ++active;
    } else {
      conf += line + "\n";
    }
  }
  ASSERT_GT(active, 10);
  TempDir dir;
  const std::string conf_path = dir.write("geoblock.conf", conf);
  const std::string countries_path = dir.write("countries.cfg", read_text(k_countries));
  const char* argv[] = {"geoblock",        "update",           "--dry-run",           "--config",
                        conf_path.c_str(), "--countries-file", countries_path.c_str()};
  const cli::Invocation inv = cli::parse_command_line(7, argv);
  EXPECT_EQ(inv.command, cli::Command::Update);
  const flow::Settings s = flow::validate(inv.config, flow::Countries::Required);
  EXPECT_EQ(s.countries, flow::parse_countries_file(read_text(k_countries), k_countries));
  EXPECT_EQ(s.families, net::Families::Both);
  EXPECT_FALSE(s.allow_only);
}

TEST(Examples, CountriesExampleIsAValidList)
{
  const auto codes = flow::parse_countries_file(read_text(k_countries), k_countries);
  ASSERT_FALSE(codes.empty());
  const std::set<std::string> unique(codes.begin(), codes.end());
  EXPECT_EQ(unique.size(), codes.size()) << "a country listed twice";
  // What the comments promise: upper case and several codes per line work.
  const auto more = flow::parse_countries_file("CN\nru, kp ir  # four\n", "inline");
  EXPECT_EQ(more, (std::vector<std::string>{"cn", "ru", "kp", "ir"}));
}

} // namespace
} // namespace geoblock::test::ops
