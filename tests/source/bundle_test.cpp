#include "core/error.hpp"
#include "fetch/zone_cache.hpp"
#include "net/zone.hpp"
#include "source/bundle.hpp"
#include "source/zip_archive.hpp"
#include "util/digest.hpp"
#include "util/json.hpp"
#include "zip_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

using geoblock::Error;
using geoblock::net::Families;
using geoblock::net::Origin;
using geoblock::net::ZoneResult;
using geoblock::source::BundleOptions;
using geoblock::source::BundleZone;
using geoblock::source::read_bundle;
using geoblock::source::write_bundle;
using geoblock::source::ZipReader;
using geoblock::source::ZipWriter;
using geoblock::test::error_of;
using geoblock::test::TempDir;
using geoblock::util::Json;
using testing::ElementsAre;
using testing::HasSubstr;

namespace {

constexpr auto V4 = geoblock::net::Family::V4;
constexpr auto V6 = geoblock::net::Family::V6;
constexpr std::int64_t k_created = 1764100000;

const std::string k_cn4 = "198.51.100.0/25\n198.51.100.128/25\n203.0.113.0/24\n";
const std::string k_cn6 = "2001:db8::/33\n2001:db8:8000::/33\n";
const std::string k_lu4 = "# comment\n203.0.113.7\n";

std::vector<BundleZone>
sample_zones()
{
  std::vector<BundleZone> zones(4);
  zones[0] = {"cn",       V4,        false, k_cn4, "https://www.ipdeny.com/ipblocks/data/countries/cn.zone",
              1764000000, 1763000000};
  zones[1] = {"cn",       V6,        false, k_cn6, "https://www.ipdeny.com/ipv6/ipaddresses/blocks/cn.zone",
              1764000001, 1763000001};
  zones[2] = {"aq", V6, true, "", "https://www.ipdeny.com/ipv6/ipaddresses/blocks/aq.zone", 1764000002, 0};
  zones[3] = {"lu",       V4, false, k_lu4, "https://www.ipdeny.com/ipblocks/data/countries/lu.zone",
              1764000003, 0};
  return zones;
}

std::string
write_sample(const TempDir& dir, const std::string& name = "zones.zip")
{
  const std::string path = (dir / name);
  write_bundle(path, sample_zones(), k_created);
  return path;
}

// The members of a zip, by name.
std::map<std::string, std::string>
members_of(const std::string& path)
{
  ZipReader z(path);
  std::map<std::string, std::string> out;
  for (const auto& e : z.entries()) {
    out[e.name] = z.read(e, {});
  }
  return out;
}

void
write_members(const std::string& path, const std::map<std::string, std::string>& members)
{
  ZipWriter w(path);
  for (const auto& [name, data] : members) {
    w.add(name, data, k_created);
  }
  w.commit();
}

// Rewrites the bundle after `edit` changed its members.
void
tamper(const std::string& path, const std::function<void(std::map<std::string, std::string>&)>& edit)
{
  auto members = members_of(path);
  edit(members);
  std::filesystem::remove(path);
  write_members(path, members);
}

// Edits the manifest's JSON text of zone number `k`.
void
edit_manifest_zone(std::map<std::string, std::string>& m, std::size_t k, const std::string& key, Json value)
{
  Json doc = Json::parse(m["manifest.json"], "manifest");
  Json zones = Json::array();
  for (std::size_t i = 0; i < doc.get("zones").items().size(); ++i) {
    Json z = doc.get("zones").items()[i];
    if (i == k) {
      z.set(key, value);
    }
    zones.push(z);
  }
  doc.set("zones", zones);
  m["manifest.json"] = doc.dump(2);
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

std::string
read_error(const std::string& path, const BundleOptions& options = {})
{
  return error_of([&] { read_bundle(path, {"cn"}, Families::Both, options); });
}

} // namespace

TEST(Bundle, RoundTripKeepsZonesAndMetadata)
{
  TempDir dir;
  const std::string path = write_sample(dir);
  const auto rs = read_bundle(path, {"cn", "aq", "lu"}, Families::Both);
  ASSERT_EQ(rs.size(), 6u);

  const ZoneResult& cn4 = rs[0];
  EXPECT_EQ(cn4.country, "cn");
  EXPECT_EQ(cn4.family, V4);
  EXPECT_EQ(cn4.origin, Origin::Local);
  EXPECT_THAT(texts(cn4.nets.v4), ElementsAre("198.51.100.0/25", "198.51.100.128/25", "203.0.113.0/24"));
  EXPECT_TRUE(cn4.nets.v6.empty());
  EXPECT_EQ(cn4.location, path + ":zones/v4/cn.zone");
  EXPECT_EQ(cn4.sha256, geoblock::util::sha256_hex(k_cn4));
  EXPECT_EQ(cn4.bytes, k_cn4.size());
  EXPECT_EQ(cn4.lines, 3u);
  EXPECT_EQ(cn4.fetched_at, 1764000000);
  EXPECT_EQ(cn4.last_modified, 1763000000);

  EXPECT_EQ(rs[1].family, V6);
  EXPECT_THAT(texts(rs[1].nets.v6), ElementsAre("2001:db8::/33", "2001:db8:8000::/33"));

  // aq: IPv4 was never exported, IPv6 is absent upstream.
  EXPECT_EQ(rs[2].country, "aq");
  EXPECT_EQ(rs[2].origin, Origin::Failed);
  EXPECT_THAT(rs[2].error, HasSubstr("aq IPv4 is not in the bundle"));
  EXPECT_EQ(rs[3].origin, Origin::Absent);
  EXPECT_TRUE(rs[3].nets.empty());

  EXPECT_THAT(texts(rs[4].nets.v4), ElementsAre("203.0.113.7/32"));
  EXPECT_EQ(rs[5].origin, Origin::Failed);
}

TEST(Bundle, NoCountriesMeansEveryZoneOfTheFamilies)
{
  TempDir dir;
  const std::string path = write_sample(dir);
  std::vector<std::string> got;
  for (const ZoneResult& r : read_bundle(path, {}, Families::V6)) {
    got.push_back(r.country + "/" + geoblock::net::family_key(r.family) + "/" +
                  geoblock::net::origin_name(r.origin));
  }
  EXPECT_THAT(got, ElementsAre("aq/v6/absent", "cn/v6/local"));
}

TEST(Bundle, ManifestRecordsFormatCreationAndPerFileFacts)
{
  TempDir dir;
  const std::string path = write_sample(dir);
  const auto members = members_of(path);
  ASSERT_EQ(members.size(), 4u); // manifest + 3 zone files (aq v6 is absent)
  EXPECT_EQ(members.at("zones/v6/cn.zone"), k_cn6);
  const Json doc = Json::parse(members.at("manifest.json"), "manifest");
  EXPECT_EQ(doc.get("format").as_string(), "geoblock-bundle");
  EXPECT_EQ(doc.get("version").as_int(), 1);
  EXPECT_EQ(doc.get("created").as_int(), k_created);
  EXPECT_EQ(doc.get("created_utc").as_string(), "2025-11-25T19:46:40Z");
  const auto& zones = doc.get("zones").items();
  ASSERT_EQ(zones.size(), 4u);
  EXPECT_EQ(zones[0].get("country").as_string(), "cn");
  EXPECT_EQ(zones[0].get("family").as_string(), "v4");
  EXPECT_EQ(zones[0].get("file").as_string(), "zones/v4/cn.zone");
  EXPECT_EQ(zones[0].get("networks").as_int(), 3);
  EXPECT_EQ(zones[0].get("sha256").as_string(), geoblock::util::sha256_hex(k_cn4));
  EXPECT_EQ(zones[0].get("source").as_string(), "https://www.ipdeny.com/ipblocks/data/countries/cn.zone");
  EXPECT_TRUE(zones[2].get("absent").as_bool());
  EXPECT_TRUE(zones[2].get("file").is_null());
}

TEST(Bundle, WriteRefusesInvalidZonesAndKeepsTheOldFile)
{
  TempDir dir;
  const std::string path = (dir / "zones.zip");
  geoblock::test::write_bytes(path, "old");
  auto refuse = [&](std::string body, geoblock::net::Family family, const std::string& expected) {
    auto zones = sample_zones();
    zones[0].body = std::move(body);
    zones[0].family = family;
    if (family == V6) {
      zones.erase(zones.begin() + 1);
    }
    EXPECT_THAT(error_of([&] { write_bundle(path, zones, k_created); }), HasSubstr(expected));
    EXPECT_EQ(geoblock::test::read_bytes(path), "old");
  };
  refuse("<html>\n", V4,
         "cn IPv4 (https://www.ipdeny.com/ipblocks/data/countries/cn.zone):1: HTML, not a zone file");
  refuse("0.0.0.0/0\n", V4, ":1: refusing /0");
  refuse("1.0.0.0/24\n2001:db8::/32\n", V4, ":2: IPv6 network in an IPv4-only source");
  refuse(k_cn4, V6, "cn IPv6");
  auto zones = sample_zones();
  zones[3].country = "CN";
  EXPECT_THAT(error_of([&] { write_bundle(path, zones, k_created); }),
              HasSubstr("invalid country code 'CN'"));
  zones[3].country = "cn";
  EXPECT_THAT(error_of([&] { write_bundle(path, zones, k_created); }), HasSubstr("cn IPv4 given twice"));
  EXPECT_EQ(geoblock::test::read_bytes(path), "old");
}

TEST(Bundle, RefusesAnAlteredMember)
{
  TempDir dir;
  const std::string path = write_sample(dir);
  // Same size, other content: only the hash tells.
  tamper(path, [](auto& m) { m["zones/v4/lu.zone"] = "# comment\n203.0.113.8\n"; });
  EXPECT_THAT(read_error(path),
              HasSubstr("zones.zip:zones/v4/lu.zone: altered member: SHA-256 does not match the manifest"));
  tamper(path, [](auto& m) { m["zones/v4/lu.zone"] += "0.0.0.0/1\n"; });
  EXPECT_THAT(read_error(path),
              HasSubstr("zones.zip:zones/v4/lu.zone: altered member: 32 bytes, the manifest says 22"));
}

TEST(Bundle, RefusesAMissingOrUnlistedMember)
{
  TempDir dir;
  const std::string path = write_sample(dir);
  tamper(path, [](auto& m) { m.erase("zones/v6/cn.zone"); });
  EXPECT_THAT(read_error(path),
              HasSubstr("zones.zip:zones/v6/cn.zone: member missing (cn IPv6 is in the manifest)"));
  const std::string path2 = write_sample(dir, "extra.zip");
  tamper(path2, [](auto& m) { m["zones/v4/ru.zone"] = "1.0.0.0/24\n"; });
  EXPECT_THAT(read_error(path2), HasSubstr("extra.zip:zones/v4/ru.zone: member not listed in the manifest"));
}

TEST(Bundle, RefusesPathTraversalNames)
{
  TempDir dir;
  const std::string path = write_sample(dir);
  geoblock::test::rename_member(path, "zones/v4/cn.zone", "../../../cn.zone");
  EXPECT_THAT(read_error(path), HasSubstr("zones.zip: unsafe member name '../../../cn.zone'"));
  // A manifest naming such a file is refused too.
  const std::string path2 = write_sample(dir, "m.zip");
  tamper(path2, [](auto& m) { edit_manifest_zone(m, 0, "file", "../cn.zone"); });
  EXPECT_THAT(read_error(path2),
              HasSubstr("m.zip:manifest.json: zone 0 (cn IPv4): needs a safe \"file\" name"));
}

TEST(Bundle, RefusesZipBombsAndOversizedMembers)
{
  TempDir dir;
  const std::string path = write_sample(dir);
  // Blank lines are a valid zone, and 8 MiB of them deflate a thousandfold.
  const std::string blank(8 << 20, '\n');
  tamper(path, [&](auto& m) {
    m["zones/v4/cn.zone"] = blank;
    edit_manifest_zone(m, 0, "bytes", static_cast<std::uint64_t>(blank.size()));
    edit_manifest_zone(m, 0, "sha256", geoblock::util::sha256_hex(blank));
    edit_manifest_zone(m, 0, "networks", 0);
  });
  EXPECT_THAT(read_error(path), HasSubstr("zones.zip:zones/v4/cn.zone: refusing a likely zip bomb"));

  // The size declared in the zip is a lie: the member inflates beyond it.
  const std::string path2 = write_sample(dir, "lie.zip");
  tamper(path2, [](auto& m) { edit_manifest_zone(m, 0, "bytes", 10); });
  geoblock::test::set_declared_size(path2, "zones/v4/cn.zone", 10);
  EXPECT_THAT(read_error(path2),
              HasSubstr("lie.zip:zones/v4/cn.zone: holds more data than its declared 10 bytes"));
  // ...and when the manifest tells the truth, the sizes disagree.
  const std::string path4 = write_sample(dir, "lie2.zip");
  geoblock::test::set_declared_size(path4, "zones/v4/cn.zone", 10);
  EXPECT_THAT(read_error(path4),
              HasSubstr("lie2.zip:zones/v4/cn.zone: altered member: 10 bytes, the manifest says 49"));

  const std::string path3 = write_sample(dir, "big.zip");
  BundleOptions small;
  small.limits.max_member_bytes = 40;
  EXPECT_THAT(read_error(path3, small), HasSubstr("big.zip:zones/v4/cn.zone: member too large"));
  BundleOptions total;
  total.limits.max_total_bytes = 100;
  EXPECT_THAT(read_error(path3, total), HasSubstr("big.zip: bundle too large"));
}

TEST(Bundle, RefusesACorruptArchive)
{
  TempDir dir;
  const std::string path = write_sample(dir);
  geoblock::test::corrupt_central_directory(path, "zones/v4/lu.zone");
  EXPECT_THAT(read_error(path), HasSubstr("zones.zip: corrupt zip archive"));
  const std::string path2 = write_sample(dir, "crc.zip");
  geoblock::test::flip_data_byte(path2, "zones/v6/cn.zone", 3);
  EXPECT_THAT(read_error(path2), HasSubstr("crc.zip:zones/v6/cn.zone: corrupt member"));
  geoblock::test::write_bytes((dir / "html.zip"), "<html>not found</html>");
  EXPECT_THAT(read_error((dir / "html.zip")), HasSubstr("html.zip: not a zip archive"));
}

TEST(Bundle, RefusesABadManifest)
{
  TempDir dir;
  const std::string path = write_sample(dir);
  tamper(path, [](auto& m) { m.erase("manifest.json"); });
  EXPECT_THAT(read_error(path), HasSubstr("zones.zip: no manifest.json (not a geoblock bundle)"));

  const std::string path2 = write_sample(dir, "v2.zip");
  tamper(path2, [](auto& m) {
    Json doc = Json::parse(m["manifest.json"], "manifest");
    doc.set("version", 2);
    m["manifest.json"] = doc.dump(2);
  });
  EXPECT_THAT(read_error(path2),
              HasSubstr("v2.zip:manifest.json: format version 2 is newer than this geoblock reads"));

  const std::string path3 = write_sample(dir, "json.zip");
  tamper(path3, [](auto& m) { m["manifest.json"] = "{\"format\": \"geoblock-bundle\", "; });
  EXPECT_THAT(read_error(path3), HasSubstr("json.zip:manifest.json:1:31: invalid JSON: "));

  // Readers disagree on which of two equal keys counts: refused.
  const std::string path5 = write_sample(dir, "dup.zip");
  tamper(path5, [](auto& m) {
    std::string& text = m["manifest.json"];
    const std::string format = "\"format\": \"geoblock-bundle\",";
    ASSERT_NE(text.find("\n  " + format + "\n"), std::string::npos) << text;
    text.replace(text.find(format), format.size(), format + " \"format\": \"other\",");
  });
  EXPECT_THAT(read_error(path5),
              HasSubstr("dup.zip:manifest.json:2:32: invalid JSON: duplicate key \"format\""));

  const std::string path4 = write_sample(dir, "count.zip");
  tamper(path4, [](auto& m) { edit_manifest_zone(m, 0, "networks", 4); });
  EXPECT_THAT(read_error(path4), HasSubstr("count.zip:zones/v4/cn.zone: 3 networks, the manifest says 4"));
}

TEST(Bundle, ZonesAreValidatedLikeDownloads)
{
  TempDir dir;
  const std::string path = write_sample(dir);
  // A consistent manifest does not make a bad zone acceptable.
  auto replace_cn4 = [&](const std::string& body) {
    tamper(path, [&](auto& m) {
      m["zones/v4/cn.zone"] = body;
      edit_manifest_zone(m, 0, "bytes", static_cast<std::uint64_t>(body.size()));
      edit_manifest_zone(m, 0, "sha256", geoblock::util::sha256_hex(body));
      edit_manifest_zone(m, 0, "networks", 2);
    });
  };
  replace_cn4("198.51.100.0/24\n2001:db8::/32\n");
  EXPECT_THAT(read_error(path),
              HasSubstr("zones.zip:zones/v4/cn.zone:2: IPv6 network in an IPv4-only source"));
  replace_cn4("198.51.100.0/24\n0.0.0.0/2\n");
  EXPECT_THAT(read_error(path), HasSubstr("zones.zip:zones/v4/cn.zone:2: refusing /2"));
  BundleOptions lax;
  lax.zone.min_prefix_v4 = 0;
  EXPECT_EQ(read_bundle(path, {"cn"}, Families::V4, lax)[0].nets.v4.size(), 2u);
}

TEST(Bundle, ExportWritesTheCachedZones)
{
  TempDir dir;
  const geoblock::fetch::ZoneCache cache((dir / "cache"));
  auto store = [&](const std::string& cc, geoblock::net::Family f, const std::string& body, bool absent) {
    geoblock::fetch::ZoneMeta meta;
    meta.country = cc;
    meta.family = f;
    meta.url = "https://mirror.example/" + cc;
    meta.fetched_at = 1764000000;
    meta.last_modified = 1763000000;
    meta.absent = absent;
    cache.store(meta, body);
  };
  store("cn", V4, k_cn4, false);
  store("cn", V6, k_cn6, false);
  store("aq", V6, "", true);
  store("lu", V4, k_lu4, false);

  const std::string out = (dir / "export.zip");
  const auto summary = geoblock::source::export_bundle(cache, {"cn", "aq"}, Families::V6, out, k_created);
  EXPECT_EQ(summary.zones, 1u);
  EXPECT_EQ(summary.absent, 1u);
  const auto rs = read_bundle(out, {}, Families::Both);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].country, "aq");
  EXPECT_EQ(rs[0].origin, Origin::Absent);
  EXPECT_THAT(texts(rs[1].nets.v6), ElementsAre("2001:db8::/33", "2001:db8:8000::/33"));
  EXPECT_EQ(rs[1].fetched_at, 1764000000);

  // Everything cached when no countries are named.
  const auto all = geoblock::source::export_bundle(cache, {}, Families::Both, out, k_created);
  EXPECT_EQ(all.zones, 3u);
  EXPECT_EQ(read_bundle(out, {"lu"}, Families::V4)[0].nets.v4.size(), 1u);

  // A configured country that was never fetched: nothing is written.
  const std::string none = (dir / "none.zip");
  EXPECT_THAT(error_of([&] {
                geoblock::source::export_bundle(cache, {"cn", "ru"}, Families::Both, none, k_created);
              }),
              HasSubstr("ru IPv4: not in the cache"));
  EXPECT_FALSE(std::filesystem::exists(none));
}

TEST(Bundle, CommittedSampleIsAValidBundle)
{
  const std::string sample = std::string(GEOBLOCK_SOURCE_DIR) + "/tests/data/sample/zones.zip";
  const auto rs = read_bundle(sample, {}, Families::Both);
  ASSERT_GE(rs.size(), 6u);
  std::size_t networks = 0;
  for (const ZoneResult& r : rs) {
    EXPECT_TRUE(r.origin == Origin::Local || r.origin == Origin::Absent) << r.country;
    networks += r.networks();
  }
  EXPECT_GT(networks, 100u);
}
