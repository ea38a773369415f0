// Fuzzes the report the unprivileged fetcher hands the root process
// (privsep/report.hpp parse_child_report): its input is whatever a
// compromised fetcher could write on the pipe. Checked on every input:
//  - it throws nothing but Error;
//  - accepted, it returns exactly the zones asked for, in their order;
//  - text fields are printable ASCII of at most 1024 bytes;
//  - a body comes only with a zone that has data, and is cut from the input;
//  - accepted, it returns exactly the lists asked for, in their order, with
//    the names and locations asked for (never the writer's), a known
//    origin other than absent, a digest that is empty or 64 hex digits,
//    and a body only for a usable list;
//  - read with ASes asked for too, it returns exactly those, in order,
//    with the numbers and allow flags asked for, printable names, and a
//    body only for an AS with data;
//  - read with addresses looked up too, its facts are about those
//    addresses only, each kind and source at most once per address, with
//    printable bounded text, and re-validation keeps only networks of the
//    address's family that hold it.
#include "core/error.hpp"
#include "fuzz/fuzz_util.hpp"
#include "privsep/report.hpp"

#include <string>
#include <vector>

namespace {

using namespace geoblock;
using fuzz::check;

bool
printable(const std::string& s)
{
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return false;
    }
  }
  return s.size() <= 1024;
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size)
{
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> countries = {"cn", "de"};
  const std::vector<privsep::ExpectedList> lists = {{"drop.txt", "https://www.spamhaus.org/drop/drop.txt"},
                                                    {"own.txt", "/etc/geoblock/own.txt"}};
  // The same input as a report of zones alone, and of zones and lists.
  try {
    check(privsep::parse_child_report(text, countries, net::Families::Both).size() == 4, "four zones");
  } catch (const Error&) {
  }
  std::vector<privsep::ReportedZone> zones;
  try {
    privsep::ChildReport report = privsep::parse_child_report(text, countries, net::Families::Both, lists);
    check(report.lists.size() == lists.size(), "one result per list asked for");
    for (std::size_t i = 0; i < report.lists.size(); ++i) {
      const privsep::ReportedList& l = report.lists[i];
      check(l.name == lists[i].name && l.location == lists[i].location, "the lists asked for, in order");
      check(l.origin != net::Origin::Absent, "no list is absent");
      check(l.sha256.empty() || (l.sha256.size() == 64 &&
                                 l.sha256.find_first_not_of("0123456789abcdef") == std::string::npos),
            "a digest or none");
      check(printable(l.error), "text fields are printable and bounded");
      check(l.body.empty() || l.usable(), "bodies only with data");
      check(l.body.size() <= text.size(), "bodies come from the input");
    }
    zones = std::move(report.zones);
  } catch (const Error&) {
    return 0;
  }
  // The same input as a report of zones, lists and ASes.
  const std::vector<privsep::ExpectedAsn> asns = {{13335, false}, {64496, true}};
  try {
    const privsep::ChildReport report =
        privsep::parse_child_report(text, countries, net::Families::Both, lists, asns);
    check(report.asns.size() == asns.size(), "one result per AS asked for");
    for (std::size_t i = 0; i < report.asns.size(); ++i) {
      const privsep::ReportedAsn& a = report.asns[i];
      check(a.number == asns[i].number && a.allow == asns[i].allow, "the ASes asked for, in order");
      check(printable(a.name) && printable(a.location) && printable(a.error),
            "text fields are printable and bounded");
      check(a.body.empty() || (a.origin != net::Origin::Failed && a.origin != net::Origin::Absent),
            "bodies only with data");
      check(a.body.size() <= text.size(), "bodies come from the input");
    }
  } catch (const Error&) {
  }
  // The same input with addresses looked up: zones, lists, ASes, facts.
  const std::vector<net::Address> lookups = {*net::parse_address("203.0.113.10"),
                                             *net::parse_address("2001:db8::1")};
  try {
    const privsep::ChildReport report =
        privsep::parse_child_report(text, countries, net::Families::Both, lists, asns, lookups);
    check(report.facts.size() <= lookups.size() * 4, "at most one fact per address, kind and source");
    for (std::size_t i = 0; i < report.facts.size(); ++i) {
      const privsep::ReportedFact& f = report.facts[i];
      check(f.address < lookups.size(), "facts about the addresses asked about");
      check(f.source == "asn" || f.source == "mmdb", "a known source");
      check(printable(f.as_name) && printable(f.network) && printable(f.country), "text is printable");
      for (std::size_t j = 0; j < i; ++j) {
        const privsep::ReportedFact& g = report.facts[j];
        check(g.address != f.address || g.kind != f.kind || g.source != f.source, "each once");
      }
    }
    for (const net::AddressFact& f : privsep::revalidate_facts(report.facts, lookups)) {
      check(f.holds(lookups[f.address]), "a kept fact's network holds its address");
    }
  } catch (const Error&) {
  }
  check(zones.size() == 4, "one result per zone asked for");
  for (std::size_t i = 0; i < zones.size(); ++i) {
    const privsep::ReportedZone& z = zones[i];
    check(z.country == countries[i % 2], "countries in the order asked for");
    check(z.family == (i < 2 ? net::Family::V4 : net::Family::V6), "v4 zones first, then v6");
    check(printable(z.location) && printable(z.error), "text fields are printable and bounded");
    check(z.body.empty() || (z.usable() && z.origin != net::Origin::Absent), "bodies only with data");
    check(z.body.size() <= text.size(), "bodies come from the input");
  }
  return 0;
}
