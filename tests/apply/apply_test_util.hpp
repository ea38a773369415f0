// Helpers shared by the applier's kernel tests.
#pragma once

#include "apply/applier.hpp"
#include "apply/ipset_session.hpp"
#include "net/aggregate.hpp"
#include "net/zone.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace geoblock::test {

// Aggregated networks from their text.
inline net::NetList
nets(std::initializer_list<const char*> texts)
{
  net::NetList raw;
  for (const char* t : texts) {
    if (!net::parse_network(t, raw)) {
      throw std::runtime_error(std::string("bad test network ") + t);
    }
  }
  net::NetList out;
  out.v4 = net::aggregate(raw.v4);
  out.v6 = net::aggregate(raw.v6);
  return out;
}

// Options whose lock lives in `dir`, and which never take the SSH session
// that runs the tests for the one to protect.
inline apply::ApplyOptions
options_in(const TempDir& dir)
{
  apply::ApplyOptions o;
  o.lock_path = dir / "geoblock.lock";
  o.lock_wait = std::chrono::seconds(5);
  o.ssh_connection = "";
  return o;
}

template <class A>
std::vector<net::Prefix<A>>
sorted(std::vector<net::Prefix<A>> v)
{
  std::sort(v.begin(), v.end());
  return v;
}

// The members of a live set, sorted.
inline net::NetList
members(const std::string& set)
{
  apply::IpsetSession s;
  net::NetList out;
  s.list_members(set, out);
  std::sort(out.v4.begin(), out.v4.end());
  std::sort(out.v6.begin(), out.v6.end());
  return out;
}

inline bool
set_exists(const std::string& set)
{
  apply::IpsetSession s;
  return s.exists(set);
}

} // namespace geoblock::test
