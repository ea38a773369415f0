// What check says of an address (flow/check.hpp): the verdict, and the
// country and AS the data names for it with what each does, for every
// address, configured or not.
#include "flow/check.hpp"
#include "net/blocklist.hpp"
#include "net/zone.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using namespace geoblock;

net::ZoneResult
zone(const std::string& country, const std::string& text)
{
  net::ZoneResult z;
  z.country = country;
  z.origin = net::Origin::Local;
  net::parse_zone(text, country, net::ZoneOptions{}, z.nets);
  return z;
}

net::AsnResult
as(std::uint32_t number, const std::string& name, bool allow, const std::string& text)
{
  net::AsnResult a;
  a.number = number;
  a.name = name;
  a.allow = allow;
  a.origin = net::Origin::Local;
  net::parse_blocklist(text, "as", net::ZoneOptions{}, a.nets);
  return a;
}

net::AddressFact
fact(std::size_t index, const std::string& network, std::uint32_t number, const std::string& name,
     const std::string& source = "asn")
{
  net::AddressFact f;
  f.address = index;
  f.kind = net::AddressFact::Kind::As;
  f.as_number = number;
  f.as_name = name;
  f.source = source;
  net::NetList n;
  net::parse_network(network, n);
  f.v4 = n.v4.at(0);
  return f;
}

net::AddressFact
country(std::size_t index, const std::string& network, const std::string& cc)
{
  net::AddressFact f = fact(index, network, 0, "", "mmdb");
  f.kind = net::AddressFact::Kind::Country;
  f.country = cc;
  return f;
}

// cn (listed) 198.51.100.0/24; AS64496 (asn) 203.0.113.0/25; AS64497
// (allow-asn) 198.51.100.192/26; the data: ru 203.0.113.0/24, de
// 192.0.2.0/24, AS64499 192.0.2.0/25 (not configured).
struct Fixture {
  flow::Settings s;
  std::vector<net::ZoneResult> zones = {zone("cn", "198.51.100.0/24\n")};
  std::vector<net::BlocklistResult> lists;
  std::vector<net::AsnResult> asns = {as(64496, "Example Hosting", false, "203.0.113.0/25\n"),
                                      as(64497, "Example Office", true, "198.51.100.192/26\n")};
  std::vector<net::AddressFact> facts;

  explicit Fixture(bool allow_only = false)
  {
    s.countries = {"cn"};
    s.asns = {64496};
    s.allow_asns = {64497};
    s.allow_only = allow_only;
  }
  std::string check(const std::string& text, std::size_t index = 0)
  {
    flow::CheckData data{zones, lists, asns, facts, s};
    data.country_data = true;
    data.as_data = true;
    return flow::check_address(text, *net::parse_address(text), index, data);
  }
};

TEST(Check, TheCountryAndTheAsOfEveryAddressAndWhatEachDoes)
{
  Fixture f;
  f.facts = {country(0, "203.0.113.0/24", "ru"),  fact(0, "203.0.113.0/25", 64496, "Example Hosting"),
             country(1, "198.51.100.0/24", "cn"), fact(1, "198.51.100.192/26", 64497, "Example Office"),
             country(2, "192.0.2.0/24", "de"),    fact(2, "192.0.2.0/25", 64499, "Example Transit"),
             country(3, "198.51.100.0/24", "cn")};
  EXPECT_EQ(f.check("203.0.113.10", 0),
            "203.0.113.10: blocked by AS64496 Example Hosting (203.0.113.0/25, asn); country: ru "
            "(203.0.113.0/24): not listed; AS: AS64496 Example Hosting (203.0.113.0/25): asn, blocks it");
  EXPECT_EQ(f.check("198.51.100.200", 1),
            "198.51.100.200: allowed by allow-asn AS64497 Example Office (198.51.100.192/26); country: cn "
            "(198.51.100.0/24): listed, not blocked here; AS: AS64497 Example Office (198.51.100.192/26): "
            "allow-asn, never blocked");
  EXPECT_EQ(f.check("192.0.2.1", 2),
            "192.0.2.1: not blocked: in none of the listed countries; country: de "
            "(192.0.2.0/24): not listed; AS: AS64499 Example Transit (192.0.2.0/25): "
            "not listed");
  EXPECT_EQ(f.check("198.51.100.7", 3), "198.51.100.7: blocked by cn (198.51.100.0/24); country: cn "
                                        "(198.51.100.0/24): listed, blocks it; AS: none in the data");
  EXPECT_EQ(f.check("192.0.2.200", 4), "192.0.2.200: not blocked: in none of the listed countries; country: "
                                       "none in the data; AS: none in the data");
}

