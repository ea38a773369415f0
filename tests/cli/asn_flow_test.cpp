// The autonomous systems (asn, allow-asn, asn-file) and source mmdb through
// the command flow, in process against fakes (an in-memory firewall, a set
// clock, a file:// mirror): what status lists of the ASN data's last good
// copies, the ASes in the JSON report and state.json, what check says of
// an address. The kernel and the privilege separation are in
// mmdb_asn_e2e_test.cpp.
#include "cli/cli.hpp"
#include "cli/options.hpp"
#include "core/log.hpp"
#include "flow/commands.hpp"
#include "support/fake_backend.hpp"
#include "support/mmdb_writer.hpp"
#include "support/temp_dir.hpp"
#include "util/json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace geoblock::test {
namespace {

using test::MmdbMap;
using test::MmdbWriter;
using testing::HasSubstr;

constexpr std::int64_t k_now = 1'795'000'000; // 2026-11-18

class AsnFlow : public ::testing::Test {
protected:
  AsnFlow()
  {
    std::filesystem::create_directories(dir / "mirror/ipblocks/data/countries");
    std::filesystem::create_directories(dir / "mirror/ipv6/ipaddresses/blocks");
    zone("cn", "198.51.100.0/24\n");
    asn_data("203.0.113.0\t203.0.113.127\t64496\tUS\tExample Hosting\n"
             "198.51.100.192\t198.51.100.255\t64497\tCN\tExample Office\n");
    log::set_level(log::Level::Quiet);
  }
  ~AsnFlow() override { log::set_level(log::Level::Normal); }

  void zone(const std::string& cc, const std::string& body)
  {
    std::ofstream(dir / ("mirror/ipblocks/data/countries/" + cc + ".zone"), std::ios::trunc) << body;
  }
  void asn_data(const std::string& tsv) { dir.write("ip2asn-v4.tsv", tsv); }

  // Runs a configured command with `extra` configuration; its output in
  // `out`.
  ExitCode run(std::vector<std::string> args, const std::string& extra = "")
  {
    const std::string conf =
        dir.write("geoblock.conf", "countries = cn\nfamily = v4\nbase-url = file://" + dir / "mirror" +
                                       "\nasn-file = " + dir / "ip2asn-v4.tsv" +
                                       "\ncache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                                       "\nlock-file = " + dir / "lock" + "\n" + extra);
    args.insert(args.begin(), "geoblock");
    args.push_back("--config");
    args.push_back(conf);
    std::vector<const char*> argv;
    for (const auto& a : args) {
      argv.push_back(a.c_str());
    }
    const cli::Invocation inv = cli::parse_command_line(static_cast<int>(argv.size()), argv.data());
    flow::Environment env{backend, [] { return k_now; }, true};
    testing::internal::CaptureStdout();
    ExitCode code = ExitCode::Runtime;
    error.clear();
    try {
      code = cli::run_configured(inv, env);
    } catch (const Error& e) {
      error = e.what();
      code = e.code();
    }
    out = testing::internal::GetCapturedStdout();
    return code;
  }

  util::Json state() const
  {
    std::ifstream in(dir / "state/state.json");
    return util::Json::parse(
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()), "state.json");
  }

