// asn-file (source/asn_source.hpp): the formats detected per file (.mmdb
// with either field layout, TSV, CSV, gzip), one result per AS asked for,
// and a damaged file served from its last good copy.
#include "core/error.hpp"
#include "source/asn_source.hpp"
#include "support/mmdb_writer.hpp"
#include "support/temp_dir.hpp"
#include "util/file.hpp"
#include "util/subprocess.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

using namespace geoblock;
using test::MmdbMap;
using test::MmdbWriter;
using test::TempDir;
using testing::ElementsAre;
using testing::HasSubstr;

namespace {

std::vector<std::string>
nets(const net::AsnResult& r)
{
  std::vector<std::string> out;
  for (const auto& p : r.nets.v4) {
    out.push_back(net::to_string(p));
  }
  for (const auto& p : r.nets.v6) {
    out.push_back(net::to_string(p));
  }
  return out;
}

std::string
asn_database(bool ipinfo)
{
  MmdbWriter w(6, 24, ipinfo ? "ipinfo country_asn.mmdb" : "GeoLite2-ASN");
  const auto rec = [&](int n, const char* org) {
    return ipinfo ? test::MmdbValue(
                        MmdbMap{{"asn", "AS" + std::to_string(n)}, {"as_name", org}, {"country", "US"}})
                  : test::MmdbValue(
                        MmdbMap{{"autonomous_system_number", n}, {"autonomous_system_organization", org}});
  };
  w.insert(net::Prefix4{*net::parse_v4("198.51.100.0"), 24}, rec(13335, "Cloudflare, Inc."));
  w.insert(net::Prefix4{*net::parse_v4("203.0.113.0"), 24}, rec(64496, "Example"));
  w.insert(net::Prefix6{*net::parse_v6("2001:db8::"), 32}, rec(13335, "Cloudflare, Inc."));
  w.add_ipv4_aliases();
  return w.bytes();
}

TEST(AsnSource, DatabasesOfBothLayoutsGiveEachAsItsNetworksAndName)
{
  for (const bool ipinfo : {false, true}) {
    SCOPED_TRACE(ipinfo);
    TempDir dir;
    source::AsnOptions o;
    o.files = {dir.write("asn.mmdb", asn_database(ipinfo))};
    o.block = {13335};
    o.allow = {64496, 64511};
    const auto r = source::load_asns(o);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].label(), "AS13335 Cloudflare, Inc.");
    EXPECT_FALSE(r[0].allow);
    EXPECT_EQ(r[0].origin, net::Origin::Local);
    EXPECT_THAT(nets(r[0]), ElementsAre("198.51.100.0/24", "2001:db8::/32"));
    EXPECT_TRUE(r[1].allow);
    EXPECT_THAT(nets(r[1]), ElementsAre("203.0.113.0/24"));
    EXPECT_EQ(r[2].origin, net::Origin::Absent);
    EXPECT_THAT(r[2].error, HasSubstr("no networks for AS64511"));
  }
}

TEST(AsnSource, TextFilesAlsoGzippedAndSeveralFilesJoin)
{
  TempDir dir;
  const std::string v4 = dir.write("ip2asn-v4.tsv", "198.51.100.0\t198.51.100.255\t64496\tUS\tExample\n");
  dir.write("ip2asn-v6.tsv", "2001:db8::\t2001:db8::ff\t64496\tUS\tExample\n");
  ASSERT_EQ(util::run({"gzip", "-k", dir.path() + "/ip2asn-v6.tsv"}).exit_code, 0);
  source::AsnOptions o;
  o.files = {v4, dir.path() + "/ip2asn-v6.tsv.gz"};
  o.block = {64496};
  const auto r = source::load_asns(o);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_THAT(nets(r[0]), ElementsAre("198.51.100.0/24", "2001:db8::/120"));
  EXPECT_EQ(r[0].location, o.files[0] + ", " + o.files[1]);
}

