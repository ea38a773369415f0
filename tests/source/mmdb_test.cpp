// source = mmdb: databases built by tests/support/mmdb_writer.hpp, read
// through libmaxminddb. The networks read are exactly the ones written:
// IPv4 and IPv6 databases, all three record sizes, IPv4 inside IPv6, the
// aliases that are no IPv6 member, both country field layouts, a record
// without a country; damaged databases are one error naming the file, and
// the last good copy serves.
#include "core/error.hpp"
#include "net/cidr.hpp"
#include "source/mmdb.hpp"
#include "source/mmdb_source.hpp"
#include "support/mmdb_writer.hpp"
#include "support/temp_dir.hpp"
#include "util/file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

using namespace geoblock;
using source::MmdbOptions;
using source::MmdbSource;
using test::flat_country;
using test::maxmind_country;
using test::MmdbMap;
using test::MmdbWriter;
using test::TempDir;
using testing::ElementsAre;
using testing::HasSubstr;

namespace {

net::Prefix4
p4(const char* text)
{
  const std::string s(text);
  const auto slash = s.find('/');
  return net::Prefix4{*net::parse_v4(s.substr(0, slash)),
                      static_cast<std::uint8_t>(std::stoi(s.substr(slash + 1)))};
}

net::Prefix6
p6(const char* text)
{
  const std::string s(text);
  const auto slash = s.find('/');
  return net::Prefix6{*net::parse_v6(s.substr(0, slash)),
                      static_cast<std::uint8_t>(std::stoi(s.substr(slash + 1)))};
}

// Every country's networks as text, sorted: "cn 198.51.100.0/25".
std::vector<std::string>
listing(const source::MmdbCountries& data)
{
  std::vector<std::string> out;
  for (const auto& c : data.countries) {
    for (const auto& p : c.nets.v4) {
      out.push_back(c.code + " " + net::to_string(p));
    }
    for (const auto& p : c.nets.v6) {
      out.push_back(c.code + " " + net::to_string(p));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The layout of the fixture: IPv4 and IPv6 networks, a record
// with a located country, one only registered, one with none.
MmdbWriter
world_v6(int record_size)
{
  MmdbWriter w(6, record_size, "GeoLite2-Country");
  w.insert(p4("198.51.100.0/25"), maxmind_country("NL"));
  w.insert(p4("198.51.100.128/25"), maxmind_country("DE"));
  w.insert(p4("203.0.113.0/26"), MmdbMap{{"registered_country", MmdbMap{{"iso_code", "US"}}}});
  w.insert(p4("203.0.113.64/26"), MmdbMap{{"continent", MmdbMap{{"code", "EU"}}}}); // no country
  w.insert(p4("192.0.2.0/24"), maxmind_country("US"));
  w.insert(p6("2001:db8::/33"), maxmind_country("DE"));
  w.insert(p6("2001:db8:8000::/33"), maxmind_country("nl"));
  w.insert(p6("2a00::/12"), maxmind_country("NL"));
  w.add_ipv4_aliases();
  return w;
}

TEST(Mmdb, AnIpv6DatabaseGivesItsIpv4AndIpv6NetworksAndNoAlias)
{
  for (const int size : {24, 28, 32}) {
    SCOPED_TRACE(size);
    TempDir dir;
    const std::string path = dir.write("world.mmdb", world_v6(size).bytes());
    const source::MmdbCountries data = source::read_mmdb_countries(path, MmdbOptions{});
    EXPECT_EQ(data.metadata.ip_version, 6);
    EXPECT_EQ(data.metadata.record_size, size);
    EXPECT_EQ(data.metadata.database_type, "GeoLite2-Country");
    EXPECT_EQ(data.field, "country.iso_code");
    // 2001:db8::/32 is outside the Teredo alias 2001::/32 (2001:0000::/32).
    EXPECT_THAT(listing(data), ElementsAre("de 198.51.100.128/25", "de 2001:db8::/33", "nl 198.51.100.0/25",
                                           "nl 2001:db8:8000::/33", "nl 2a00::/12", "us 192.0.2.0/24"));
    EXPECT_EQ(data.without_country, 2u); // the registered-only and the continent-only record
  }
}

TEST(Mmdb, RegisteredFallbackCountsANetworkByItsRegisteredCountry)
{
  TempDir dir;
  const std::string path = dir.write("world.mmdb", world_v6(28).bytes());
  MmdbOptions o;
  o.registered_fallback = true;
  const source::MmdbCountries data = source::read_mmdb_countries(path, o);
  EXPECT_THAT(listing(data), testing::Contains("us 203.0.113.0/26"));
  EXPECT_EQ(data.without_country, 1u);
  EXPECT_EQ(data.field, "country.iso_code (else registered_country.iso_code)");
}

TEST(Mmdb, AFlatCountryCodeDatabaseIsDetected)
{
  // ip-location-db's layout: separate IPv4 and IPv6 databases, {country_code}.
  MmdbWriter w4(4, 24, "geolite2-country");
  w4.insert(p4("198.51.100.0/24"), flat_country("CN"));
  w4.insert(p4("203.0.113.0/25"), flat_country("RU"));
  w4.insert(p4("203.0.113.128/25"), MmdbMap{{"other", "x"}});
  TempDir dir;
  const std::string path = dir.write("v4.mmdb", w4.bytes());
  const source::MmdbCountries data = source::read_mmdb_countries(path, MmdbOptions{});
  EXPECT_EQ(data.field, "country_code");
  EXPECT_THAT(listing(data), ElementsAre("cn 198.51.100.0/24", "ru 203.0.113.0/25"));
  EXPECT_EQ(data.without_country, 1u);
}

// The metadata's database_type names the field; the first record that
// has a known field confirms it, and the reason is part of what is read.
TEST(Mmdb, TheDatabaseTypeNamesTheCountryFieldAndTheReasonIsGiven)
{
  TempDir dir;
  const auto read = [&](const std::string& type, const test::MmdbValue& record) {
    MmdbWriter w(4, 24, type);
    w.insert(p4("198.51.100.0/24"), record);
    return source::read_mmdb_countries(dir.write("t.mmdb", w.bytes()), MmdbOptions{});
  };
  // Both layouts in one record: the type decides, not the order of the
  // data's fields.
  const test::MmdbValue both = MmdbMap{{"country", MmdbMap{{"iso_code", "NL"}}}, {"country_code", "DE"}};
  auto d = read("GeoLite2-Country", both);
  EXPECT_EQ(d.field, "country.iso_code");
  EXPECT_EQ(d.why, "database_type GeoLite2-Country: MaxMind's layout");
  EXPECT_THAT(listing(d), ElementsAre("nl 198.51.100.0/24"));
  d = read("DBIP-Country-Lite", both);
  EXPECT_EQ(d.field, "country.iso_code");
  EXPECT_EQ(d.why, "database_type DBIP-Country-Lite: DB-IP's layout (MaxMind's)");
  d = read("country ipv4", both); // ip-location-db's databases
  EXPECT_EQ(d.field, "country_code");
  EXPECT_EQ(d.why, "database_type country ipv4: ip-location-db's layout");
  EXPECT_THAT(listing(d), ElementsAre("de 198.51.100.0/24"));

  // IPinfo: the older free databases have the code in `country`, IPinfo
  // Lite in `country_code` (its `country` is the name).
  d = read("ipinfo country_asn.mmdb", MmdbMap{{"country", "US"}, {"asn", "AS64496"}});
  EXPECT_EQ(d.field, "country");
  EXPECT_EQ(d.why, "database_type ipinfo country_asn.mmdb: IPinfo's layout");
  EXPECT_THAT(listing(d), ElementsAre("us 198.51.100.0/24"));
  d = read("ipinfo lite.mmdb", MmdbMap{{"country_code", "NL"}, {"country", "Netherlands"}});
  EXPECT_EQ(d.field, "country_code");
  EXPECT_THAT(listing(d), ElementsAre("nl 198.51.100.0/24"));

  // A type that names one layout over records of another: the data wins,
  // and the reason says so.
  d = read("GeoLite2-Country", flat_country("CN"));
  EXPECT_EQ(d.field, "country_code");
  EXPECT_EQ(d.why, "database_type GeoLite2-Country is MaxMind's layout (country.iso_code), but its records "
                   "have country_code");
  // A type geoblock does not know: the data alone.
  d = read("Test-Country", flat_country("CN"));
  EXPECT_EQ(d.field, "country_code");
  EXPECT_EQ(d.why, "found in the records; database_type Test-Country is not one geoblock knows");
}

TEST(Mmdb, AnAsDatabaseGivenAsACountryDatabaseIsOneErrorNamingIt)
{
  TempDir dir;
  MmdbWriter w(4, 24, "GeoLite2-ASN");
  w.insert(p4("203.0.113.0/24"),
           MmdbMap{{"autonomous_system_number", 64496}, {"autonomous_system_organization", "Example"}});
  const std::string path = dir.write("GeoLite2-ASN.mmdb", w.bytes());
  try {
    source::read_mmdb_countries(path, MmdbOptions{});
    ADD_FAILURE() << "an AS database read as countries";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path +
                                         ": database_type GeoLite2-ASN is MaxMind's AS database: no record "
                                         "names a country (configure it as asn-file, not mmdb-file)");
  }
}

TEST(Mmdb, MmdbFieldOverridesTheDetection)
{
  MmdbWriter w(4, 32);
  w.insert(p4("198.51.100.0/24"), MmdbMap{{"country_code", "CN"}, {"geo", MmdbMap{{"cc", "RU"}}}});
  TempDir dir;
  const std::string path = dir.write("x.mmdb", w.bytes());
  MmdbOptions o;
  o.field = source::parse_mmdb_path("geo.cc");
  const source::MmdbCountries data = source::read_mmdb_countries(path, o);
  EXPECT_EQ(data.field, "geo.cc");
  EXPECT_THAT(listing(data), ElementsAre("ru 198.51.100.0/24"));
}

TEST(Mmdb, ADataRecordAroundAnAliasIsSplitAroundIt)
{
  // One record for 2000::/3 (which holds 2001::/32 and 2002::/16) and one
  // for ::/8 (which holds ::/96 and ::ffff:0:0/96): none of those comes
  // out as an IPv6 network, and ::/8 covers all of IPv4.
  MmdbWriter w(6, 24);
  w.insert(p6("2000::/3"), maxmind_country("NL"));
  w.insert(p6("::/8"), maxmind_country("DE"));
  TempDir dir;
  const std::string path = dir.write("wide.mmdb", w.bytes());
  MmdbOptions o;
  o.zone.min_prefix_v4 = 0;
  o.zone.min_prefix_v6 = 0;
  const source::MmdbCountries data = source::read_mmdb_countries(path, o);
  net::NetList nl, de;
  for (const auto& c : data.countries) {
    (c.code == "nl" ? nl : de) = c.nets;
  }
  const auto covers = [](const std::vector<net::Prefix6>& nets, const char* addr) {
    const net::u128 a = *net::parse_v6(addr);
    return std::any_of(nets.begin(), nets.end(), [&](const net::Prefix6& p) { return p.contains(a); });
  };
  EXPECT_TRUE(covers(nl.v6, "2a00::1"));
  EXPECT_TRUE(covers(nl.v6, "2001:db8::1"));
  EXPECT_FALSE(covers(nl.v6, "2001::1"));
  EXPECT_FALSE(covers(nl.v6, "2002::1"));
  EXPECT_FALSE(covers(de.v6, "::ffff:198.51.100.1"));
  EXPECT_FALSE(covers(de.v6, "::198.51.100.1"));
  EXPECT_TRUE(covers(de.v6, "::1:0:0:1"));
  EXPECT_THAT(de.v4, ElementsAre(net::Prefix4{0, 0}));
  // And the min-prefix guard refuses such a database by default.
  try {
    source::read_mmdb_countries(path, MmdbOptions{});
    ADD_FAILURE() << "a /0 passed the guard";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
  }
}

TEST(Mmdb, AnInvalidCountryValueRefusesTheDatabase)
{
  MmdbWriter w(4, 24);
  w.insert(p4("198.51.100.0/24"), maxmind_country("Neverland"));
  TempDir dir;
  const std::string path = dir.write("bad.mmdb", w.bytes());
  try {
    source::read_mmdb_countries(path, MmdbOptions{});
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(),
                HasSubstr(path + ": country.iso_code 'Neverland' is not a two-letter country code"));
  }
}

std::string
error_reading(const std::string& bytes)
{
  TempDir dir;
  const std::string path = dir.write("damaged.mmdb", bytes);
  try {
    source::read_mmdb_countries(path, MmdbOptions{});
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path + ": "));
    return e.what();
  }
  return "";
}