  TempDir dir;
  FakeBackend backend;
  std::string out;
  std::string error;
};

// status lists the ASN data's last good copies beside the zones' cache.
TEST_F(AsnFlow, StatusListsTheLastGoodCopiesOfTheAsnData)
{
  ASSERT_EQ(run({"update"}, "asn = 64496\n"), ExitCode::Ok) << error;
  ASSERT_EQ(run({"status", "--json"}, "asn = 64496\n"), ExitCode::Ok) << error << out;
  const util::Json doc = util::Json::parse(out, "status");
  bool listed = false;
  for (const util::Json& c : doc.get("cache").items()) {
    if (c.get("file").as_string().rfind("ip2asn-v4.tsv-", 0) == 0) {
      listed = true;
      EXPECT_TRUE(c.get("body_ok").as_bool()) << out;
    }
  }
  EXPECT_TRUE(listed) << out;
  // Damaged while the file is gone (a readable file is copied again by
  // the read status makes), it is named in the text.
  std::filesystem::remove(dir / "ip2asn-v4.tsv");
  for (const auto& e : std::filesystem::directory_iterator(dir / "cache/asn")) {
    if (e.path().extension() != ".meta") {
      std::ofstream(e.path(), std::ios::app) << "203.0.113.128\t203.0.113.255\t64496\tUS\tX\n";
    }
  }
  // (Without the AS's data the block it had differs from what the cache
  // rebuilds: drift, exit code 5.)
  EXPECT_EQ(run({"status"}, "asn = 64496\n"), ExitCode::Drift) << error << out;
  EXPECT_THAT(out, HasSubstr("  cache ip2asn-v4.tsv-"));
  EXPECT_THAT(out, HasSubstr(", BODY MISSING OR CORRUPT"));
  EXPECT_THAT(out, HasSubstr(dir / "cache/asn"));
}

// state.json lists the ASes under "asns"; one written before that key
// existed (a blocked AS as the blocklist "asn:NUMBER:FILES") is still what
// the first update after an upgrade compares with.
TEST_F(AsnFlow, TheStateFileListsTheAsesAndAnOlderOneIsStillComparedWith)
{
  const std::string conf = "asn = AS64496\nallow-asn = 64497\n";
  ASSERT_EQ(run({"update"}, conf), ExitCode::Ok) << error;
  util::Json doc = state();
  EXPECT_TRUE(doc.get("blocklists").items().empty()) << doc.dump(2);
  ASSERT_EQ(doc.get("asns").items().size(), 2u) << doc.dump(2);
  EXPECT_EQ(doc.get("asns").items()[0].get("as").as_int(), 64496);
  EXPECT_EQ(doc.get("asns").items()[0].get("action").as_string(), "block");
  EXPECT_EQ(doc.get("asns").items()[1].get("action").as_string(), "allow");

  // The same document in the form before: the blocked AS a blocklist.
  const util::Json as = doc.get("asns").items()[0];
  util::Json list = util::Json::object();
  list.set("name", "AS64496 Example Hosting");
  list.set("location", "asn:64496:" + dir / "ip2asn-v4.tsv");
  list.set("v4", as.get("v4"));
  list.set("v6", util::Json());
  util::Json lists = util::Json::array();
  lists.push(std::move(list));
  util::Json old = util::Json::object();
  for (const auto& [key, value] : doc.members()) {
    if (key != "asns") {
      old.set(key, key == "blocklists" ? lists : value);
    }
  }
  dir.write("state/state.json", old.dump(2));

  ASSERT_EQ(run({"update"}, conf), ExitCode::Ok) << "nothing shrank: " << error;
  dir.write("state/state.json", old.dump(2));
  asn_data("203.0.113.0\t203.0.113.15\t64496\tUS\tExample Hosting\n"
           "198.51.100.192\t198.51.100.255\t64497\tCN\tExample Office\n"); // /25 -> /28
  ASSERT_EQ(run({"update"}, conf), ExitCode::Safety) << error;
  EXPECT_THAT(error, HasSubstr("refusing asn AS64496 Example Hosting IPv4: 1 to 1 networks (-88% of the "
                               "addresses, more than max-shrink 50%) against what the update of "));
  ASSERT_EQ(run({"update", "--force"}, conf), ExitCode::Ok) << error;
  doc = state();
  EXPECT_EQ(doc.get("asns").items()[0].get("v4").get("addresses").as_double(), 16.0) << doc.dump(2);
  EXPECT_TRUE(doc.get("blocklists").items().empty());
}

// check names the AS of any address the ASN data holds, with no AS
// configured to block or allow, and the country with source mmdb.
TEST_F(AsnFlow, CheckNamesTheAsAndCountryOfEveryAddressTheDataHolds)
{
  ASSERT_EQ(run({"update"}), ExitCode::Ok) << error;
  ASSERT_EQ(run({"check", "203.0.113.10", "198.51.100.7", "192.0.2.1"}), ExitCode::Ok) << error;
  EXPECT_THAT(out,
              HasSubstr("203.0.113.10: not blocked: in none of the listed countries; AS: AS64496 Example "
                        "Hosting (203.0.113.0/25): not listed\n"));
  EXPECT_THAT(out, HasSubstr("198.51.100.7: blocked by cn (198.51.100.0/24); AS: none in the data\n"));
  EXPECT_THAT(out,
              HasSubstr("192.0.2.1: not blocked: in none of the listed countries; AS: none in the data\n"));

  // An IPinfo-style database with country and AS, as source mmdb.
  MmdbWriter w(4, 24, "ipinfo country_asn.mmdb");
  w.insert(net::Prefix4{*net::parse_v4("198.51.100.0"), 24},
           MmdbMap{{"country", "CN"}, {"asn", "AS64500"}, {"as_name", "Example Mobile"}});
  w.insert(net::Prefix4{*net::parse_v4("192.0.2.0"), 24}, MmdbMap{{"country", "DE"}});
  const std::string mmdb = "source = mmdb\nmmdb-file = " + dir.write("country_asn.mmdb", w.bytes()) + "\n";
  ASSERT_EQ(run({"update"}, mmdb), ExitCode::Ok) << error;
  ASSERT_EQ(run({"check", "198.51.100.7", "192.0.2.1", "203.0.113.10"}, mmdb), ExitCode::Ok) << error;
  EXPECT_THAT(out,
              HasSubstr("198.51.100.7: blocked by cn (198.51.100.0/24); country: cn (198.51.100.0/24): "
                        "listed, blocks it; AS: AS64500 Example Mobile (198.51.100.0/24): not listed\n"));
  EXPECT_THAT(out, HasSubstr("192.0.2.1: not blocked: in none of the listed countries; country: de "
                             "(192.0.2.0/24): not listed; AS: none in the data\n"));
  EXPECT_THAT(out,
              HasSubstr("203.0.113.10: not blocked: in none of the listed countries; country: none in the "
                        "data; AS: AS64496 Example Hosting (203.0.113.0/25): not listed\n"));
}

} // namespace
} // namespace geoblock::test
