// Shared by the benchmark drivers: one aggregated zone written as a file,
// one network per line, for the scripts to compare with a reference.
#pragma once

#include "net/cidr.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

template <class A>
void
write_zone(const std::string& path, const std::vector<geoblock::net::Prefix<A>>& nets)
{
  std::string text;
  for (const auto& p : nets) {
    geoblock::net::append_prefix(text, p);
    text += '\n';
  }
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0) {
    throw std::runtime_error("cannot write " + path);
  }
}
