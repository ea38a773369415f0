#include "core/error.hpp"
#include "net/aggregate.hpp"
#include "net/zone.hpp"
#include "source/maxmind.hpp"
#include "source/zip_archive.hpp"
#include "util/file.hpp"
#include "zip_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

using geoblock::Error;
using geoblock::net::Families;
using geoblock::net::Origin;
using geoblock::net::ZoneResult;
using geoblock::source::GeonameFallback;
using geoblock::source::MaxmindOptions;
using geoblock::source::read_maxmind;
using geoblock::source::ZipWriter;
using geoblock::test::error_of;
using geoblock::test::TempDir;
using testing::ElementsAre;
using testing::HasSubstr;

namespace {

const std::string k_locations_header = "geoname_id,locale_code,continent_code,continent_name,country_iso_"
                                       "code,country_name,is_in_european_union\n";
const std::string k_blocks_header =
    "network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,"
    "is_anonymous_proxy,is_satellite_provider,is_anycast\n";

// Real GeoLite2 geoname ids and names, quoting as MaxMind does.
const std::string k_locations = k_locations_header +
                                "6255148,en,EU,Europe,,,0\n"
                                "2750405,en,EU,Europe,NL,Netherlands,1\n"
                                "7626844,en,NA,\"North America\",BQ,\"Bonaire, Sint Eustatius, and Saba\",0\n"
                                "2921044,en,EU,Europe,DE,Germany,1\n"
                                "6252001,en,NA,\"North America\",US,\"United States\",0\n";

const std::string k_blocks_v4 = k_blocks_header + "198.51.100.0/25,2750405,2750405,,0,0,0\n"
                                                  "198.51.100.128/25,7626844,2750405,,0,0,0\n"
                                                  "203.0.113.0/26,,2921044,,1,0,0\n" // no located country
                                                  "203.0.113.64/26,6255148,2750405,,0,0,0\n" // a continent
                                                  "203.0.113.128/25,6252001,6252001,2921044,0,0,0\n";

const std::string k_blocks_v6 = k_blocks_header + "2001:db8::/33,2921044,2921044,,0,0,0\n"
                                                  "2001:db8:8000::/33,,6252001,,0,1,0\n";

struct Member {
  std::string name;
  std::string text;
};

std::string
make_zip(const TempDir& dir, const std::vector<Member>& members, const std::string& name = "geo.zip")
{
  const std::string path = (dir / name);
  ZipWriter w(path);
  for (const Member& m : members) {
    w.add(m.name, m.text, 1764000000);
  }
  w.commit();
  return path;
}

std::vector<Member>
geolite(const std::string& folder = "GeoLite2-Country-CSV_20261124/",
        const std::string& blocks_v4 = k_blocks_v4, const std::string& blocks_v6 = k_blocks_v6,
        const std::string& locations = k_locations)
{
  return {{folder + "COPYRIGHT.txt", "test\n"},
          {folder + "GeoLite2-Country-Locations-en.csv", locations},
          {folder + "GeoLite2-Country-Blocks-IPv4.csv", blocks_v4},
          {folder + "GeoLite2-Country-Blocks-IPv6.csv", blocks_v6}};
}

template <class A>
std::vector<std::string>
texts(const std::vector<geoblock::net::Prefix<A>>& nets)
{
  std::vector<std::string> out;
  for (const auto& p : nets) {
    out.push_back(geoblock::net::to_string(p));
  }
  return out;
}

const ZoneResult&
find(const std::vector<ZoneResult>& rs, const std::string& country, geoblock::net::Family f)
{
  for (const ZoneResult& r : rs) {
    if (r.country == country && r.family == f) {
      return r;
    }
  }
  throw std::runtime_error("no result for " + country);
}

constexpr auto V4 = geoblock::net::Family::V4;
constexpr auto V6 = geoblock::net::Family::V6;

} // namespace

TEST(Maxmind, CountsNetworksByLocationFallingBackToRegisteredCountry)
{
  TempDir dir;
  const std::string zip = make_zip(dir, geolite());
  const auto rs = read_maxmind(zip, {"nl", "de", "us", "bq"}, Families::Both);
  ASSERT_EQ(rs.size(), 8u);
  // In the order asked, IPv4 before IPv6.
  EXPECT_EQ(rs[0].country, "nl");
  EXPECT_EQ(rs[0].family, V4);
  EXPECT_EQ(rs[1].family, V6);
  EXPECT_EQ(rs[7].country, "bq");

  const ZoneResult& nl = find(rs, "nl", V4);
  EXPECT_EQ(nl.origin, Origin::Local);
  // The continent-located row counts for its registered country.
  EXPECT_THAT(texts(nl.nets.v4), ElementsAre("198.51.100.0/25", "203.0.113.64/26"));
  EXPECT_EQ(nl.lines, 2u);
  EXPECT_THAT(nl.location,
              HasSubstr("geo.zip:GeoLite2-Country-CSV_20261124/GeoLite2-Country-Blocks-IPv4.csv"));
  EXPECT_GT(nl.last_modified, 0);
  EXPECT_GT(nl.fetched_at, 0);
  // Located in BQ, registered in NL: it is BQ's.
  EXPECT_THAT(texts(find(rs, "bq", V4).nets.v4), ElementsAre("198.51.100.128/25"));
  // Empty geoname_id: registered country DE; the represented country is ignored.
  EXPECT_THAT(texts(find(rs, "de", V4).nets.v4), ElementsAre("203.0.113.0/26"));
  EXPECT_THAT(texts(find(rs, "us", V4).nets.v4), ElementsAre("203.0.113.128/25"));
  EXPECT_THAT(texts(find(rs, "de", V6).nets.v6), ElementsAre("2001:db8::/33"));
  EXPECT_THAT(texts(find(rs, "us", V6).nets.v6), ElementsAre("2001:db8:8000::/33"));
  const ZoneResult& nl6 = find(rs, "nl", V6);
  EXPECT_EQ(nl6.origin, Origin::Absent);
  EXPECT_TRUE(nl6.nets.empty());
  EXPECT_THAT(nl6.error, HasSubstr("no IPv6 networks for nl"));
}