TEST(Mmdb, TruncatedOrDamagedDatabasesAreOneErrorNamingTheFile)
{
  const std::string good = world_v6(24).bytes();
  // Cut anywhere: the metadata at the end is gone or cut.
  for (const std::size_t cut : {std::size_t{0}, std::size_t{10}, good.size() / 2, good.size() - 5}) {
    EXPECT_THAT(error_reading(good.substr(0, cut)), HasSubstr("cannot read as a MaxMind database")) << cut;
  }
  EXPECT_THAT(error_reading("<html>not found</html>"), HasSubstr("cannot read as a MaxMind database"));
  // A node whose record points back to itself: the walk stops.
  std::string loop = good;
  // Node 1's left record (24-bit: bytes 6..8) -> node 1.
  loop[6] = 0;
  loop[7] = 0;
  loop[8] = 1;
  EXPECT_THAT(error_reading(loop), HasSubstr("reached twice (not a tree)"));
  // A record pointing past the data section.
  std::string past = good;
  past[6] = '\xff';
  past[7] = '\xff';
  past[8] = '\xf0';
  EXPECT_THAT(error_reading(past), HasSubstr("corrupt MaxMind database"));
}

TEST(Mmdb, AMissingFileIsOneErrorNamingIt)
{
  TempDir dir;
  try {
    source::read_mmdb_countries(dir.path() + "/none.mmdb", MmdbOptions{});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir.path() + "/none.mmdb: cannot read as a MaxMind database"));
  }
}

