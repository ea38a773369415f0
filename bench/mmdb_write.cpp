// Writes the data of a GeoLite2 Country CSV zip as a MaxMind-format
// database (what MaxMind's GeoLite2-Country.mmdb holds for the same
// release): an IPv6 database, 24-bit records, IPv4 under ::/96 with
// MaxMind's aliases, {"country": {"iso_code": CC}} records. For
// bench/mmdb.sh, which reads both and compares.
//
//   mmdb_write ZIP OUT.mmdb
#include "source/maxmind.hpp"
#include "support/mmdb_writer.hpp"

#include <cstdio>
#include <exception>
#include <fstream>

int
main(int argc, char** argv)
{
  if (argc != 3) {
    std::fprintf(stderr, "usage: mmdb_write ZIP OUT.mmdb\n");
    return 2;
  }
  try {
    using namespace geoblock;
    const auto zones = source::read_maxmind(argv[1], {}, net::Families::Both);
    test::MmdbWriter w(6, 24, "GeoLite2-Country");
    std::size_t n = 0;
    for (const auto& z : zones) {
      std::string cc = z.country;
      for (char& c : cc) {
        c = static_cast<char>(c & ~0x20);
      }
      const test::MmdbValue record = test::maxmind_country(cc);
      for (const auto& p : z.nets.v4) {
        w.insert(p, record);
      }
      for (const auto& p : z.nets.v6) {
        w.insert(p, record);
      }
      n += z.networks();
    }
    w.add_ipv4_aliases();
    std::ofstream(argv[2], std::ios::binary) << w.bytes();
    std::fprintf(stderr, "mmdb_write: %zu networks written to %s\n", n, argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmdb_write: %s\n", e.what());
    return 1;
  }
  return 0;
}