TEST(AsnSource, ADamagedFileFailsOrServesItsLastGoodCopy)
{
  TempDir dir;
  source::AsnOptions o;
  o.files = {dir.write("asn.csv", "198.51.100.0,198.51.100.255,64496,Example\n")};
  o.block = {64496};
  o.cache_dir = dir.path() + "/cache";
  EXPECT_EQ(source::load_asns(o)[0].origin, net::Origin::Local);

  dir.write("asn.csv", "198.51.100.0,198.51.100.255,64496,Example\n198.51");
  auto r = source::load_asns(o);
  EXPECT_EQ(r[0].origin, net::Origin::StaleCache);
  EXPECT_THAT(nets(r[0]), ElementsAre("198.51.100.0/24"));
  EXPECT_THAT(r[0].error, HasSubstr(o.files[0] + ":2: "));

  // A gzip file cut short, with no cached copy: every AS fails, naming it.
  TempDir other;
  other.write("a.tsv", "198.51.100.0\t198.51.100.255\t64496\tUS\tExample\n");
  ASSERT_EQ(util::run({"gzip", other.path() + "/a.tsv"}).exit_code, 0);
  const std::string gz = util::read_file(other.path() + "/a.tsv.gz");
  source::AsnOptions cut;
  cut.files = {other.write("cut.tsv.gz", gz.substr(0, gz.size() - 6))};
  cut.block = {64496};
  r = source::load_asns(cut);
  EXPECT_EQ(r[0].origin, net::Origin::Failed);
  EXPECT_THAT(r[0].error, HasSubstr(cut.files[0] + ": "));
}

TEST(AsnSource, WantedNetworksPassTheMinPrefixGuard)
{
  TempDir dir;
  source::AsnOptions o;
  o.files = {dir.write("asn.csv", "0.0.0.0,255.255.255.255,64496,Everything\n")};
  o.block = {64496};
  const auto r = source::load_asns(o);
  EXPECT_EQ(r[0].origin, net::Origin::Failed);
  EXPECT_THAT(r[0].error, HasSubstr("AS64496 0.0.0.0/0"));
}

} // namespace

namespace {

const net::CachedZone*
find_copy(const net::CacheReport& report, const std::string& prefix)
{
  for (const net::CachedZone& z : report.zones) {
    if (z.file.rfind(prefix, 0) == 0) {
      return &z;
    }
  }
  return nullptr;
}

} // namespace

// status lists the ASN data's last good copies like the zones' and the
// databases': the file, the age of its data, whether it is intact
// (against the SHA-256 its metadata recorded; nothing of it is parsed).
TEST(AsnSource, ItsCacheListsTheLastGoodCopiesOfTheFilesAndDownloadsWithAgeAndIntegrity)
{
  TempDir dir;
  constexpr std::int64_t k_day = 86400;
  constexpr std::int64_t k_now = 1795000000;
  source::AsnOptions o;
  o.files = {dir.write("ip2asn-v4.tsv", "203.0.113.0\t203.0.113.127\t64496\tUS\tExample\n")};
  // The file's data is 10 days old (its modification time).
  ASSERT_EQ(util::run({"touch", "-d", "@" + std::to_string(k_now - 10 * k_day), o.files[0]}).exit_code, 0);
  dir.write("www/ip2asn-v6.tsv", "2001:db8::\t2001:db8::ffff\t64496\tUS\tExample\n");
  ASSERT_EQ(util::run({"gzip", dir / "www/ip2asn-v6.tsv"}).exit_code, 0);
  o.urls = {"file://" + dir / "www/ip2asn-v6.tsv.gz"};
  o.block = {64496};
  o.cache_dir = dir / "cache";
  o.stale_after_days = 60;
  o.clock = [] { return k_now - 3 * k_day; };
  o.download.clock = o.clock;
  o.download.http.retries = 0;
  ASSERT_EQ(source::load_asns(o)[0].origin, net::Origin::Local);
  EXPECT_EQ(source::AsnSource(o).cache_folders(), std::vector<std::string>{"asn"});

  const auto report = source::AsnSource(o).cache(k_now);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->where, dir / "cache/asn");
  ASSERT_EQ(report->zones.size(), 2u);
  const net::CachedZone* file = find_copy(*report, "ip2asn-v4.tsv-");
  ASSERT_NE(file, nullptr);
  EXPECT_TRUE(file->body_ok);
  EXPECT_EQ(file->fetched_days_ago, 3);
  EXPECT_EQ(file->age_days, 10);
  EXPECT_FALSE(file->stale);
  const net::CachedZone* download = find_copy(*report, "ip2asn-v6.tsv-");
  ASSERT_NE(download, nullptr);
  EXPECT_TRUE(download->body_ok) << "the hash of the copy kept (gunzipped), not of what was served";
  EXPECT_EQ(download->fetched_days_ago, 3);

  // A copy altered since it was kept is damaged; one gone is not listed.
  std::string copy = source::asn_cached_copy(o.cache_dir, o.files[0]);
  dir.write("cache/asn/" + copy.substr(copy.rfind('/') + 1), "203.0.113.0\t203.0.113.255\t64496\tUS\tX\n");
  std::filesystem::remove(report->where + "/" + download->file);
  const auto after = source::AsnSource(o).cache(k_now + 90 * k_day);
  ASSERT_EQ(after->zones.size(), 1u);
  EXPECT_FALSE(after->zones[0].body_ok);
  EXPECT_TRUE(after->zones[0].stale); // its data is older than stale-days
}