TEST(Check, TheAsnDataIsPreferredToADatabasesAsAndTheAllowlistStillWins)
{
  Fixture f;
  f.facts = {fact(0, "203.0.113.0/24", 64511, "From The Database", "mmdb"),
             fact(0, "203.0.113.0/25", 64496, "Example Hosting", "asn")};
  f.s.allow = {{{*net::parse_v4("203.0.113.8"), 29}}, {}};
  EXPECT_EQ(f.check("203.0.113.10", 0),
            "203.0.113.10: allowed by the allowlist (203.0.113.8/29); country: none in the data; AS: AS64496 "
            "Example Hosting (203.0.113.0/25): asn, not blocked here");
}

TEST(Check, WithoutSuchDataConfiguredNothingIsSaidOfIt)
{
  Fixture f;
  f.asns.clear();
  f.s.asns.clear();
  f.s.allow_asns.clear();
  flow::CheckData data{f.zones, f.lists, f.asns, f.facts, f.s};
  EXPECT_EQ(flow::check_address("198.51.100.7", *net::parse_address("198.51.100.7"), 0, data),
            "198.51.100.7: blocked by cn (198.51.100.0/24)");
  // An AS a database names (IPinfo's country_asn) is said all the same.
  f.facts = {fact(0, "198.51.100.0/24", 64511, "Example", "mmdb")};
  EXPECT_EQ(
      flow::check_address("198.51.100.7", *net::parse_address("198.51.100.7"), 0, data),
      "198.51.100.7: blocked by cn (198.51.100.0/24); AS: AS64511 Example (198.51.100.0/24): not listed");
}

TEST(Check, AllowOnlyLetsInTheAllowedCountriesAndAsesButNotTheBlockedOnes)
{
  Fixture f(true);
  f.asns = {as(64496, "Example Hosting", false, "198.51.100.0/26\n"),
            as(64497, "Example Office", true, "203.0.113.0/25\n")};
  f.facts = {fact(0, "198.51.100.0/26", 64496, "Example Hosting"), country(0, "198.51.100.0/24", "cn"),
             fact(1, "203.0.113.0/25", 64497, "Example Office"), country(1, "203.0.113.0/24", "ru"),
             country(2, "192.0.2.0/24", "de")};
  EXPECT_EQ(
      f.check("198.51.100.9", 0),
      "198.51.100.9: blocked by AS64496 Example Hosting (198.51.100.0/26, asn) (policy allow-only: taken "
      "out of what is allowed); country: cn (198.51.100.0/24): an allowed country; AS: AS64496 Example "
      "Hosting (198.51.100.0/26): asn, blocks it");
  EXPECT_EQ(f.check("203.0.113.9", 1),
            "203.0.113.9: allowed: allow-asn AS64497 Example Office (203.0.113.0/25) (policy allow-only); "
            "country: ru (203.0.113.0/24): not an allowed country; AS: AS64497 Example Office "
            "(203.0.113.0/25): allow-asn, lets it in");
  EXPECT_EQ(f.check("192.0.2.9", 2),
            "192.0.2.9: blocked: in none of the allowed countries or ASes (policy "
            "allow-only); country: de (192.0.2.0/24): not an allowed country; AS: none "
            "in the data");
}

} // namespace

namespace {

TEST(Check, TheActionOfTheCountryThatHoldsTheAddressIsSaid)
{
  Fixture f;
  f.facts = {country(0, "198.51.100.0/24", "cn")};
  const auto said = [&](apply::SourceAction::Kind kind, const std::string& rate = {}) {
    apply::SourceAction a;
    a.kind = kind;
    a.rate = rate;
    f.s.country_actions["cn"] = a;
    const std::string out = f.check("198.51.100.7", 0);
    return out.substr(0, out.find(';'));
  };
  EXPECT_EQ(said(apply::SourceAction::Kind::Drop), "198.51.100.7: blocked by cn (198.51.100.0/24)");
  EXPECT_EQ(said(apply::SourceAction::Kind::Reject),
            "198.51.100.7: rejected by cn (198.51.100.0/24) (cn reject: refused at once)");
  EXPECT_EQ(said(apply::SourceAction::Kind::Limit, "10/sec"),
            "198.51.100.7: limited by cn (198.51.100.0/24) (cn limit 10/sec: over it dropped)");
  EXPECT_EQ(said(apply::SourceAction::Kind::Count),
            "198.51.100.7: counted, not blocked: cn (198.51.100.0/24) (cn count)");
  // Counted only: the country does not block it.
  EXPECT_NE(f.check("198.51.100.7", 0).find("country: cn (198.51.100.0/24): listed, not blocked here"),
            std::string::npos);
}

} // namespace
