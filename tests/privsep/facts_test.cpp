// check's lookups across the privilege boundary (privsep/report.hpp): what
// the fetching process's data says of the addresses asked about, as
// "fact" records, read strictly and checked again here: only addresses
// asked about, each kind and source once, a network that holds the
// address.
#include "core/error.hpp"
#include "privsep/report.hpp"
#include "util/file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace geoblock;
using testing::HasSubstr;

namespace {

const std::vector<net::Address> k_lookups = {*net::parse_address("203.0.113.10"),
                                             *net::parse_address("2001:db8::1")};

net::AddressFact
as_fact(std::size_t index, const char* network, std::uint32_t number = 64496, const char* source = "asn")
{
  net::AddressFact f;
  f.address = index;
  f.kind = net::AddressFact::Kind::As;
  f.as_number = number;
  f.as_name = "Example Hosting";
  f.source = source;
  net::NetList n;
  net::parse_network(network, n);
  net::set_network(f, n.v4.empty() ? net::Family::V6 : net::Family::V4,
                   n.v4.empty() ? net::Prefix4{} : n.v4[0], n.v6.empty() ? net::Prefix6{} : n.v6[0]);
  return f;
}

net::AddressFact
country_fact(std::size_t index, const char* network, const char* cc)
{
  net::AddressFact f = as_fact(index, network, 0, "mmdb");
  f.kind = net::AddressFact::Kind::Country;
  f.as_name.clear();
  f.country = cc;
  return f;
}

std::string
report(const std::vector<net::AddressFact>& facts)
{
  net::SourceData data;
  data.facts = facts;
  return privsep::format_child_report(data);
}

std::string
error_of(const std::string& text)
{
  try {
    privsep::parse_child_report(text, net::SourceData{}, k_lookups);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Facts, TheyRoundTripAndAreCheckedAgainHere)
{
  const std::string text = report({as_fact(0, "203.0.113.0/25"), country_fact(0, "203.0.113.0/24", "ru"),
                                   as_fact(1, "2001:db8::/32", 64497, "mmdb")});
  EXPECT_THAT(text, HasSubstr("fact\t0\tas\t64496\tExample Hosting\t\t203.0.113.0/25\tasn\n"));
  EXPECT_THAT(text, HasSubstr("end\t3\n"));
  const privsep::ChildReport r = privsep::parse_child_report(text, net::SourceData{}, k_lookups);
  ASSERT_EQ(r.facts.size(), 3u);
  const auto facts = privsep::revalidate_facts(r.facts, k_lookups);
  ASSERT_EQ(facts.size(), 3u);
  EXPECT_EQ(facts[0].as_number, 64496u);
  EXPECT_EQ(facts[0].as_name, "Example Hosting");
  EXPECT_EQ(facts[0].network(), "203.0.113.0/25");
  EXPECT_EQ(facts[1].country, "ru");
  EXPECT_EQ(facts[2].family, net::Family::V6);
  EXPECT_EQ(facts[2].source, "mmdb");
}

TEST(Facts, ALyingNetworkIsDroppedOnReValidation)
{
  // 198.51.100.0/24 does not hold 203.0.113.10; an IPv6 network is not of
  // its family; a host route is no network written as one.
  for (const char* network : {"198.51.100.0/24", "2001:db8::/32", "203.0.113.10", "203.0.113.1/24"}) {
    SCOPED_TRACE(network);
    std::string text = report({as_fact(0, "203.0.113.0/25")});
    const std::string shown = "203.0.113.0/25";
    text.replace(text.find(shown), shown.size(), network);
    const privsep::ChildReport r = privsep::parse_child_report(text, net::SourceData{}, k_lookups);
    EXPECT_TRUE(privsep::revalidate_facts(r.facts, k_lookups).empty());
  }
}

TEST(Facts, ForgedRecordsRefuseTheWholeReport)
{
  // An address not asked about.
  EXPECT_THAT(error_of(report({as_fact(2, "203.0.113.0/25")})), HasSubstr("an address not asked about"));
  // Twice the same kind and source for one address.
  EXPECT_THAT(error_of(report({as_fact(0, "203.0.113.0/25"), as_fact(0, "203.0.113.0/24", 64499)})),
              HasSubstr("a second fact"));
  // A country that is no two lower-case letters, a country with an AS
  // number, an unknown source, an unknown kind.
  std::string text = report({country_fact(0, "203.0.113.0/24", "ru")});
  EXPECT_THAT(error_of(std::string(text).replace(text.find("\tru\t"), 4, "\tRU\t")), HasSubstr("malformed"));
  EXPECT_THAT(error_of(std::string(text).replace(text.find("country\t0\t"), 10, "country\t7\t")),
              HasSubstr("malformed"));
  EXPECT_THAT(error_of(std::string(text).replace(text.find("\tmmdb\n"), 6, "\thttp\n")),
              HasSubstr("malformed"));
  EXPECT_THAT(error_of(std::string(text).replace(text.find("\tcountry\t"), 9, "\tcity\t")),
              HasSubstr("malformed"));
  // The end line must count the facts; facts with no lookups at all.
  text = report({as_fact(0, "203.0.113.0/25")});
  EXPECT_THAT(error_of(std::string(text).replace(text.find("end\t1"), 5, "end\t0")),
              HasSubstr("expected 'end 1'"));
  try {
    privsep::parse_child_report(text, net::SourceData{});
    ADD_FAILURE() << "a fact with nothing looked up";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not asked about"));
  }
}

TEST(Facts, TheFuzzSeedIsAValidReport)
{
  const std::string text = util::read_file(GEOBLOCK_SOURCE_DIR "/tests/fuzz/corpus/report/facts.txt");
  const privsep::ChildReport r = privsep::parse_child_report(
      text, {"cn", "de"}, net::Families::Both,
      {{"drop.txt", "https://www.spamhaus.org/drop/drop.txt"}, {"own.txt", "/etc/geoblock/own.txt"}},
      {{13335, false}, {64496, true}}, k_lookups);
  ASSERT_EQ(r.facts.size(), 4u);
  EXPECT_EQ(privsep::revalidate_facts(r.facts, k_lookups).size(), 4u);
}

} // namespace
