// The model of the documentation, on the examples the documentation gives
// itself: what the walk's expectations rest on.
#include "walk/model.hpp"

#include <gtest/gtest.h>

namespace geoblock::walk {
namespace {

const Zones k_zones = {{"cn", {network("198.51.100.0/25"), network("2001:db8:1::/48")}},
                       {"ru", {network("203.0.113.0/24")}}};
const Address k_listed = address("198.51.100.10");
const Address k_unlisted = address("198.51.100.200");
const Address k_listed6 = address("2001:db8:1::10");

Config
blocking(std::vector<std::string> countries = {"cn"})
{
  Config c;
  c.countries = std::move(countries);
  return c;
}

TEST(Model, BlockDropsTheListedCountriesOnly)
{
  const Config c = blocking();
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Silent);
  EXPECT_EQ(inbound(c, k_zones, k_listed6, 80), Fate::Silent);
  EXPECT_EQ(inbound(c, k_zones, k_unlisted, 80), Fate::Open);
  EXPECT_EQ(inbound(c, k_zones, address("203.0.113.5"), 80), Fate::Open); // ru is not configured
  // match all: replies to the host's own connections are dropped too.
  EXPECT_EQ(outbound(c, k_zones, k_listed, 8080), Fate::Silent);
  EXPECT_EQ(outbound(c, k_zones, k_unlisted, 8080), Fate::Open);
}

TEST(Model, FamilyAllowInterfaceAndChainNarrowTheBlock)
{
  Config c = blocking();
  c.family = "v4";
  EXPECT_EQ(inbound(c, k_zones, k_listed6, 80), Fate::Open);
  c = blocking();
  c.allow = {"198.51.100.8/29"};
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Open);
  EXPECT_EQ(inbound(c, k_zones, address("198.51.100.20"), 80), Fate::Silent);
  c = blocking();
  c.interfaces = {"gbidle"};
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Open);
  c.interfaces = {"gb+"};
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Silent);
  c = blocking();
  c.chains = {"FORWARD"}; // routed traffic only
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Open);
  c.chains = {"FORWARD", "INPUT"};
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Silent);
  c.chains = {"ingress:gbidle"};
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Open);
}

TEST(Model, PortsAndExceptPorts)
{
  Config c = blocking();
  c.ports = {{"tcp", 22, 22}};
  EXPECT_EQ(inbound(c, k_zones, k_listed, 22), Fate::Silent);
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Open);
  EXPECT_EQ(outbound(c, k_zones, k_listed, 8080), Fate::Open); // replies go to an ephemeral port
  c = blocking();
  c.except_ports = {{"tcp", 80, 80}, {"udp", 22, 22}};
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Open);
  EXPECT_EQ(inbound(c, k_zones, k_listed, 22), Fate::Silent);
  EXPECT_EQ(outbound(c, k_zones, k_listed, 8080), Fate::Silent);
}

TEST(Model, MatchNewAndAllowOnlyLetRepliesThrough)
{
  Config c = blocking();
  c.match = "new";
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Silent);
  EXPECT_EQ(outbound(c, k_zones, k_listed, 8080), Fate::Open);
  c = blocking();
  c.policy = "allow-only";
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Open);
  EXPECT_EQ(inbound(c, k_zones, k_unlisted, 80), Fate::Silent);
  EXPECT_EQ(outbound(c, k_zones, k_unlisted, 8080), Fate::Open);
  c.ports = {{"tcp", 22, 22}}; // only SSH is limited to the allowed countries
  EXPECT_EQ(inbound(c, k_zones, k_unlisted, 80), Fate::Open);
  EXPECT_EQ(inbound(c, k_zones, k_unlisted, 22), Fate::Silent);
}

TEST(Model, DirectionOutRejectsConnectionsToTheListed)
{
  Config c = blocking();
  c.direction = "out";
  EXPECT_EQ(outbound(c, k_zones, k_listed, 8080), Fate::Refused);
  EXPECT_EQ(outbound(c, k_zones, k_unlisted, 8080), Fate::Open);
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Open);
  c.direction = "both";
  EXPECT_EQ(inbound(c, k_zones, k_listed, 80), Fate::Silent);
  c.policy = "allow-only";
  EXPECT_EQ(outbound(c, k_zones, k_unlisted, 8080), Fate::Refused);
  EXPECT_EQ(outbound(c, k_zones, k_listed, 8080), Fate::Open);
}

TEST(Model, ConfigurationText)
{
  Config c = blocking({"cn", "ru"});
  c.chains = {"INPUT", "FORWARD"};
  c.ports = {{"tcp", 22, 22}, {"udp", 1000, 2000}};
  EXPECT_EQ(c.text(), "backend = nftables\ncountries = cn ru\nports = tcp:22,udp:1000-2000\nchain = INPUT\n"
                      "chain = FORWARD\n");
  EXPECT_EQ(to_string(network("2001:db8:1::10/48")), "2001:db8:1::/48");
}

} // namespace
} // namespace geoblock::walk
