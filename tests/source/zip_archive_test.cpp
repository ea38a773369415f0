#include "core/error.hpp"
#include "source/zip_archive.hpp"
#include "zip_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using geoblock::Error;
using geoblock::source::Compression;
using geoblock::source::is_safe_member_name;
using geoblock::source::ZipLimits;
using geoblock::source::ZipReader;
using geoblock::source::ZipWriter;
using geoblock::test::error_of;
using geoblock::test::TempDir;
using testing::HasSubstr;

namespace {

std::string
sample_text(std::size_t lines)
{
  std::string s;
  for (std::size_t i = 0; i < lines; ++i) {
    s += "10." + std::to_string(i / 65536 % 256) + "." + std::to_string(i / 256 % 256) + "." +
         std::to_string(i % 256) + "/32\n";
  }
  return s;
}

} // namespace

TEST(ZipArchive, WritesAndReadsMembersBack)
{
  TempDir dir;
  const std::string path = (dir / "a.zip");
  const std::string text = sample_text(5000);
  {
    ZipWriter w(path);
    w.add("folder/data.txt", text, 1764000000);
    w.add("stored.txt", "plain", 1764000000, Compression::Store);
    w.commit();
  }
  ZipReader z(path);
  ASSERT_EQ(z.entries().size(), 2u);
  const auto* e = z.find("folder/data.txt");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->size, text.size());
  EXPECT_LT(e->compressed, text.size());
  EXPECT_EQ(e->base_name(), "data.txt");
  EXPECT_EQ(z.read(*e, {}), text);
  EXPECT_EQ(z.find_base_name("data.txt"), e);
  EXPECT_EQ(z.find_base_name("missing.txt"), nullptr);
  EXPECT_EQ(z.read(*z.find("stored.txt"), {}), "plain");
}

TEST(ZipArchive, StreamingReadGivesTheSameBytes)
{
  TempDir dir;
  const std::string path = (dir / "a.zip");
  const std::string text = sample_text(20000);
  {
    ZipWriter w(path);
    w.add("x", text, 0);
    w.commit();
  }
  ZipReader z(path);
  auto in = z.open(*z.find("x"), {});
  std::string got;
  char buf[777];
  for (int guard = 0; guard < 100000; ++guard) {
    const std::size_t n = in.read(buf, sizeof buf);
    if (n == 0) {
      break;
    }
    got.append(buf, n);
  }
  EXPECT_EQ(got, text);
}

TEST(ZipArchive, UncommittedWriterLeavesTheOldFile)
{
  TempDir dir;
  const std::string path = (dir / "a.zip");
  geoblock::test::write_bytes(path, "old");
  {
    ZipWriter w(path);
    w.add("x", "new", 0);
  }
  EXPECT_EQ(geoblock::test::read_bytes(path), "old");
}

TEST(ZipArchive, SafeMemberNames)
{
  for (const char* ok : {"a", "a/b.csv", "GeoLite2-Country-CSV_20261124/", "zones/v4/cn.zone", "a..b"}) {
    EXPECT_TRUE(is_safe_member_name(ok)) << ok;
  }
  for (const char* bad :
       {"", "/etc/passwd", "../x", "a/../../x", "a/..", "./a", "a//b", "a\\..\\b", "C:x", "a\nb"}) {
    EXPECT_FALSE(is_safe_member_name(bad)) << bad;
  }
}

TEST(ZipArchive, RefusesPathTraversalNames)
{
  TempDir dir;
  const std::string path = (dir / "evil.zip");
  {
    ZipWriter w(path);
    w.add("zones/v4/cn.zone", "1.0.0.0/24\n", 0);
    w.commit();
  }
  geoblock::test::rename_member(path, "zones/v4/cn.zone", "../../../cn.zone");
  EXPECT_THAT(error_of([&] { ZipReader z(path); }), HasSubstr("unsafe member name '../../../cn.zone'"));
}

TEST(ZipArchive, RefusesDuplicateNames)
{
  TempDir dir;
  const std::string path = (dir / "dup.zip");
  {
    ZipWriter w(path);
    w.add("a.txt", "one", 0);
    w.add("b.txt", "two", 0);
    w.commit();
  }
  geoblock::test::rename_member(path, "b.txt", "a.txt");
  EXPECT_THAT(error_of([&] { ZipReader z(path); }),
              HasSubstr("dup.zip: corrupt zip archive: two members have the same name"));
}

TEST(ZipArchive, RefusesWhatIsNotAZip)
{
  TempDir dir;
  geoblock::test::write_bytes((dir / "html.zip"), "<html><body>404</body></html>\n");
  EXPECT_THAT(error_of([&] { ZipReader z((dir / "html.zip")); }), HasSubstr("html.zip: not a zip archive"));
  EXPECT_THAT(error_of([&] { ZipReader z((dir / "none.zip")); }), HasSubstr("none.zip: cannot open"));
}

