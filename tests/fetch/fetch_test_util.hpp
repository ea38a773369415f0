// Helpers shared by the fetcher tests: a generated ipdeny-style mirror,
// small file helpers, and FetchOptions suited to loopback servers.
#pragma once

#include "fetch/fetcher.hpp"
#include "support/temp_dir.hpp"
#include "util/digest.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace geoblock::test {

inline const std::vector<std::string> k_mirror_countries = {"is", "li", "nz", "va"};

inline std::string
slurp(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void
spit(const std::string& path, const std::string& data)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Writes a small ipdeny-style mirror of k_mirror_countries under `dest`
// (zones of a few hundred networks each, and both MD5SUM files). Generated
// here rather than with scripts/make-zones, which takes seconds per run.
inline void
write_mirror(const std::string& dest)
{
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    const std::string dir =
        dest + (f == net::Family::V4 ? "/ipblocks/data/countries" : "/ipv6/ipaddresses/blocks");
    std::filesystem::create_directories(dir);
    std::string sums;
    for (std::size_t c = 0; c < k_mirror_countries.size(); ++c) {
      std::string zone;
      const std::size_t count = 200 + 150 * c;
      for (std::size_t i = 0; i < count; ++i) {
        if (f == net::Family::V4) {
          zone += std::to_string(20 + c) + "." + std::to_string(i / 8) + "." + std::to_string((i % 8) * 32) +
                  ".0/19\n";
        } else {
          char line[64];
          std::snprintf(line, sizeof line, "2a0%zu:%zx::/32\n", c + 1, i + 1);
          zone += line;
        }
      }
      const std::string name = k_mirror_countries[c] + ".zone";
      spit(dir + "/" + name, zone);
      sums += util::md5_hex(zone) + "  " + name + "\n";
    }
    spit(dir + "/MD5SUM", sums);
  }
}

inline std::string
mirror_zone(const std::string& mirror, const std::string& cc, net::Family f)
{
  return mirror + (f == net::Family::V4 ? "/ipblocks/data/countries/" : "/ipv6/ipaddresses/blocks/") + cc +
         ".zone";
}

// Rewrites the MD5SUM entry of `cc` in the mirror to match its zone file
// (or drops it when the file is gone), like upstream does on an update.
inline void
update_md5sum(const std::string& mirror, const std::string& cc, net::Family f)
{
  const std::string zone = mirror_zone(mirror, cc, f);
  const std::string sums = zone.substr(0, zone.rfind('/')) + "/MD5SUM";
  std::istringstream in(slurp(sums));
  std::string out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > 34 && line.substr(34) == cc + ".zone") {
      continue;
    }
    out += line + "\n";
  }
  if (std::filesystem::exists(zone)) {
    out += util::md5_hex(slurp(zone)) + "  " + cc + ".zone\n";
  }
  // nginx's ETag and Last-Modified have one-second resolution: make sure
  // the rewritten list looks changed even within the same second.
  const auto mtime = std::filesystem::last_write_time(sums);
  spit(sums, out);
  std::filesystem::last_write_time(sums, mtime + std::chrono::seconds(2));
}

inline fetch::FetchOptions
loopback_options(const std::string& base_url, const std::string& cache_dir)
{
  fetch::FetchOptions o;
  o.base_url = base_url;
  o.cache_dir = cache_dir;
  o.progress = fetch::ProgressMode::Quiet;
  o.connect_timeout_ms = 2'000;
  o.timeout_ms = 10'000;
  o.retries = 2;
  o.retry_delay_ms = 10;
  return o;
}

inline const net::ZoneResult*
find_result(const std::vector<net::ZoneResult>& results, const std::string& cc, net::Family f)
{
  for (const auto& r : results) {
    if (r.country == cc && r.family == f) {
      return &r;
    }
  }
  return nullptr;
}

} // namespace geoblock::test
