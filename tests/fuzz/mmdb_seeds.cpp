// Writes the seed corpus of fuzz_mmdb into DIR (scripts/fuzz runs it, so
// no binary database is committed): small databases of every record size,
// IPv4 and IPv6 (with MaxMind's aliases), both country layouts, ASN
// databases of both layouts, and ASN text; each file once per
// options byte the target reads first.
// Usage: mmdb_seeds DIR
#include "support/mmdb_writer.hpp"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace geoblock;
using test::MmdbMap;
using test::MmdbWriter;

namespace {

net::Prefix4
p4(const char* a, int len)
{
  return {*net::parse_v4(a), static_cast<std::uint8_t>(len)};
}

net::Prefix6
p6(const char* a, int len)
{
  return {*net::parse_v6(a), static_cast<std::uint8_t>(len)};
}

} // namespace

int
main(int argc, char** argv)
{
  if (argc != 2) {
    std::fprintf(stderr, "usage: mmdb_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  int n = 0;
  const auto seed = [&](const std::string& bytes, std::vector<int> options) {
    for (const int opt : options) {
      std::ofstream(dir + "/seed-" + std::to_string(n) + "-" + std::to_string(opt), std::ios::binary)
          << static_cast<char>(opt) << bytes;
    }
    ++n;
  };
  for (const int size : {24, 28, 32}) {
    MmdbWriter w(6, size, "GeoLite2-Country");
    w.insert(p4("198.51.100.0", 25), test::maxmind_country("NL"));
    w.insert(p4("203.0.113.0", 26), MmdbMap{{"registered_country", MmdbMap{{"iso_code", "US"}}}});
    w.insert(p6("2001:db8::", 33), test::maxmind_country("DE"));
    w.add_ipv4_aliases();
    seed(w.bytes(), {0, 2, 4});
  }
  MmdbWriter flat(4, 24, "geolite2-country");
  flat.insert(p4("198.51.100.0", 24), test::flat_country("CN"));
  flat.insert(p4("192.0.2.0", 24), test::flat_country("RU"));
  seed(flat.bytes(), {0, 4});

  MmdbWriter asn(4, 24, "GeoLite2-ASN");
  asn.insert(p4("198.51.100.0", 24), MmdbMap{{"autonomous_system_number", 13335},
                                             {"autonomous_system_organization", "Cloudflare, Inc."}});
  seed(asn.bytes(), {1});
  MmdbWriter ipinfo(6, 28, "ipinfo country_asn.mmdb");
  ipinfo.insert(p6("2001:db8::", 32), MmdbMap{{"asn", "AS64496"}, {"as_name", "Example"}, {"country", "US"}});
  seed(ipinfo.bytes(), {1});
  seed("198.51.100.0\t198.51.100.255\t64496\tUS\tExample\n2001:db8::\t2001:db8::ffff\t0\tNone\tNot routed\n",
       {1});
  seed("ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization\n"
       "198.51.100.0,198.51.100.127,13335,\"Cloudflare, Inc.\"\n",
       {1});
  return 0;
}
