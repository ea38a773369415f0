// mmdb-url and asn-url (source/remote_file.hpp): a database downloaded into
// the cache, gunzipped, validated before it replaces the last good copy,
// not stored again when unchanged (304 from nginx, the same bytes from
// file://), DB-IP's monthly {yyyy}-{mm} names with last month's file while
// this month's is missing, and the cached copy alone offline.
#include "core/error.hpp"
#include "fetch/zone_cache.hpp"
#include "source/last_good_copy.hpp"
#include "source/mmdb_source.hpp"
#include "source/remote_file.hpp"
#include "support/http_nginx.hpp"
#include "support/mmdb_writer.hpp"
#include "support/temp_dir.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"
#include "util/subprocess.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

using namespace geoblock;
using source::RemoteFile;
using test::MmdbWriter;
using testing::HasSubstr;

namespace {

// 2026-03-10 12:00 UTC.
constexpr std::int64_t k_march = 1773144000;

std::string
database(const char* cc)
{
  MmdbWriter w(4, 24, "DBIP-Country-Lite");
  w.insert(net::Prefix4{*net::parse_v4("198.51.100.0"), 24}, test::maxmind_country(cc));
  return w.bytes();
}

source::RemoteFileOptions
options(const test::TempDir& dir)
{
  source::RemoteFileOptions o;
  o.cache_dir = dir / "cache";
  o.sub = "mmdb";
  o.clock = [] { return k_march; };
  o.http.retries = 0;
  return o;
}

const source::RemoteValidator k_mmdb = [](const std::string& path, const std::string& url,
                                          const std::string&) {
  source::read_mmdb_countries(path, source::MmdbOptions{}, url);
};

TEST(RemoteFile, MonthTemplatesExpandAndAreChecked)
{
  EXPECT_EQ(source::expand_month_template("https://x/dbip-country-lite-{yyyy}-{mm}.mmdb.gz", k_march),
            "https://x/dbip-country-lite-2026-03.mmdb.gz");
  EXPECT_EQ(source::expand_month_template("https://x/{yyyy}/{mm}.mmdb", k_march - 70 * 86400, 1),
            "https://x/2025/11.mmdb");
  EXPECT_EQ(source::remote_url_problem("https://x/a-{yyyy}-{mm}.mmdb.gz"), "");
  EXPECT_THAT(source::remote_url_problem("ftp://x/a.mmdb"), HasSubstr("expected an http://"));
  EXPECT_THAT(source::remote_url_problem("https://x/{cc}.mmdb"), HasSubstr("only {yyyy} and {mm}"));
  EXPECT_THAT(source::remote_url_problem("https://x/dir/"), HasSubstr("names a directory"));
}

TEST(RemoteFile, LastMonthsGzipServesWhileThisMonthsIsMissingThenTheSameBytesAreNotModified)
{
  test::TempDir dir;
  dir.write("mirror/dbip-country-lite-2026-02.mmdb", database("NL"));
  ASSERT_EQ(util::run({"gzip", dir / "mirror/dbip-country-lite-2026-02.mmdb"}).exit_code, 0);
  const std::vector<std::string> urls = {"file://" + dir / "mirror/dbip-country-lite-{yyyy}-{mm}.mmdb.gz"};
  auto r = source::refresh_remote_files(urls, options(dir), k_mmdb);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, RemoteFile::State::Downloaded) << r[0].error;
  EXPECT_EQ(r[0].url, "file://" + dir / "mirror/dbip-country-lite-2026-02.mmdb.gz");
  EXPECT_EQ(util::read_file(r[0].path), database("NL")); // stored decompressed
  EXPECT_EQ(r[0].path.rfind(dir / "cache/mmdb/dbip-country-lite--.mmdb-", 0), 0u) << r[0].path;

  r = source::refresh_remote_files(urls, options(dir), k_mmdb);
  EXPECT_EQ(r[0].state, RemoteFile::State::NotModified);

  // Offline: the cached copy alone.
  auto off = options(dir);
  off.offline = true;
  r = source::refresh_remote_files(urls, off, k_mmdb);
  EXPECT_EQ(r[0].state, RemoteFile::State::NotModified);
  EXPECT_EQ(util::read_file(r[0].path), database("NL"));
}

