// Real-sized data from the npm registry, fetched in the test's setup into
// a temporary directory and never committed (GeoLite2's EULA; RouteViews
// and DB-IP, CC-BY-4.0, for the ASN data): ip-location-db's
// geolite2-country-mmdb and its CSV twin geolite2-country of the same
// version must give every country the same networks; the asn CSV must
// give AS13335 (Cloudflare) the networks of 1.1.1.1 and 2606:4700::1111.
// Where npm or the registry cannot be reached, the tests skip with a
// message.
#include "core/error.hpp"
#include "core/text.hpp"
#include "net/aggregate.hpp"
#include "source/asn_source.hpp"
#include "source/mmdb_source.hpp"
#include "support/temp_dir.hpp"
#include "util/file.hpp"
#include "util/subprocess.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>

using namespace geoblock;
using testing::HasSubstr;

namespace {

constexpr auto k_npm_timeout = std::chrono::seconds(180);

std::vector<std::string>
npm(std::vector<std::string> args)
{
  args.insert(args.begin(), "npm");
  for (const char* a :
       {"--fetch-retries=0", "--fetch-timeout=60000", "--no-audit", "--no-fund", "--loglevel=error"}) {
    args.push_back(a);
  }
  return args;
}

// The package's files in `dir`/NAME (its "package/" folder), or why not.
std::optional<std::string>
unpack(const std::string& spec, const std::string& dir, std::string& why)
{
  const util::RunResult pack = util::run(npm({"pack", spec, "--pack-destination", dir}), {}, k_npm_timeout);
  if (!pack.ok()) {
    why = "npm pack " + spec + ": " + pack.describe();
    return std::nullopt;
  }
  const std::string tgz = dir + "/" + std::string(text::trim(pack.out));
  const std::string to = tgz + ".d";
  if (util::run({"mkdir", "-p", to}).exit_code != 0 ||
      util::run({"tar", "xzf", tgz, "-C", to}).exit_code != 0) {
    why = "cannot unpack " + tgz;
    return std::nullopt;
  }
  return to + "/package";
}

// The latest version of `name`, or nothing.
std::optional<std::string>
latest(const std::string& name, std::string& why)
{
  const util::RunResult r = util::run(npm({"view", name, "version"}), {}, k_npm_timeout);
  if (!r.ok() || text::trim(r.out).empty()) {
    why = "npm view " + name + ": " + (r.ok() ? std::string("no version") : r.describe());
    return std::nullopt;
  }
  return std::string(text::trim(r.out));
}

// start,end,CC lines into per-country networks, aggregated.
std::map<std::string, net::NetList>
read_country_csv(const std::string& text)
{
  std::map<std::string, net::NetList> out;
  text::Lines lines(text);
  for (std::string_view line; lines.next(line);) {
    if (line.empty()) {
      continue;
    }
    const auto c1 = line.find(',');
    const auto c2 = line.find(',', c1 + 1);
    const std::string a(line.substr(0, c1)), b(line.substr(c1 + 1, c2 - c1 - 1));
    std::string cc(text::trim(line.substr(c2 + 1)));
    for (char& c : cc) {
      c = static_cast<char>(c | 0x20);
    }
    net::NetList& nl = out[cc];
    if (const auto x = net::parse_v4(a)) {
      net::split_range(net::Range<std::uint32_t>{*x, *net::parse_v4(b)}, nl.v4);
    } else {
      net::split_range(net::Range<net::u128>{*net::parse_v6(a), *net::parse_v6(b)}, nl.v6);
    }
  }
  for (auto& [cc, nl] : out) {
    nl.v4 = net::aggregate(std::move(nl.v4));
    nl.v6 = net::aggregate(std::move(nl.v6));
  }
  return out;
}

std::map<std::string, net::NetList>
read_mmdb(const std::vector<std::string>& files)
{
  source::MmdbOptions o;
  o.files = files;
  std::map<std::string, net::NetList> out;
  for (net::ZoneResult& z :
       source::MmdbSource(o).load({}, net::Families::Both, net::ZoneSource::Mode::Refresh)) {
    EXPECT_EQ(z.origin, net::Origin::Local) << z.country << " " << z.error;
    net::NetList& nl = out[z.country];
    if (z.family == net::Family::V4) {
      nl.v4 = net::aggregate(std::move(z.nets.v4));
    } else {
      nl.v6 = net::aggregate(std::move(z.nets.v6));
    }
  }
  return out;
}

class Npm : public ::testing::Test {
protected:
  test::TempDir dir;
};

TEST_F(Npm, GeoLite2CountryMmdbAndItsCsvTwinGiveTheSameNetworksPerCountry)
{
  std::string why;
  const auto version = latest("@ip-location-db/geolite2-country-mmdb", why);
  if (!version) {
    GTEST_SKIP() << "npm registry unreachable, real-sized .mmdb test skipped: " << why;
  }
  const auto mmdb = unpack("@ip-location-db/geolite2-country-mmdb@" + *version, dir.path(), why);
  const auto csv =
      mmdb ? unpack("@ip-location-db/geolite2-country@" + *version, dir.path(), why) : std::nullopt;
  if (!mmdb || !csv) {
    GTEST_SKIP() << "npm registry unreachable or no CSV twin of version " << *version << ": " << why;
  }
  const auto expected = read_country_csv(util::read_file(*csv + "/geolite2-country-ipv4.csv") +
                                         util::read_file(*csv + "/geolite2-country-ipv6.csv"));
  ASSERT_GT(expected.size(), 200u);
  const auto check = [&](const std::map<std::string, net::NetList>& got) {
    std::size_t networks = 0;
    for (const auto& [cc, nl] : expected) {
      const auto it = got.find(cc);
      ASSERT_NE(it, got.end()) << cc;
      EXPECT_TRUE(it->second.v4 == nl.v4)
          << cc << " IPv4: " << it->second.v4.size() << " vs " << nl.v4.size();
      EXPECT_TRUE(it->second.v6 == nl.v6)
          << cc << " IPv6: " << it->second.v6.size() << " vs " << nl.v6.size();
      networks += nl.size();
    }
    EXPECT_EQ(got.size(), expected.size());
    EXPECT_GT(networks, 100000u);
  };
  // The combined database (IPv4 under ::/96), and the two per-family ones.
  check(read_mmdb({*mmdb + "/geolite2-country.mmdb"}));
  check(read_mmdb({*mmdb + "/geolite2-country-ipv4.mmdb", *mmdb + "/geolite2-country-ipv6.mmdb"}));
}

TEST_F(Npm, TheAsnCsvGivesCloudflareItsNetworks)
{
  std::string why;
  const auto version = latest("@ip-location-db/asn", why);
  const auto pkg = version ? unpack("@ip-location-db/asn@" + *version, dir.path(), why) : std::nullopt;
  if (!pkg) {
    GTEST_SKIP() << "npm registry unreachable, real-sized ASN test skipped: " << why;
  }
  source::AsnOptions o;
  o.files = {*pkg + "/asn-ipv4.csv", *pkg + "/asn-ipv6.csv"};
  o.block = {13335};
  const auto r = source::load_asns(o);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].origin, net::Origin::Local) << r[0].error;
  EXPECT_THAT(r[0].label(), HasSubstr("AS13335 Cloudflare"));
  const auto holds4 = [&](const char* a) {
    const auto x = *net::parse_v4(a);
    return std::any_of(r[0].nets.v4.begin(), r[0].nets.v4.end(),
                       [&](const auto& p) { return p.contains(x); });
  };
  const auto holds6 = [&](const char* a) {
    const auto x = *net::parse_v6(a);
    return std::any_of(r[0].nets.v6.begin(), r[0].nets.v6.end(),
                       [&](const auto& p) { return p.contains(x); });
  };
  EXPECT_TRUE(holds4("1.1.1.1"));
  EXPECT_TRUE(holds6("2606:4700:4700::1111"));
  EXPECT_FALSE(holds4("8.8.8.8"));
}

} // namespace