TEST(Maxmind, WithoutFallbackRowsWithoutALocatedCountryAreSkipped)
{
  TempDir dir;
  const std::string zip = make_zip(dir, geolite());
  MaxmindOptions options;
  options.fallback = GeonameFallback::None;
  const auto rs = read_maxmind(zip, {"nl", "de", "us"}, Families::Both, options);
  EXPECT_THAT(texts(find(rs, "nl", V4).nets.v4), ElementsAre("198.51.100.0/25"));
  EXPECT_EQ(find(rs, "de", V4).origin, Origin::Absent);
  EXPECT_THAT(texts(find(rs, "de", V6).nets.v6), ElementsAre("2001:db8::/33"));
  EXPECT_EQ(find(rs, "us", V6).origin, Origin::Absent);
}

TEST(Maxmind, FallbackSettingNames)
{
  EXPECT_EQ(geoblock::source::parse_geoname_fallback("registered"), GeonameFallback::Registered);
  EXPECT_EQ(geoblock::source::parse_geoname_fallback("none"), GeonameFallback::None);
  EXPECT_FALSE(geoblock::source::parse_geoname_fallback("yes"));
  EXPECT_STREQ(geoblock::source::geoname_fallback_name(GeonameFallback::None), "none");
}

TEST(Maxmind, NoCountriesMeansEveryCountryWithNetworksSorted)
{
  TempDir dir;
  const std::string zip = make_zip(dir, geolite());
  const auto rs = read_maxmind(zip, {}, Families::V4);
  std::vector<std::string> codes;
  for (const ZoneResult& r : rs) {
    EXPECT_EQ(r.family, V4);
    codes.push_back(r.country);
  }
  EXPECT_THAT(codes, ElementsAre("bq", "de", "nl", "us"));
}

TEST(Maxmind, FindsMembersWhateverTheFolderAndColumnOrder)
{
  TempDir dir;
  // Columns reordered and one added: they are found by name.
  const std::string blocks = "is_anycast,registered_country_geoname_id,network,extra,geoname_id\n"
                             "0,2750405,198.51.100.0/24,\"a, b\",\n";
  const std::string zip = make_zip(dir, geolite("other/deeper/", blocks, k_blocks_v6));
  const auto rs = read_maxmind(zip, {"nl"}, Families::V4);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_THAT(texts(rs[0].nets.v4), ElementsAre("198.51.100.0/24"));
  // No folder at all.
  TempDir flat;
  EXPECT_EQ(read_maxmind(make_zip(flat, geolite("")), {"nl"}, Families::V4)[0].nets.v4.size(), 2u);
}

TEST(Maxmind, OnlyTheFamiliesAskedForAreRead)
{
  TempDir dir;
  auto members = geolite();
  members.pop_back(); // no IPv6 file
  const std::string zip = make_zip(dir, members);
  EXPECT_EQ(read_maxmind(zip, {"de"}, Families::V4).size(), 1u);
  EXPECT_THAT(error_of([&] { read_maxmind(zip, {"de"}, Families::Both); }),
              HasSubstr("geo.zip: no GeoLite2-Country-Blocks-IPv6.csv in the zip"));
}

TEST(Maxmind, BadRowsAreRefusedNamingMemberAndLine)
{
  TempDir dir;
  auto refuse = [&](const std::string& blocks_v4, const std::string& expected) {
    const std::string zip = make_zip(dir, geolite("G/", k_blocks_header + blocks_v4));
    EXPECT_THAT(error_of([&] { read_maxmind(zip, {"nl"}, Families::V4); }), HasSubstr(expected)) << blocks_v4;
  };
  refuse("198.51.100.0/24,2750405,2750405,,0,0,0\n198.51.100.300/24,2750405,2750405,,0,0,0\n",
         "geo.zip:G/GeoLite2-Country-Blocks-IPv4.csv:3: invalid IPv4 address");
  refuse("<html>,2750405,2750405,,0,0,0\n", "Blocks-IPv4.csv:2: not a network");
  refuse("2001:db8::/32,2750405,2750405,,0,0,0\n", "Blocks-IPv4.csv:2: IPv6 network in an IPv4-only source");
  refuse("0.0.0.0/0,2750405,2750405,,0,0,0\n", "Blocks-IPv4.csv:2: refusing /0");
  refuse("198.51.100.0/24,999,2750405,,0,0,0\n",
         "Blocks-IPv4.csv:2: geoname_id 999 is not in GeoLite2-Country-Locations-en.csv");
  refuse("198.51.100.0/24,2750405,x,,0,0,0\n", "Blocks-IPv4.csv:2: invalid registered_country_geoname_id");
  refuse("198.51.100.0/24,2750405\n", "Blocks-IPv4.csv:2: expected 7 fields, found 2");
  // Rows of countries not asked for are validated too.
  refuse("198.51.100.0/33,2921044,2921044,,0,0,0\n", "Blocks-IPv4.csv:2: invalid IPv4 prefix length");
}