TEST(MmdbSource, ZonesPerCountryFromTheUnionOfTheFilesWithTheBuildEpochAsAge)
{
  MmdbWriter w4(4, 24, "v4", 1700000000);
  w4.insert(p4("198.51.100.0/24"), flat_country("CN"));
  MmdbWriter w6(6, 24, "v6", 1710000000);
  w6.insert(p6("2001:db8::/32"), flat_country("CN"));
  w6.insert(p6("2001:db9::/32"), flat_country("RU"));
  TempDir dir;
  MmdbOptions o;
  o.files = {dir.write("v4.mmdb", w4.bytes()), dir.write("v6.mmdb", w6.bytes())};
  MmdbSource source(o);
  const auto zones = source.load({"cn", "ru", "de"}, net::Families::Both, net::ZoneSource::Mode::Refresh);
  ASSERT_EQ(zones.size(), 6u);
  std::map<std::string, const net::ZoneResult*> by;
  for (const auto& z : zones) {
    by[z.country + net::family_key(z.family)] = &z;
  }
  EXPECT_EQ(by["cnv4"]->origin, net::Origin::Local);
  EXPECT_THAT(by["cnv4"]->nets.v4, ElementsAre(p4("198.51.100.0/24")));
  EXPECT_THAT(by["cnv6"]->nets.v6, ElementsAre(p6("2001:db8::/32")));
  EXPECT_EQ(by["ruv4"]->origin, net::Origin::Absent);
  EXPECT_EQ(by["ruv6"]->origin, net::Origin::Local);
  EXPECT_EQ(by["dev4"]->origin, net::Origin::Absent);
  EXPECT_EQ(by["cnv4"]->last_modified, 1700000000); // the older build
  EXPECT_EQ(by["cnv4"]->location, o.files[0] + ", " + o.files[1]);
}

