// Benchmark driver for bench/maxmind.sh: reads a GeoLite2 Country CSV zip
// with source::read_maxmind for every country, aggregates each country's
// networks and writes them to OUTDIR/v4/cc.zone and OUTDIR/v6/cc.zone so
// the script can compare them with a reference. Prints the time of each
// phase on stderr.
//
//   maxmind_read ZIP OUTDIR
#include "net/aggregate.hpp"
#include "source/maxmind.hpp"
#include "write_zone.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

namespace {

double
seconds_since(std::chrono::steady_clock::time_point t0)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

int
main(int argc, char** argv)
{
  if (argc != 3) {
    std::fprintf(stderr, "usage: maxmind_read ZIP OUTDIR\n");
    return 2;
  }
  try {
    const std::string out = argv[2];
    auto t0 = std::chrono::steady_clock::now();
    auto results = geoblock::source::read_maxmind(argv[1], {}, geoblock::net::Families::Both);
    const double read_s = seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    std::size_t in = 0;
    std::size_t kept = 0;
    std::size_t countries = 0;
    for (auto& r : results) {
      in += r.networks();
      if (r.family == geoblock::net::Family::V4) {
        ++countries;
        r.nets.v4 = geoblock::net::aggregate(std::move(r.nets.v4));
      } else {
        r.nets.v6 = geoblock::net::aggregate(std::move(r.nets.v6));
      }
      kept += r.networks();
    }
    const double aggregate_s = seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    for (const auto& r : results) {
      if (r.origin != geoblock::net::Origin::Local) {
        continue;
      }
      if (r.family == geoblock::net::Family::V4) {
        write_zone(out + "/v4/" + r.country + ".zone", r.nets.v4);
      } else {
        write_zone(out + "/v6/" + r.country + ".zone", r.nets.v6);
      }
    }
    std::fprintf(stderr,
                 "maxmind_read: %zu countries, %zu networks read, %zu after aggregation; "
                 "read_maxmind %.3f s, aggregate %.3f s, write %.3f s\n",
                 countries, in, kept, read_s, aggregate_s, seconds_since(t0));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "maxmind_read: %s\n", e.what());
    return 1;
  }
  return 0;
}
