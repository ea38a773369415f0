// Benchmark driver for bench/rir.sh's fetch part: one RirSource::load of
// every ISO country and both families, as `source = rir` does it (fetch
// the files and their .md5 with conditional GETs, validate, cache, read
// into zones), printing a summary on stdout.
//   rir_fetch CACHE_DIR URL...
#include "core/country.hpp"
#include "fetch/rir_source.hpp"

#include <cstdio>
#include <exception>
#include <string>

int
main(int argc, char** argv)
{
  using namespace geoblock;
  try {
    if (argc < 3) {
      std::fprintf(stderr, "usage: rir_fetch CACHE_DIR URL...\n");
      return 2;
    }
    fetch::FetchOptions options;
    options.cache_dir = argv[1];
    options.progress = fetch::ProgressMode::Quiet;
    fetch::RirOptions rir;
    rir.urls.assign(argv + 2, argv + argc);
    fetch::RirSource source(options, rir);
    const auto results = source.load(all_countries(), net::Families::Both, net::ZoneSource::Mode::Refresh);
    std::size_t downloaded = 0, not_modified = 0, absent = 0, other = 0, networks = 0;
    for (const auto& r : results) {
      networks += r.networks();
      switch (r.origin) {
      case net::Origin::Downloaded:
        ++downloaded;
        break;
      case net::Origin::NotModified:
        ++not_modified;
        break;
      case net::Origin::Absent:
        ++absent;
        break;
      default:
        ++other;
      }
    }
    std::printf("zones=%zu downloaded=%zu not_modified=%zu absent=%zu failed_or_stale=%zu networks=%zu\n",
                results.size(), downloaded, not_modified, absent, other, networks);
    return other == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rir_fetch: %s\n", e.what());
    return 1;
  }
}