TEST(MmdbSource, ADamagedDatabaseFailsItsZonesOrServesTheLastGoodCopy)
{
  TempDir dir;
  MmdbWriter w(4, 24);
  w.insert(p4("198.51.100.0/24"), flat_country("CN"));
  MmdbOptions o;
  o.files = {dir.write("country.mmdb", w.bytes())};
  o.cache_dir = dir.path() + "/cache";

  // No cached copy yet: a damaged file fails every zone, naming it.
  dir.write("country.mmdb", "garbage");
  auto zones = MmdbSource(o).load({"cn"}, net::Families::V4, net::ZoneSource::Mode::Refresh);
  ASSERT_EQ(zones.size(), 1u);
  EXPECT_EQ(zones[0].origin, net::Origin::Failed);
  EXPECT_THAT(zones[0].error, HasSubstr(o.files[0] + ": cannot read as a MaxMind database"));

  // A good read keeps a copy...
  dir.write("country.mmdb", w.bytes());
  zones = MmdbSource(o).load({"cn"}, net::Families::V4, net::ZoneSource::Mode::Refresh);
  EXPECT_EQ(zones[0].origin, net::Origin::Local);
  EXPECT_EQ(util::read_file(MmdbSource::cached_copy(o.cache_dir, o.files[0])), w.bytes());

  // ... which serves when the file is truncated later.
  const std::string bytes = w.bytes();
  dir.write("country.mmdb", bytes.substr(0, bytes.size() / 2));
  zones = MmdbSource(o).load({"cn"}, net::Families::V4, net::ZoneSource::Mode::Refresh);
  EXPECT_EQ(zones[0].origin, net::Origin::StaleCache);
  EXPECT_THAT(zones[0].nets.v4, ElementsAre(p4("198.51.100.0/24")));
  EXPECT_THAT(zones[0].error, HasSubstr(o.files[0] + ": cannot read as a MaxMind database"));
  EXPECT_THAT(zones[0].error, HasSubstr("the last good copy"));
}

