// source = mmdb and the autonomous systems (asn, allow-asn), end to end:
// the real geoblock binary as root, so the databases and ASN data are
// read by the unprivileged fetching process and handed over; with packets
// through both backends in network namespaces the tests create. The
// databases are written by tests/support/mmdb_writer.hpp. Only test
// addresses: clients in 198.51.100.0/24 and 203.0.113.0/24.
#include "support/geoblock_binary.hpp"
#include "support/mmdb_writer.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"
#include "util/json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

namespace {

using namespace geoblock;
using test::flat_country;
using test::maxmind_country;
using test::MmdbMap;
using test::MmdbWriter;
using test::run_geoblock;
using testing::HasSubstr;

net::Prefix4
p4(const char* addr, int len)
{
  return net::Prefix4{*net::parse_v4(addr), static_cast<std::uint8_t>(len)};
}

// The country database: cn = 198.51.100.0/24, ru = 203.0.113.0/24, in an
// IPv6 GeoLite2-style database with MaxMind's aliases.
std::string
country_database()
{
  MmdbWriter w(6, 28, "GeoLite2-Country");
  w.insert(p4("198.51.100.0", 24), maxmind_country("CN"));
  w.insert(p4("203.0.113.0", 24), maxmind_country("RU"));
  w.insert(net::Prefix6{*net::parse_v6("2001:db8::"), 32}, maxmind_country("CN"));
  w.add_ipv4_aliases();
  return w.bytes();
}

// The ASN database: AS64496 holds 203.0.113.0/25, AS64497 holds
// 198.51.100.192/26 (inside cn), AS64499 192.0.2.0/25 (in no country).
std::string
asn_database()
{
  MmdbWriter w(4, 24, "GeoLite2-ASN");
  w.insert(p4("192.0.2.0", 25), MmdbMap{{"autonomous_system_number", 64499},
                                        {"autonomous_system_organization", "Example Transit"}});
  w.insert(p4("203.0.113.0", 25), MmdbMap{{"autonomous_system_number", 64496},
                                          {"autonomous_system_organization", "Example Hosting"}});
  w.insert(p4("198.51.100.192", 26), MmdbMap{{"autonomous_system_number", 64497},
                                             {"autonomous_system_organization", "Example Office"}});
  return w.bytes();
}

std::string
config(const test::TempDir& dir, const std::string& extra)
{
  return dir.write("geoblock.conf", "source = mmdb\nmmdb-file = " + dir / "country.mmdb" +
                                        "\nasn-file = " + dir / "asn.mmdb" +
                                        "\ncache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                                        "\nlock-file = " + dir / "lock" + "\n" + extra);
}

TEST(MmdbAsnEndToEnd, ADryRunReadsTheDatabasesInTheFetcherAndShowsOneRowPerAs)
{
  test::TempDir dir;
  // Root-only files: the fetching process reads them through descriptors.
  dir.write("country.mmdb", country_database(), 0600);
  dir.write("asn.mmdb", asn_database(), 0600);
  const std::string conf = config(dir, "countries = cn\nasn = AS64496\nallow-asn = 64497\n");
  auto r = run_geoblock({"update", "--dry-run", "--config", conf});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("AS64496 Example Hosting"));
  EXPECT_THAT(r.err,
              HasSubstr("country from country.iso_code (database_type GeoLite2-Country: MaxMind's layout)"));
  EXPECT_THAT(r.err, HasSubstr("allow-asn AS64497 Example Office: 1 IPv4 and 0 IPv6 networks never blocked"));

  r = run_geoblock({"update", "--dry-run", "--json", "--config", conf});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const util::Json doc = util::Json::parse(r.out, "report");
  // cn minus the allowed AS, plus the blocked AS: 198.51.100.0/25,
  // 198.51.100.128/26, 203.0.113.0/25 and cn's IPv6.
  EXPECT_EQ(doc.get("totals").get("v4").get("entries").as_int(), 3) << r.out;
  EXPECT_EQ(doc.get("asns").items().at(0).get("name").as_string(), "Example Hosting") << r.out;
  EXPECT_EQ(doc.get("asns").items().at(0).get("as").as_int(), 64496) << r.out;
  EXPECT_EQ(doc.get("asns").items().at(1).get("action").as_string(), "allow") << r.out;

  // check names the country and the AS of every address the data holds,
  // configured or not: looked up by the fetching process in the
  // databases it reads (root-only files here), checked again by root.
  const auto ck = run_geoblock({"check", "--config", conf, "192.0.2.10", "203.0.113.200", "2001:db8::1"});
  EXPECT_THAT(ck.out, HasSubstr("192.0.2.10: not blocked: in none of the listed countries; country: none in "
                                "the data; AS: AS64499 Example Transit (192.0.2.0/25): not listed\n"))
      << ck.out << ck.err;
  EXPECT_THAT(ck.out, HasSubstr("203.0.113.200: not blocked: in none of the listed countries; country: ru "
                                "(203.0.113.0/24): not listed; AS: none in the data\n"));
  EXPECT_THAT(ck.out, HasSubstr("2001:db8::1: blocked by cn (2001:db8::/32); country: cn (2001:db8::/32): "
                                "listed, blocks it; AS: none in the data\n"));

  // status lists every last good copy, the ASN data's too, intact: hashed
  // by root against the metadata the fetcher wrote, never opened by root
  // as a database.
  const auto st = run_geoblock({"status", "--json", "--config", conf});
  const util::Json status = util::Json::parse(st.out, "status");
  std::vector<std::string> copies;
  for (const util::Json& c : status.get("cache").items()) {
    EXPECT_TRUE(c.get("body_ok").as_bool()) << st.out;
    copies.push_back(c.get("file").as_string().substr(0, 9));
  }
  EXPECT_THAT(copies, testing::UnorderedElementsAre("country.m", "asn.mmdb-")) << st.out;
}

TEST(MmdbAsnEndToEnd, ADamagedDatabaseIsOneErrorNamingItAndTheLastGoodCopyServes)
{
  test::TempDir dir;
  dir.write("country.mmdb", country_database());
  dir.write("asn.mmdb", asn_database());
  const std::string conf = config(dir, "countries = cn\n");
  auto r = run_geoblock({"update", "--dry-run", "--config", conf});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // status lists the last good copy, with the database's age.
  const auto st = run_geoblock({"status", "--config", conf});
  EXPECT_THAT(st.out, HasSubstr("cache country.mmdb-")) << st.out << st.err;

  const std::string good = country_database();
  dir.write("country.mmdb", good.substr(0, good.size() - 40)); // the metadata cut
  r = run_geoblock({"update", "--dry-run", "--json", "--config", conf});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr(dir / "country.mmdb" + ": cannot read as a MaxMind database"));
  const util::Json doc = util::Json::parse(r.out, "report");
  EXPECT_EQ(doc.get("totals").get("v4").get("entries").as_int(), 1) << r.out; // cn from the last good copy
}