TEST(Maxmind, BadLocationsAreRefused)
{
  TempDir dir;
  const std::string zip =
      make_zip(dir, geolite("G/", k_blocks_v4, k_blocks_v6, k_locations + "12,en,EU,Europe,NLD,X,0\n"));
  EXPECT_THAT(error_of([&] { read_maxmind(zip, {"nl"}, Families::V4); }),
              HasSubstr("G/GeoLite2-Country-Locations-en.csv:7: invalid country_iso_code"));
  TempDir dir2;
  const std::string zip2 =
      make_zip(dir2, geolite("G/", k_blocks_v4, k_blocks_v6, "geoname_id,country_name\n1,X\n"));
  EXPECT_THAT(error_of([&] { read_maxmind(zip2, {"nl"}, Families::V4); }),
              HasSubstr("no column 'country_iso_code'"));
}

TEST(Maxmind, RefusesWhatIsNotAGeoLite2Zip)
{
  TempDir dir;
  const std::string zip = make_zip(dir, {{"zones/v4/cn.zone", "1.0.0.0/24\n"}});
  EXPECT_THAT(error_of([&] { read_maxmind(zip, {"cn"}, Families::V4); }),
              HasSubstr("no GeoLite2-Country-Locations-en.csv in the zip"));
}

// The generator used by the benchmark and the reader agree with the
// ipdeny-style zones built from the same tor data: per country, the same
// addresses.
TEST(Maxmind, GeneratedGeoLite2ZipMatchesTheZonesOfTheSameData)
{
  if (!std::filesystem::exists("/usr/share/tor/geoip") || !std::filesystem::exists("/usr/share/tor/geoip6")) {
    GTEST_SKIP() << "tor-geoipdb is not installed (scripts/setup installs it)";
  }
  TempDir dir;
  // Both scripts read tor's lines of three countries only, to stay fast.
  for (const char* file : {"geoip", "geoip6"}) {
    std::string kept;
    const std::string text = geoblock::util::read_file(std::string("/usr/share/tor/") + file);
    for (std::size_t at = 0, nl; at < text.size(); at = nl + 1) {
      nl = std::min(text.find('\n', at), text.size());
      const std::string_view line(text.data() + at, nl - at);
      if (line.ends_with(",LU") || line.ends_with(",IS") || line.ends_with(",MT")) {
        kept.append(line).append("\n");
      }
    }
    ASSERT_FALSE(kept.empty()) << file;
    geoblock::test::write_bytes((dir / file), kept);
  }
  const std::string scripts = std::string(GEOBLOCK_SOURCE_DIR) + "/scripts/";
  const std::vector<std::string> input = {"--geoip", (dir / "geoip"), "--geoip6", (dir / "geoip6")};
  std::vector<std::string> geolite2 = {scripts + "make-geolite2", (dir / "geo")};
  std::vector<std::string> zones = {scripts + "make-zones", (dir / "zones")};
  geolite2.insert(geolite2.end(), input.begin(), input.end());
  zones.insert(zones.end(), input.begin(), input.end());
  ASSERT_EQ(geoblock::test::run_program(geolite2), 0);
  ASSERT_EQ(geoblock::test::run_program(zones), 0);
  const std::string zip = (dir / "geo/GeoLite2-Country-CSV_20261124.zip");
  const auto rs = read_maxmind(zip, {"lu", "is", "mt"}, Families::Both);
  ASSERT_EQ(rs.size(), 6u);
  for (const ZoneResult& r : rs) {
    const bool v4 = r.family == V4;
    const std::string zone = (dir / "zones/") +
                             (v4 ? "ipblocks/data/countries/" : "ipv6/ipaddresses/blocks/") + r.country +
                             ".zone";
    geoblock::net::NetList expected;
    geoblock::net::parse_zone(geoblock::util::read_file(zone), zone, {}, expected);
    ASSERT_EQ(r.origin, Origin::Local) << r.country;
    if (v4) {
      EXPECT_EQ(geoblock::net::aggregate(r.nets.v4), geoblock::net::aggregate(expected.v4)) << r.country;
    } else {
      EXPECT_EQ(geoblock::net::aggregate(r.nets.v6), geoblock::net::aggregate(expected.v6)) << r.country;
    }
  }
}