TEST(MmdbSource, AnOldDatabaseIsStale)
{
  TempDir dir;
  MmdbWriter w(4, 24, "old", 1000000000);
  w.insert(p4("198.51.100.0/24"), flat_country("CN"));
  MmdbOptions o;
  o.files = {dir.write("old.mmdb", w.bytes())};
  o.stale_after_days = 60;
  o.clock = [] { return std::int64_t{1000000000} + 61 * 86400; };
  EXPECT_TRUE(MmdbSource(o).load({"cn"}, net::Families::V4, net::ZoneSource::Mode::Refresh)[0].stale);
  o.clock = [] { return std::int64_t{1000000000} + 59 * 86400; };
  EXPECT_FALSE(MmdbSource(o).load({"cn"}, net::Families::V4, net::ZoneSource::Mode::Refresh)[0].stale);
}

} // namespace

namespace {

std::string
two_countries(const char* cn_net, const char* ru_net)
{
  MmdbWriter w(4, 24, "GeoLite2-Country");
  w.insert(p4(cn_net), maxmind_country("CN"));
  if (ru_net) {
    w.insert(p4(ru_net), maxmind_country("RU"));
  }
  return w.bytes();
}

std::map<std::string, net::ZoneResult>
by_zone(const std::vector<net::ZoneResult>& zones)
{
  std::map<std::string, net::ZoneResult> out;
  for (const net::ZoneResult& z : zones) {
    out[z.country + " " + net::family_key(z.family)] = z;
  }
  return out;
}

} // namespace

