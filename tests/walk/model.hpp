// What the documentation promises about connections, for one
// configuration: README.md ("Configuration", "Safety"),
// geoblock.conf.example and docs/applier.md ("Where the rule goes",
// "allow-only"). Written from those texts alone: nothing here includes or
// calls geoblock's own code, so the random walk (walk_test.cpp) compares
// the product with an independent reading of its documentation.
//
// The world of the walk: one host with services on a few TCP ports, on
// interface `k_host_interface`; clients on that link, whose addresses lie
// in the countries' zones or not. A probe is one TCP connection, inbound
// (client to host) or outbound (host to client).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace geoblock::walk {

__extension__ typedef unsigned __int128 Bits;

// An IPv4 or IPv6 address (IPv4 in the low 32 bits).
struct Address {
  bool v6 = false;
  Bits value = 0;
};
Address address(const std::string& text); // throws std::invalid_argument

// A network "a.b.c.d/n" or "x::/n".
struct Network {
  Address first;
  int len = 0;
  bool contains(const Address& a) const;
};
Network network(const std::string& text); // throws std::invalid_argument
std::string to_string(const Network& n);

// "tcp:22", "udp:1000-2000".
struct PortRange {
  std::string proto;
  int first = 0;
  int last = 0;
};
std::string to_string(const PortRange& r);

// The keys that shape the rules (geoblock.conf.example), as the walk sets
// them; empty or default values are left out of the file.
struct Config {
  std::vector<std::string> countries;
  std::string family = "both";         // v4, v6, both
  std::string policy = "block";        // block, allow-only
  std::vector<std::string> allow;      // networks
  std::vector<PortRange> ports;        // block only these destination ports
  std::vector<PortRange> except_ports; // block all but these
  std::string match = "all";           // all, new
  std::vector<std::string> chains;     // [TABLE:]CHAIN; empty: the default
  std::string direction = "in";        // in, out, both
  std::vector<std::string> interfaces; // empty: every interface; "ppp+" wildcards
  bool log = false;
  std::string set_name = "geoblock";
  std::string backend = "nftables";

  // The lines of geoblock.conf for these keys.
  std::string text() const;
};

// Each country's networks (both families), as its zones hold them now.
using Zones = std::map<std::string, std::vector<Network>>;

// The host's interface the clients are on; every probe crosses it.
inline const char* const k_host_interface = "gbh";

// What a TCP connection attempt sees.
enum class Fate {
  Open,    // the handshake completes
  Refused, // fails at once (a reject: ICMP port unreachable)
  Silent,  // no answer (dropped)
};
std::string to_string(Fate f);

// A client at `source` connects to the host's TCP `port`.
Fate inbound(const Config& config, const Zones& zones, const Address& source, int port);
// The host connects to a client at `destination`, TCP `port`; the host's
// own end uses an ephemeral port (net.ipv4.ip_local_port_range, 32768 and
// up), which the walk keeps out of every port range it configures.
Fate outbound(const Config& config, const Zones& zones, const Address& destination, int port);

// The same with nothing of geoblock's in the firewall (after `remove`).
inline Fate
unfiltered()
{
  return Fate::Open;
}

} // namespace geoblock::walk