TEST(MmdbAsnEndToEnd, DownloadsAreFetchedByTheFetcherAndKeptAsLastGoodCopies)
{
  test::TempDir dir;
  dir.write("www/country.mmdb", country_database());
  dir.write("www/ip2asn-v4.tsv", "203.0.113.0\t203.0.113.127\t64496\tUS\tExample Hosting\n");
  const std::string conf = dir.write(
      "geoblock.conf", "source = mmdb\nmmdb-url = file://" + dir / "www/country.mmdb" +
                           "\nasn-url = file://" + dir / "www/ip2asn-v4.tsv" +
                           "\nasn = 64496\ncache-dir = " + dir / "cache" + "\nstate-dir = " + dir / "state" +
                           "\nlock-file = " + dir / "lock" + "\ncountries = cn\nfamily = v4\n");
  auto r = run_geoblock({"update", "--dry-run", "--config", conf});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("downloaded from mmdb"));
  EXPECT_THAT(r.out, HasSubstr("AS64496 Example Hosting"));
  // Both upstream files gone: the last good copies serve, exit 4.
  std::filesystem::remove(dir / "www/country.mmdb");
  std::filesystem::remove(dir / "www/ip2asn-v4.tsv");
  r = run_geoblock({"update", "--dry-run", "--json", "--config", conf});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  const util::Json doc = util::Json::parse(r.out, "report");
  EXPECT_EQ(doc.get("totals").get("v4").get("entries").as_int(), 2) << r.out; // cn and the AS
}

