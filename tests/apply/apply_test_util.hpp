// Helpers shared by the applier's kernel tests.
#pragma once

#include "apply/applier.hpp"
#include "apply/backend.hpp"
#include "apply/ipset_session.hpp"
#include "net/aggregate.hpp"
#include "net/zone.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace geoblock::apply {
// gtest prints a rule by what it does.
inline void
PrintTo(const Rule& rule, std::ostream* os)
{
  *os << describe(rule);
}
} // namespace geoblock::apply

namespace geoblock::test {

// The iptables+ipset backend, for the tests written against it.
inline apply::Backend&
iptables()
{
  static const auto backend = apply::make_iptables_backend();
  return *backend;
}

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

// The nft command, for tests that look at or add to the ruleset as an
// administrator would (the backend itself never runs it).
inline std::string
nft_list(const std::vector<std::string>& what)
{
  std::vector<std::string> argv = {"nft", "list"};
  argv.insert(argv.end(), what.begin(), what.end());
  return run_checked(argv);
}

inline void
nft_load(const std::string& text)
{
  run_checked({"nft", "-f", "-"}, text);
}

// host (the test's namespace) <-> client; the client has one address
// inside the blocked networks (blocklist()) and one outside, per family.
struct InputLayout {
  NamedNetns client;
  InputLayout()
  {
    link_veth(nullptr, "gb-h", {"198.51.100.1/24", "2001:db8:1::1/64"}, &client, "gb-c",
              {"198.51.100.10/24", "198.51.100.200/24", "2001:db8:1::10/64", "2001:db8:1::200/64"});
  }
};
inline const char* const k_blocked4 = "198.51.100.10";
inline const char* const k_allowed4 = "198.51.100.200";
inline const char* const k_blocked6 = "2001:db8:1::10";
inline const char* const k_allowed6 = "2001:db8:1::200";
inline const char* const k_host4 = "198.51.100.1";
inline const char* const k_host6 = "2001:db8:1::1";

inline net::NetList
blocklist()
{
  return nets({"198.51.100.0/28", "203.0.113.128/25", "2001:db8:1::/120", "2001:db8:ffff::/48"});
}

// The two lists the probers alternate between: both block .10 (inside
// 198.51.100.0/28) and neither blocks .200 (allowed), each with `extra`
// other /24s (every other one of 10/8, resp. 11/8, so nothing merges) so
// that a load takes a while.
struct ProberLists {
  net::NetList a, b;
};
inline ProberLists
prober_lists(std::uint32_t extra)
{
  ProberLists l{nets({"198.51.100.0/28"}), nets({"198.51.100.8/29"})};
  for (std::uint32_t i = 0; i < extra; ++i) {
    l.a.v4.push_back(net::Prefix4{0x0a000000u + (i << 9), 24});
    l.b.v4.push_back(net::Prefix4{0x0b000000u + (i << 9), 24});
  }
  l.a.v4 = net::aggregate(l.a.v4);
  l.b.v4 = net::aggregate(l.b.v4);
  return l;
}

// One connection attempt refused (or unanswered within 500 ms).
inline bool
refused(const NamedNetns* ns, const char* from, const char* to, int port)
{
  return !tcp_connect(ns, from, to, port, std::chrono::milliseconds(500));
}

} // namespace geoblock::test