// max-shrink at the source, like the zone fetcher: a database whose new
// data covers far fewer addresses of a configured zone than its last good
// copy does not replace that copy; the zone is Refused with the copy's
// networks, the database's other zones come from the copy too.
TEST(MmdbSource, ADatabaseThatShrankBeyondMaxShrinkIsRefusedAndItsLastGoodCopyStays)
{
  TempDir dir;
  const std::string good = two_countries("198.51.100.0/24", "203.0.113.0/24");
  MmdbOptions o;
  o.files = {dir.write("country.mmdb", good)};
  o.cache_dir = dir / "cache";
  o.countries = {"cn", "ru"};
  o.families = net::Families::V4;
  const auto load = [&] {
    return by_zone(MmdbSource(o).load({"cn", "ru"}, net::Families::V4, net::ZoneSource::Mode::Refresh));
  };
  ASSERT_EQ(load()["cn v4"].origin, net::Origin::Local);
  const std::string copy = MmdbSource::cached_copy(o.cache_dir, o.files[0]);
  ASSERT_EQ(util::read_file(copy), good);

  const std::string shrunk = two_countries("198.51.100.0/28", "203.0.113.0/24"); // cn: /24 -> /28
  dir.write("country.mmdb", shrunk);
  for (int run = 0; run < 2; ++run) { // the next run compares with the same copy, and refuses again
    SCOPED_TRACE(run);
    auto zones = load();
    EXPECT_EQ(zones["cn v4"].origin, net::Origin::Refused);
    EXPECT_THAT(zones["cn v4"].nets.v4, ElementsAre(p4("198.51.100.0/24")));
    EXPECT_THAT(zones["cn v4"].error, HasSubstr("cn IPv4 in " + o.files[0] +
                                                ": 1 to 1 networks (-94% of the addresses, more than "
                                                "max-shrink 50%) against its last good copy of "));
    EXPECT_EQ(zones["ru v4"].origin, net::Origin::StaleCache);
    EXPECT_THAT(zones["ru v4"].nets.v4, ElementsAre(p4("203.0.113.0/24")));
    EXPECT_THAT(zones["ru v4"].error, HasSubstr("refused by max-shrink"));
    EXPECT_EQ(util::read_file(copy), good) << "the refused data never becomes the last good copy";
  }

  // A shrink within max-shrink, or --force, takes the new data.
  o.shrink.force = true;
  EXPECT_EQ(load()["cn v4"].origin, net::Origin::Local);
  EXPECT_EQ(util::read_file(copy), shrunk);
  o.shrink.force = false;
  dir.write("country.mmdb", two_countries("198.51.100.0/29", "203.0.113.0/24")); // -50%: not beyond
  EXPECT_EQ(load()["cn v4"].origin, net::Origin::Local);
}