// Blocks cn (from the database) and AS64496, allows AS64497 inside cn,
// then checks packets from each kind of client, on both backends.
TEST(MmdbAsnEndToEnd, AsnBlocksItsRangesAndAllowAsnLetsOneThroughInsideABlockedCountry)
{
  GEOBLOCK_REQUIRE_NETNS();
  for (const char* backend : {"iptables", "nftables"}) {
    SCOPED_TRACE(backend);
    test::in_fresh_netns([backend] {
      test::TempDir dir;
      dir.write("country.mmdb", country_database());
      dir.write("asn.mmdb", asn_database());
      test::NamedNetns client;
      test::link_veth(nullptr, "gbh", {"198.51.100.1/24", "203.0.113.1/24"}, &client, "gbc",
                      {"198.51.100.10/24", "198.51.100.200/24", "203.0.113.10/24", "203.0.113.200/24"});
      test::TcpServer web(nullptr, "0.0.0.0", 80);
      const auto blocked = [&](const char* from, const char* to) {
        return !test::tcp_connect(&client, from, to, 80, std::chrono::milliseconds(700));
      };
      const auto allowed = [&](const char* from, const char* to) {
        return test::eventually_connects(&client, from, to, 80);
      };
      const std::string conf = config(dir, std::string("countries = cn\nfamily = v4\nbackend = ") + backend +
                                               "\nasn = AS64496\nallow-asn = 64497\n");
      const auto r = run_geoblock({"update", "--config", conf});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_TRUE(blocked("198.51.100.10", "198.51.100.1")) << "cn";
      EXPECT_TRUE(allowed("198.51.100.200", "198.51.100.1")) << "cn, but in allow-asn AS64497";
      EXPECT_TRUE(blocked("203.0.113.10", "203.0.113.1")) << "ru, not listed, but in asn AS64496";
      EXPECT_TRUE(allowed("203.0.113.200", "203.0.113.1")) << "ru, not listed, in no AS";

      const auto c = run_geoblock({"check", "--config", conf, "203.0.113.10", "198.51.100.200"});
      EXPECT_THAT(c.out, HasSubstr("203.0.113.10: blocked by AS64496 Example Hosting (203.0.113.0/25, asn); "
                                   "country: ru (203.0.113.0/24): not listed; AS: AS64496 Example Hosting "
                                   "(203.0.113.0/25): asn, blocks it\n"));
      EXPECT_THAT(c.out, HasSubstr("198.51.100.200: allowed by allow-asn AS64497 Example Office "
                                   "(198.51.100.192/26); country: cn (198.51.100.0/24): listed, not blocked "
                                   "here; AS: AS64497 Example Office (198.51.100.192/26): allow-asn, never "
                                   "blocked\n"));
    });
  }
}

// max-shrink guards each blocked AS against what the last update applied:
// AS data that suddenly covers far fewer addresses refuses the update
// (exit 3, the live set untouched) until --force.
TEST(MmdbAsnEndToEnd, AnAsThatShrankBeyondMaxShrinkIsRefused)
{
  GEOBLOCK_REQUIRE_NETNS();
  test::in_fresh_netns([] {
    test::TempDir dir;
    dir.write("country.mmdb", country_database());
    const std::string tsv =
        dir.write("ip2asn-v4.tsv", "203.0.113.0\t203.0.113.127\t64496\tUS\tExample Hosting\n");
    const std::string conf = dir.write(
        "geoblock.conf",
        "source = mmdb\nmmdb-file = " + dir / "country.mmdb" + "\nasn-file = " + tsv +
            "\nasn = 64496\ncountries = cn\nfamily = v4\nbackend = nftables\ncache-dir = " + dir / "cache" +
            "\nstate-dir = " + dir / "state" + "\nlock-file = " + dir / "lock" + "\n");
    auto r = run_geoblock({"update", "--config", conf});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    dir.write("ip2asn-v4.tsv", "203.0.113.0\t203.0.113.15\t64496\tUS\tExample Hosting\n"); // /25 -> /28
    r = run_geoblock({"update", "--config", conf});
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_THAT(r.err, HasSubstr("asn AS64496 Example Hosting IPv4")) << r.err;
    const auto check = run_geoblock({"check", "--config", conf, "203.0.113.100"});
    EXPECT_THAT(check.out, HasSubstr("live firewall: DIFFERS")) << check.out; // the /25 is still live
    r = run_geoblock({"update", "--force", "--config", conf});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  });
}

} // namespace