TEST(ZipArchive, RefusesACorruptCentralDirectory)
{
  TempDir dir;
  const std::string path = (dir / "cd.zip");
  {
    ZipWriter w(path);
    w.add("a.txt", sample_text(100), 0);
    w.add("b.txt", sample_text(100), 0);
    w.commit();
  }
  const std::string good = geoblock::test::read_bytes(path);
  geoblock::test::corrupt_central_directory(path, "b.txt");
  EXPECT_THAT(error_of([&] { ZipReader z(path); }),
              HasSubstr("cd.zip: corrupt zip archive: the central directory does not match the members"));
  geoblock::test::write_bytes(path, good);
  geoblock::test::misplace_local_header(path, "b.txt");
  EXPECT_THAT(error_of([&] { ZipReader z(path); }),
              HasSubstr("cd.zip: not a zip archive or its central directory is corrupt"));
}

TEST(ZipArchive, RefusesATruncatedArchive)
{
  TempDir dir;
  const std::string path = (dir / "cut.zip");
  {
    ZipWriter w(path);
    w.add("a.txt", sample_text(1000), 0);
    w.commit();
  }
  const std::string b = geoblock::test::read_bytes(path);
  geoblock::test::write_bytes(path, b.substr(0, b.size() / 2));
  EXPECT_THAT(error_of([&] { ZipReader z(path); }), HasSubstr("cut.zip"));
}

TEST(ZipArchive, RefusesAMemberInflatingBeyondItsDeclaredSize)
{
  TempDir dir;
  const std::string path = (dir / "bomb.zip");
  const std::string text = sample_text(10000);
  {
    ZipWriter w(path);
    w.add("zone.txt", text, 0);
    w.commit();
  }
  geoblock::test::set_declared_size(path, "zone.txt", 1000);
  ZipReader z(path);
  EXPECT_EQ(z.find("zone.txt")->size, 1000u);
  EXPECT_THAT(error_of([&] { z.read(*z.find("zone.txt"), {}); }),
              HasSubstr("bomb.zip:zone.txt: holds more data than its declared 1000 bytes"));
}

TEST(ZipArchive, RefusesAMemberShorterThanDeclared)
{
  TempDir dir;
  const std::string path = (dir / "short.zip");
  const std::string text = sample_text(100);
  {
    ZipWriter w(path);
    w.add("zone.txt", text, 0);
    w.commit();
  }
  geoblock::test::set_declared_size(path, "zone.txt", static_cast<std::uint32_t>(text.size() + 10));
  ZipReader z(path);
  EXPECT_THAT(error_of([&] { z.read(*z.find("zone.txt"), {}); }), HasSubstr("short.zip:zone.txt: "));
}

TEST(ZipArchive, RefusesDamagedData)
{
  TempDir dir;
  const std::string path = (dir / "crc.zip");
  {
    ZipWriter w(path);
    w.add("zone.txt", "1.0.0.0/24\n2.0.0.0/24\n", 0, Compression::Store);
    w.commit();
  }
  geoblock::test::flip_data_byte(path, "zone.txt", 2);
  ZipReader z(path);
  EXPECT_THAT(error_of([&] { z.read(*z.find("zone.txt"), {}); }),
              HasSubstr("crc.zip:zone.txt: corrupt member"));
}

TEST(ZipArchive, RefusesHighCompressionRatioBeforeInflating)
{
  TempDir dir;
  const std::string path = (dir / "ratio.zip");
  {
    ZipWriter w(path);
    w.add("zeros", std::string(8 << 20, '\0'), 0);
    w.commit();
  }
  ZipReader z(path);
  EXPECT_THAT(error_of([&] { z.open(*z.find("zeros"), {}); }),
              HasSubstr("ratio.zip:zeros: refusing a likely zip bomb"));
  ZipLimits lax;
  lax.max_ratio = 1u << 20;
  EXPECT_EQ(z.read(*z.find("zeros"), lax).size(), std::size_t{8} << 20);
}

TEST(ZipArchive, RefusesOversizedMembers)
{
  TempDir dir;
  const std::string path = (dir / "big.zip");
  {
    ZipWriter w(path);
    w.add("zone.txt", sample_text(1000), 0);
    w.commit();
  }
  ZipReader z(path);
  ZipLimits small;
  small.max_member_bytes = 1000;
  EXPECT_THAT(error_of([&] { z.open(*z.find("zone.txt"), small); }),
              HasSubstr("big.zip:zone.txt: member too large"));
}

TEST(ZipArchive, FindBaseNameRefusesAmbiguity)
{
  TempDir dir;
  const std::string path = (dir / "two.zip");
  {
    ZipWriter w(path);
    w.add("a/x.csv", "1", 0);
    w.add("b/x.csv", "2", 0);
    w.commit();
  }
  ZipReader z(path);
  EXPECT_THAT(error_of([&] { z.find_base_name("x.csv"); }), HasSubstr("two members are named x.csv"));
}