// A download too: the last good copy in cache-dir/mmdb stays; the zones a
// failover list does not ask this source for are compared as well (the
// copy serves them later).
TEST(MmdbSource, ADownloadThatShrankIsRefusedAgainstItsLastGoodCopyInEveryConfiguredZone)
{
  TempDir dir;
  const std::string good = two_countries("198.51.100.0/24", "203.0.113.0/24");
  dir.write("www/country.mmdb", good);
  MmdbOptions o;
  o.files = {};
  o.urls = {"file://" + dir / "www/country.mmdb"};
  o.cache_dir = dir / "cache";
  o.countries = {"cn", "ru"};
  o.families = net::Families::V4;
  o.download.http.retries = 0;
  const auto load_ru = [&] {
    return by_zone(MmdbSource(o).load({"ru"}, net::Families::V4, net::ZoneSource::Mode::Refresh));
  };
  ASSERT_EQ(load_ru()["ru v4"].origin, net::Origin::Downloaded);
  source::RemoteFileOptions ro;
  ro.cache_dir = o.cache_dir;
  ro.sub = "mmdb";
  const std::string copy = source::remote_copy_path(ro, o.urls[0]);
  ASSERT_EQ(util::read_file(copy), good);

  dir.write("www/country.mmdb", two_countries("198.51.100.0/24", nullptr)); // ru gone
  auto zones = load_ru();
  EXPECT_EQ(zones["ru v4"].origin, net::Origin::Refused);
  EXPECT_THAT(zones["ru v4"].nets.v4, ElementsAre(p4("203.0.113.0/24")));
  EXPECT_THAT(zones["ru v4"].error,
              HasSubstr("ru IPv4 in file://" + dir / "www/country.mmdb" + ": 1 to 0 networks"));
  EXPECT_EQ(util::read_file(copy), good);

  // cn, not asked for here, shrank: the download is refused all the same.
  dir.write("www/country.mmdb", two_countries("198.51.100.0/30", "203.0.113.0/24"));
  zones = load_ru();
  EXPECT_EQ(zones["ru v4"].origin, net::Origin::StaleCache);
  EXPECT_THAT(zones["ru v4"].error, HasSubstr("refused by max-shrink"));
  EXPECT_EQ(util::read_file(copy), good);
}

// status' view of the last good copies: the age of the database's build,
// and whether the copy is the one kept (its metadata's SHA-256). The root
// process reads status; it hashes the copy and never opens it as a
// database.
TEST(MmdbSource, ItsCacheListsEachLastGoodCopyByItsMetadataWithoutReadingTheDatabase)
{
  TempDir dir;
  constexpr std::int64_t k_built = 1790000000;
  MmdbWriter w(4, 24, "GeoLite2-Country", k_built);
  w.insert(p4("198.51.100.0/24"), maxmind_country("CN"));
  MmdbOptions o;
  o.files = {dir.write("country.mmdb", w.bytes())};
  o.cache_dir = dir / "cache";
  o.stale_after_days = 60;
  o.clock = [] { return k_built + 86400; };
  ASSERT_EQ(MmdbSource(o).load({"cn"}, net::Families::V4, net::ZoneSource::Mode::Refresh)[0].origin,
            net::Origin::Local);
  const std::string copy = MmdbSource::cached_copy(o.cache_dir, o.files[0]);
  auto report = MmdbSource(o).cache(k_built + 12 * 86400);
  ASSERT_EQ(report->zones.size(), 1u);
  EXPECT_EQ(report->zones[0].file, copy.substr(copy.rfind('/') + 1));
  EXPECT_EQ(report->zones[0].age_days, 12); // since the build
  EXPECT_EQ(report->zones[0].fetched_days_ago, 11);
  EXPECT_TRUE(report->zones[0].body_ok);

  // Another database in its place opens as well, but is not the copy kept.
  MmdbWriter other(4, 24, "GeoLite2-Country", k_built);
  other.insert(p4("203.0.113.0/24"), maxmind_country("RU"));
  dir.write("cache/mmdb/" + report->zones[0].file, other.bytes());
  report = MmdbSource(o).cache(k_built + 12 * 86400);
  EXPECT_FALSE(report->zones[0].body_ok);
}

