// Helpers shared by the fetcher tests: a generated ipdeny-style mirror,
// small file helpers, and FetchOptions suited to loopback servers.
#pragma once

#include "fetch/fetcher.hpp"
#include "support/temp_dir.hpp"
#include "util/digest.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace geoblock::test {

inline const std::vector<std::string> k_mirror_countries = {"is", "li", "nz", "va"};

inline std::string slurp(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void spit(const std::string& path, const std::string& data)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Runs argv (no shell); returns the exit status (-1 if it did not exit).
inline int run_argv(const std::vector<std::string>& argv)
{
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Generates an ipdeny-style mirror of a few countries under `dir` with
// scripts/make-zones (from Debian's tor-geoipdb).
inline bool make_mirror(const std::string& dir, const std::vector<std::string>& countries = k_mirror_countries)
{
  std::string list;
  for (const auto& c : countries) {
    list += (list.empty() ? "" : ",") + c;
  }
  return run_argv({"/usr/bin/python3", std::string(GEOBLOCK_SOURCE_DIR) + "/scripts/make-zones", dir, "--countries",
                   list}) == 0;
}

inline std::string mirror_zone(const std::string& mirror, const std::string& cc, net::Family f)
{
  return mirror + (f == net::Family::V4 ? "/ipblocks/data/countries/" : "/ipv6/ipaddresses/blocks/") + cc + ".zone";
}

// Rewrites the MD5SUM entry of `cc` in the mirror to match its zone file
// (or drops it when the file is gone), like upstream does on an update.
inline void update_md5sum(const std::string& mirror, const std::string& cc, net::Family f)
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
  spit(sums, out);
}

inline fetch::FetchOptions loopback_options(const std::string& base_url, const std::string& cache_dir)
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

inline const fetch::ZoneResult* find_result(const std::vector<fetch::ZoneResult>& results, const std::string& cc,
                                            net::Family f)
{
  for (const auto& r : results) {
    if (r.country == cc && r.family == f) {
      return &r;
    }
  }
  return nullptr;
}

} // namespace geoblock::test
