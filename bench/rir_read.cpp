// Benchmark driver for bench/rir.sh: reads RIR delegated-extended files with
// net::parse_rir, aggregates every country's networks and writes them to
// OUTDIR/v4/cc.zone and OUTDIR/v6/cc.zone for the script to compare with
// the reference. Prints the time of each phase on stderr.
//
//   rir_read OUTDIR FILE...
#include "net/aggregate.hpp"
#include "net/rir.hpp"
#include "write_zone.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <sstream>
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
  if (argc < 3) {
    std::fprintf(stderr, "usage: rir_read OUTDIR FILE...\n");
    return 2;
  }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    geoblock::net::RirData data;
    for (int i = 2; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      std::ostringstream body;
      body << in.rdbuf();
      geoblock::net::parse_rir(body.str(), argv[i], data);
    }
    const double parsed = seconds_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    const std::string out = argv[1];
    for (const auto& [cc, nets] : data.countries) {
      write_zone(out + "/v4/" + cc + ".zone", geoblock::net::aggregate(nets.v4));
      write_zone(out + "/v6/" + cc + ".zone", geoblock::net::aggregate(nets.v6));
    }
    std::fprintf(stderr, "rir_read: %zu records, %zu countries; parse %.3f s, aggregate+write %.3f s\n",
                 data.records, data.countries.size(), parsed, seconds_since(t1));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rir_read: %s\n", e.what());
    return 1;
  }
  return 0;
}