// check's lookups: the AS of any address the data holds, asked for or
// not, from the data this load reads (a last good copy where that serves);
// with no AS asked for, nothing else is returned.
TEST(AsnSource, ItNamesTheAsOfEveryAddressLookedUpFromTheDataItRead)
{
  TempDir dir;
  source::AsnOptions o;
  o.files = {dir.write("asn.mmdb", asn_database(false)),
             dir.write("ip2asn-v4.tsv", "192.0.2.0\t192.0.2.255\t64499\tUS\tExample Transit\n")};
  o.cache_dir = dir / "cache";
  const std::vector<net::Address> lookups = {
      *net::parse_address("198.51.100.9"), *net::parse_address("192.0.2.77"),
      *net::parse_address("2001:db8:1::1"), *net::parse_address("10.0.0.1")};
  const auto said = [&](const net::SourceData& out) {
    std::vector<std::string> lines;
    for (const net::AddressFact& f : out.facts) {
      EXPECT_EQ(f.kind, net::AddressFact::Kind::As);
      EXPECT_EQ(f.source, "asn");
      lines.push_back(std::to_string(f.address) + " AS" + std::to_string(f.as_number) + " " + f.as_name +
                      " " + f.network());
    }
    return lines;
  };
  net::SourceData out;
  source::AsnSource(o).load_into(net::LoadRequest{{}, net::Families::Both, net::LoadMode::CacheOnly, lookups},
                                 out);
  EXPECT_TRUE(out.asns.empty()) << "no AS asked for";
  EXPECT_THAT(said(out), ElementsAre("0 AS13335 Cloudflare, Inc. 198.51.100.0/24",
                                     "1 AS64499 Example Transit 192.0.2.0/24",
                                     "2 AS13335 Cloudflare, Inc. 2001:db8::/32"));

  // The database damaged: its last good copy answers.
  const std::string good = asn_database(false);
  dir.write("asn.mmdb", good.substr(0, good.size() / 2));
  net::SourceData stale;
  source::AsnSource(o).load_into(
      net::LoadRequest{{}, net::Families::Both, net::LoadMode::CacheOnly, {lookups[0]}}, stale);
  EXPECT_THAT(said(stale), ElementsAre("0 AS13335 Cloudflare, Inc. 198.51.100.0/24"));

  // Nothing asked for, nothing looked up: nothing read.
  net::SourceData none;
  source::AsnSource(o).load_into(net::LoadRequest{{}, net::Families::Both, net::LoadMode::CacheOnly, {}},
                                 none);
  EXPECT_TRUE(none.asns.empty() && none.facts.empty());
}
