// privsep::SeparatedSource with sources that declare what they need
// (net/data_source.hpp): only the folders the sources in use declare are
// handed to the fetch-user (issue 19: {"v4","v6","lists","rir"} were
// hard-coded), the files they declare are opened by root and named by
// their real paths in what comes back, and a CacheOnly load reads here
// only what may be read here, every kind of result through one interface.
#include "core/error.hpp"
#include "net/zone.hpp"
#include "net/zone_source.hpp"
#include "privsep/separated_source.hpp"
#include "support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/file.hpp"
#include "util/sandbox.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

namespace geoblock::privsep {
namespace {

// A zone source that keeps a cache folder and reads a file: in its load
// it writes into the folder and returns "cn" with the file's networks,
// located where it read them, and the pid of the process that loaded it.
class Probe final : public net::ZoneSource {
public:
  Probe(Paths paths, std::string folder, std::string file, bool cache_here = false)
      : m_paths(std::move(paths)), m_folder(std::move(folder)), m_file(std::move(file)),
        m_cache_here(cache_here)
  {
  }
  std::string describe() const override { return "probe"; }
  std::vector<net::ZoneResult> load(const std::vector<std::string>&, net::Families, Mode) override
  {
    if (!m_folder.empty()) {
      util::write_file_atomic(m_paths.cache_dir + "/" + m_folder + "/written", "by the fetcher\n");
    }
    net::ZoneResult z;
    z.country = "cn";
    z.origin = net::Origin::Local;
    z.location = m_paths.file(m_file);
    z.error = "pid " + std::to_string(::getpid());
    net::parse_zone(util::read_file(z.location), "probe", net::ZoneOptions{net::Families::V4, 8, 32}, z.nets);
    return {z};
  }
  std::vector<std::string> cache_folders() const override
  {
    return m_folder.empty() ? std::vector<std::string>{} : std::vector<std::string>{m_folder};
  }
  std::vector<std::string> files() const override { return {m_file}; }
  bool load_cache_here(const net::LoadRequest&, net::SourceData& out) const override
  {
    if (!m_cache_here) {
      return false;
    }
    net::ZoneResult z;
    z.country = "cn";
    z.origin = net::Origin::NotModified;
    z.error = "pid " + std::to_string(::getpid());
    out.zones.push_back(z);
    return true;
  }

private:
  Paths m_paths;
  std::string m_folder, m_file;
  bool m_cache_here;
};

// The ASes' kind: one AS, loaded where the load runs.
class AsnProbe final : public net::DataSource {
public:
  std::string describe() const override { return "asn probe"; }
  void load_into(const net::LoadRequest&, net::SourceData& out) override
  {
    net::AsnResult a;
    a.number = 64496;
    a.origin = net::Origin::Local;
    a.error = "pid " + std::to_string(::getpid());
    a.nets.v4 = {net::Prefix4{*net::parse_v4("203.0.113.0"), 24}};
    out.asns.push_back(a);
  }
  net::SourceData expected(const net::LoadRequest&) const override
  {
    net::SourceData out;
    out.asns.emplace_back();
    out.asns.back().number = 64496;
    return out;
  }
};

// As root the fetch-user 'geoblock'; otherwise the caller's identity.
bool
separable(SeparationOptions& o)
{
  o.guards = net::ZoneOptions{net::Families::Both, 8, 32};
  if (::geteuid() != 0) {
    return true;
  }
  o.user = "geoblock";
  return util::lookup_account("geoblock").has_value();
}

#define REQUIRE_SEPARABLE(o)                                                                                 \
  if (!separable(o)) {                                                                                       \
    GTEST_SKIP() << "no user 'geoblock' (scripts/setup creates it)";                                         \
  }

const std::string k_here = "pid " + std::to_string(::getpid());

TEST(SeparatedSource, HandsOverOnlyTheFoldersAndFilesItsSourcesDeclare)
{
  SeparationOptions o;
  REQUIRE_SEPARABLE(o);
  test::TempDir dir;
  o.dir = dir / "cache";
  // A file only root may read, in a directory only root may enter, as
  // root; the test's own file otherwise.
  const std::string secret = dir / "secret";
  ASSERT_EQ(::mkdir(secret.c_str(), 0700), 0);
  const std::string file = dir.write("secret/zone.txt", "198.51.100.0/24\n", 0600);
  SeparatedSource source(o, {[file](const Paths& p) { return std::make_unique<Probe>(p, "alpha", file); }});
  const net::SourceData got = net::load(source, {{"cn"}, net::Families::V4, net::LoadMode::Refresh});

  ASSERT_EQ(got.zones.size(), 1u);
  EXPECT_EQ(got.zones[0].origin, net::Origin::Local) << got.zones[0].error;
  ASSERT_EQ(got.zones[0].nets.v4.size(), 1u);
  EXPECT_EQ(net::to_string(got.zones[0].nets.v4[0]), "198.51.100.0/24");
  EXPECT_NE(got.zones[0].error, k_here);  // loaded in the child
  EXPECT_EQ(got.zones[0].location, file); // the real path, whatever the child read it by
  EXPECT_TRUE(util::read_file(o.dir + "/alpha/written") == "by the fetcher\n");
  struct stat st {};
  ASSERT_EQ(::stat((o.dir + "/alpha").c_str(), &st), 0);
  if (::geteuid() == 0) {
    EXPECT_EQ(st.st_uid, util::lookup_account("geoblock")->uid);
    ASSERT_EQ(::stat(o.dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u); // the directory itself stays root's
  }
  // No folder of another source's appears (nor is chowned).
  for (const char* other : {"v4", "v6", "lists", "rir", "mmdb", "asn"}) {
    EXPECT_FALSE(std::filesystem::exists(o.dir + "/" + other)) << other;
  }
}

TEST(SeparatedSource, CacheOnlyReadsHereWhatMayBeReadHereAndTheRestInTheChild)
{
  SeparationOptions o;
  REQUIRE_SEPARABLE(o);
  test::TempDir dir;
  o.dir = dir / "cache";
  const std::string file = dir.write("zone.txt", "198.51.100.0/24\n");
  SeparatedSource source(o,
                         {[file](const Paths& p) { return std::make_unique<Probe>(p, "alpha", file, true); },
                          [](const Paths&) { return std::make_unique<AsnProbe>(); }});
  // What it returns, whichever process loaded it, in one value.
  const net::SourceData cached = net::load(source, {{"cn"}, net::Families::V4, net::LoadMode::CacheOnly});
  ASSERT_EQ(cached.zones.size(), 1u);
  EXPECT_EQ(cached.zones[0].error, k_here);
  ASSERT_EQ(cached.asns.size(), 1u);
  EXPECT_NE(cached.asns[0].error, k_here);
  EXPECT_EQ(cached.asns[0].nets.v4.size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(o.dir + "/alpha"))
      << "only the child's sources' folders are handed over";

  const net::SourceData fresh = net::load(source, {{"cn"}, net::Families::V4, net::LoadMode::Refresh});
  ASSERT_EQ(fresh.zones.size(), 1u);
  EXPECT_NE(fresh.zones[0].error, k_here);
  ASSERT_EQ(fresh.asns.size(), 1u);

  // Everything here: no child at all.
  SeparatedSource mirror(
      o, {[file](const Paths& p) { return std::make_unique<Probe>(p, "alpha", file, true); }});
  const net::SourceData restored = net::load(mirror, {{"cn"}, net::Families::V4, net::LoadMode::CacheOnly});
  ASSERT_EQ(restored.zones.size(), 1u);
  EXPECT_EQ(restored.zones[0].error, k_here);
}

// A child whose report holds anything but what the sources' expected()
// names (here: a zone not asked for) gets nothing applied.
TEST(SeparatedSource, AReportOfWhatWasNotAskedForIsRefusedWhole)
{
  SeparationOptions o;
  REQUIRE_SEPARABLE(o);
  test::TempDir dir;
  const std::string file = dir.write("zone.txt", "198.51.100.0/24\n");
  SeparatedSource source(o, {[file](const Paths& p) { return std::make_unique<Probe>(p, "", file); }});
  try {
    net::load(source, {{"de"}, net::Families::V4, net::LoadMode::Refresh});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a zone not asked for"), std::string::npos) << e.what();
  }
}

// The facts a source answers check's lookups with: found by the child,
// with the load; one whose network does not hold its address (a lying
// fetcher) is dropped here, the others arrive.
class LookupProbe final : public net::DataSource {
public:
  std::string describe() const override { return "lookup probe"; }
  void load_into(const net::LoadRequest& request, net::SourceData& out) override
  {
    for (std::size_t i = 0; i < request.lookups.size(); ++i) {
      net::AddressFact f;
      f.address = i;
      f.kind = net::AddressFact::Kind::As;
      f.as_number = 64496;
      f.as_name = "pid " + std::to_string(::getpid());
      f.source = "asn";
      // The second address is answered with a network that does not hold it.
      f.v4 = net::Prefix4{*net::parse_v4(i == 1 ? "192.0.2.0" : "203.0.113.0"), 24};
      out.facts.push_back(f);
    }
  }
  net::SourceData expected(const net::LoadRequest&) const override { return {}; }
};

TEST(SeparatedSource, TheChildAnswersLookupsAndTheyAreCheckedAgainHere)
{
  SeparationOptions o;
  REQUIRE_SEPARABLE(o);
  SeparatedSource source(o, {[](const Paths&) { return std::make_unique<LookupProbe>(); }});
  const net::SourceData got =
      net::load(source, {{},
                         net::Families::V4,
                         net::LoadMode::CacheOnly,
                         {*net::parse_address("203.0.113.9"), *net::parse_address("203.0.113.10")}});
  ASSERT_EQ(got.facts.size(), 1u);
  EXPECT_EQ(got.facts[0].address, 0u);
  EXPECT_EQ(got.facts[0].network(), "203.0.113.0/24");
  EXPECT_NE(got.facts[0].as_name, k_here) << "answered in the child";
}

} // namespace
} // namespace geoblock::privsep