// A .gz download's copy is kept gunzipped: its metadata records the
// copy's SHA-256 (status checks the copy against it) and the served
// bytes' apart (the same bytes again are not modified). A copy kept
// before that, whose sha256 is the served bytes', is put right once.
TEST(RemoteFile, TheMetadataOfAGzipDownloadHashesTheCopyKeptAndTheBytesServedApart)
{
  test::TempDir dir;
  dir.write("mirror/country.mmdb", database("NL"));
  ASSERT_EQ(util::run({"gzip", dir / "mirror/country.mmdb"}).exit_code, 0);
  const std::string served = util::read_file(dir / "mirror/country.mmdb.gz");
  const std::vector<std::string> urls = {"file://" + dir / "mirror/country.mmdb.gz"};
  auto r = source::refresh_remote_files(urls, options(dir), k_mmdb);
  ASSERT_EQ(r[0].state, RemoteFile::State::Downloaded) << r[0].error;
  const auto meta = [&] { return *fetch::parse_meta(util::read_file(r[0].path + ".meta")); };
  EXPECT_EQ(meta().sha256, util::sha256_hex(database("NL")));
  EXPECT_EQ(meta().served_sha256, util::sha256_hex(served));
  EXPECT_TRUE(source::copy_status(r[0].path, k_march, 0)->body_ok);
  r = source::refresh_remote_files(urls, options(dir), k_mmdb);
  EXPECT_EQ(r[0].state, RemoteFile::State::NotModified);

  // The metadata as written before: sha256 of the served bytes, no
  // served_sha256. Still not modified, and the hashes are put apart.
  fetch::ZoneMeta old = meta();
  old.sha256 = old.served_sha256;
  old.served_sha256.clear();
  dir.write("cache/mmdb/" + r[0].path.substr(r[0].path.rfind('/') + 1) + ".meta", fetch::format_meta(old));
  EXPECT_FALSE(source::copy_status(r[0].path, k_march, 0)->body_ok);
  r = source::refresh_remote_files(urls, options(dir), k_mmdb);
  EXPECT_EQ(r[0].state, RemoteFile::State::NotModified);
  EXPECT_EQ(meta().sha256, util::sha256_hex(database("NL")));
  EXPECT_EQ(meta().served_sha256, util::sha256_hex(served));
  EXPECT_TRUE(source::copy_status(r[0].path, k_march, 0)->body_ok);
}

TEST(RemoteFile, ADamagedDownloadKeepsTheLastGoodCopy)
{
  test::TempDir dir;
  const std::string file = dir.write("mirror/country.mmdb", database("NL"));
  const std::vector<std::string> urls = {"file://" + file};
  ASSERT_EQ(source::refresh_remote_files(urls, options(dir), k_mmdb)[0].state, RemoteFile::State::Downloaded);

  const std::string good = database("DE");
  dir.write("mirror/country.mmdb", good.substr(0, good.size() - 30));
  auto r = source::refresh_remote_files(urls, options(dir), k_mmdb);
  EXPECT_EQ(r[0].state, RemoteFile::State::Cached);
  EXPECT_THAT(r[0].error, HasSubstr("refused: file://" + file + ": cannot read as a MaxMind database"));
  EXPECT_EQ(util::read_file(r[0].path), database("NL"));

  // Gone upstream: still the last good copy; never had one: failed.
  std::filesystem::remove(file);
  r = source::refresh_remote_files(urls, options(dir), k_mmdb);
  EXPECT_EQ(r[0].state, RemoteFile::State::Cached);
  r = source::refresh_remote_files({"file://" + dir / "mirror/none.mmdb"}, options(dir), k_mmdb);
  EXPECT_EQ(r[0].state, RemoteFile::State::Failed);
  EXPECT_TRUE(r[0].path.empty());
}

TEST(RemoteFile, NginxAnswersTheSecondRunWith304)
{
  if (!test::NginxServer::available()) {
    GTEST_SKIP() << "nginx not installed (scripts/setup)";
  }
  test::TempDir dir;
  dir.write("www/GeoLite2-Country.mmdb", database("NL"));
  std::filesystem::create_directories(dir / "nginx");
  test::NginxServer nginx(dir / "www", dir / "nginx");
  const std::vector<std::string> urls = {nginx.base_url() + "/GeoLite2-Country.mmdb"};
  EXPECT_EQ(source::refresh_remote_files(urls, options(dir), k_mmdb)[0].state, RemoteFile::State::Downloaded);
  nginx.clear_access_log();
  const auto r = source::refresh_remote_files(urls, options(dir), k_mmdb);
  EXPECT_EQ(r[0].state, RemoteFile::State::NotModified);
  const auto log = nginx.access_log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].status, 304);
  EXPECT_EQ(log[0].body_bytes, 0);
}

TEST(RemoteFile, TheMmdbSourceReadsDownloadsAndSaysSo)
{
  test::TempDir dir;
  const std::string file = dir.write("mirror/country.mmdb", database("NL"));
  source::MmdbOptions o;
  o.files = {};
  o.urls = {"file://" + file};
  o.cache_dir = dir / "cache";
  o.clock = [] { return k_march; };
  auto zones = source::MmdbSource(o).load({"nl"}, net::Families::V4, net::ZoneSource::Mode::Refresh);
  ASSERT_EQ(zones.size(), 1u);
  EXPECT_EQ(zones[0].origin, net::Origin::Downloaded);
  EXPECT_EQ(zones[0].nets.v4.size(), 1u);
  zones = source::MmdbSource(o).load({"nl"}, net::Families::V4, net::ZoneSource::Mode::Refresh);
  EXPECT_EQ(zones[0].origin, net::Origin::NotModified);
  zones = source::MmdbSource(o).load({"nl"}, net::Families::V4, net::ZoneSource::Mode::CacheOnly);
  EXPECT_EQ(zones[0].origin, net::Origin::NotModified);
  EXPECT_EQ(zones[0].nets.v4.size(), 1u);
}

} // namespace
