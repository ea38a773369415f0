// Benchmark driver for bench/mmdb.sh: reads MaxMind-format databases with
// source::MmdbSource for every country (the whole search tree), aggregates
// each country's networks and writes them to OUTDIR/v4/cc.zone and
// OUTDIR/v6/cc.zone so the script can compare them with the CSV zip's.
// Prints the time of each phase on stderr.
//
//   mmdb_read OUTDIR FILE.mmdb...
#include "net/aggregate.hpp"
#include "source/mmdb_source.hpp"
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
  if (argc < 3) {
    std::fprintf(stderr, "usage: mmdb_read OUTDIR FILE.mmdb...\n");
    return 2;
  }
  try {
    const std::string out = argv[1];
    geoblock::source::MmdbOptions o;
    o.files.assign(argv + 2, argv + argc);
    auto t0 = std::chrono::steady_clock::now();
    auto results = geoblock::source::MmdbSource(o).load({}, geoblock::net::Families::Both,
                                                        geoblock::net::ZoneSource::Mode::Refresh);
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
                 "mmdb_read: %zu countries, %zu networks read, %zu after aggregation; "
                 "read %.3f s, aggregate %.3f s, write %.3f s\n",
                 countries, in, kept, read_s, aggregate_s, seconds_since(t0));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmdb_read: %s\n", e.what());
    return 1;
  }
  return 0;
}