// check's lookups descend the tree for one address; each network walk()
// gives is what find() gives for its first and last address, with the
// same record, in every layout (IPv4 under ::/96, the aliases, a record
// around an alias).
TEST(Mmdb, FindGivesForAnAddressTheNetworkAndRecordTheWalkGives)
{
  MmdbWriter wide(6, 28);
  wide.insert(p6("2000::/3"), maxmind_country("NL"));
  wide.insert(p6("::/8"), maxmind_country("DE"));
  MmdbWriter v4(4, 32);
  v4.insert(p4("198.51.100.0/25"), flat_country("CN"));
  v4.insert(p4("203.0.113.64/26"), flat_country("RU"));
  for (const std::string& bytes : {world_v6(24).bytes(), wide.bytes(), v4.bytes()}) {
    TempDir dir;
    const source::MmdbFile db(dir.write("x.mmdb", bytes));
    std::size_t networks = 0;
    db.walk([&](const source::MmdbNetwork& n) {
      ++networks;
      if (n.family == net::Family::V4) {
        for (const std::uint32_t a : {n.v4.first(), n.v4.last()}) {
          const auto found = db.find(net::Family::V4, a, 0);
          ASSERT_TRUE(found) << net::to_string(n.v4);
          EXPECT_EQ(found->v4, n.v4);
          EXPECT_EQ(found->record, n.record);
        }
      } else {
        for (const net::u128 a : {n.v6.first(), n.v6.last()}) {
          const auto found = db.find(net::Family::V6, 0, a);
          ASSERT_TRUE(found) << net::to_string(n.v6);
          EXPECT_EQ(found->v6, n.v6) << net::to_string(found->v6);
          EXPECT_EQ(found->record, n.record);
        }
      }
    });
    EXPECT_GT(networks, 0u);
  }
  TempDir dir;
  const source::MmdbFile db(dir.write("w.mmdb", world_v6(24).bytes()));
  EXPECT_FALSE(db.find(net::Family::V4, *net::parse_v4("203.0.113.200"), 0)) << "no record there";
  EXPECT_FALSE(db.find(net::Family::V6, 0, *net::parse_v6("::ffff:198.51.100.1"))) << "an alias";
  EXPECT_FALSE(db.find(net::Family::V6, 0, *net::parse_v6("2002:c633:6401::1"))) << "6to4";
  const source::MmdbFile four(dir.write("v4.mmdb", v4.bytes()));
  EXPECT_FALSE(four.find(net::Family::V6, 0, *net::parse_v6("2001:db8::1"))) << "an IPv4 database";
}

// source mmdb answers check's lookups from the databases its load used:
// the country by the field it read them by, and the AS where the records
// have AS fields (IPinfo's country_asn).
TEST(MmdbSource, ItNamesTheCountryAndTheAsOfAnAddressFromTheDatabasesItRead)
{
  TempDir dir;
  MmdbWriter w(6, 24, "ipinfo country_asn.mmdb");
  w.insert(p4("198.51.100.0/24"),
           MmdbMap{{"country", "CN"}, {"asn", "AS64496"}, {"as_name", "Example Hosting"}});
  w.insert(p6("2001:db8::/32"), MmdbMap{{"country", "NL"}});
  w.add_ipv4_aliases();
  MmdbOptions o;
  o.files = {dir.write("country_asn.mmdb", w.bytes())};
  MmdbSource source(o);
  net::SourceData out;
  source.load_into(net::LoadRequest{{"cn"},
                                    net::Families::Both,
                                    net::LoadMode::CacheOnly,
                                    {*net::parse_address("198.51.100.7"), *net::parse_address("2001:db8::1"),
                                     *net::parse_address("192.0.2.1")}},
                   out);
  ASSERT_EQ(out.facts.size(), 3u);
  std::vector<std::string> said;
  for (const net::AddressFact& f : out.facts) {
    EXPECT_EQ(f.source, "mmdb");
    said.push_back(std::to_string(f.address) + " " +
                   (f.kind == net::AddressFact::Kind::As
                        ? "AS" + std::to_string(f.as_number) + " " + f.as_name
                        : f.country) +
                   " " + f.network());
  }
  EXPECT_THAT(said, testing::UnorderedElementsAre("0 cn 198.51.100.0/24",
                                                  "0 AS64496 Example Hosting 198.51.100.0/24",
                                                  "1 nl 2001:db8::/32"));
}
