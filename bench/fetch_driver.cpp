// Benchmark driver for bench/fetch.sh: one fetch_zones() run, as the CLI
// would do it, printing the summary on stdout.
//   fetch_driver BASE_URL CACHE_DIR cc,cc,...    fetch both families
//   fetch_driver --iso                            print the known country codes
#include "core/country.hpp"
#include "fetch/fetcher.hpp"

#include <cstdio>
#include <exception>
#include <string>

int
main(int argc, char** argv)
{
  using namespace geoblock;
  try {
    if (argc == 2 && std::string(argv[1]) == "--iso") {
      for (const auto& cc : all_countries()) {
        std::printf("%s\n", cc.c_str());
      }
      return 0;
    }
    if (argc != 4) {
      std::fprintf(stderr, "usage: fetch_driver BASE_URL CACHE_DIR cc,cc,...\n");
      return 2;
    }
    fetch::FetchOptions options;
    options.base_url = argv[1];
    options.cache_dir = argv[2];
    options.progress = fetch::ProgressMode::Quiet;
    // Like for like with the curl recipe's --parallel-max 8 (the default,
    // 4, is for the public mirror; a loopback nginx takes more).
    options.parallel = 8;
    const auto countries = parse_countries({argv[3]});
    const auto results = fetch::fetch_zones(countries, net::Families::Both, options);
    const auto s = fetch::summarize(results);
    std::printf("zones=%zu downloaded=%zu not_modified=%zu stale=%zu failed=%zu absent=%zu bytes=%llu\n",
                s.zones, s.downloaded, s.not_modified, s.stale_cache, s.failed, s.absent,
                static_cast<unsigned long long>(s.bytes));
    return s.failed + s.stale_cache == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fetch_driver: %s\n", e.what());
    return 1;
  }
}
