// The documented semantics (see model.hpp). Each rule below quotes or
// names the sentence of the documentation it follows.
#include "walk/model.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <stdexcept>

namespace geoblock::walk {

Address
address(const std::string& text)
{
  Address a;
  unsigned char buf[16] = {};
  if (::inet_pton(AF_INET, text.c_str(), buf) == 1) {
    for (int i = 0; i < 4; ++i) {
      a.value = (a.value << 8) | buf[i];
    }
    return a;
  }
  if (::inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    a.v6 = true;
    for (int i = 0; i < 16; ++i) {
      a.value = (a.value << 8) | buf[i];
    }
    return a;
  }
  throw std::invalid_argument("not an address: " + text);
}

namespace {

int
bits(bool v6)
{
  return v6 ? 128 : 32;
}

Bits
host_mask(bool v6, int len)
{
  const int host = bits(v6) - len;
  return host >= 128 ? ~Bits{0} : (Bits{1} << host) - 1;
}

} // namespace

bool
Network::contains(const Address& a) const
{
  return a.v6 == first.v6 && (a.value & ~host_mask(a.v6, len)) == first.value;
}

Network
network(const std::string& text)
{
  const auto slash = text.find('/');
  Network n;
  n.first = address(text.substr(0, slash));
  n.len = slash == std::string::npos ? bits(n.first.v6) : std::stoi(text.substr(slash + 1));
  n.first.value &= ~host_mask(n.first.v6, n.len);
  return n;
}

std::string
to_string(const Network& n)
{
  unsigned char buf[16] = {};
  const int bytes = n.first.v6 ? 16 : 4;
  Bits v = n.first.value;
  for (int i = bytes - 1; i >= 0; --i) {
    buf[i] = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
  char out[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(n.first.v6 ? AF_INET6 : AF_INET, buf, out, sizeof out);
  return std::string(out) + "/" + std::to_string(n.len);
}

std::string
to_string(const PortRange& r)
{
  return r.proto + ":" + std::to_string(r.first) + (r.last != r.first ? "-" + std::to_string(r.last) : "");
}

std::string
Config::text() const
{
  std::string t = "backend = " + backend + "\ncountries =";
  for (const auto& c : countries) {
    t += " " + c;
  }
  t += "\n";
  auto key = [&t](const std::string& k, const std::string& v) { t += k + " = " + v + "\n"; };
  auto ports_key = [&key](const std::string& k, const std::vector<PortRange>& ranges) {
    if (ranges.empty()) {
      return;
    }
    std::string v;
    for (const auto& r : ranges) {
      v += (v.empty() ? "" : ",") + to_string(r);
    }
    key(k, v);
  };
  if (family != "both") {
    key("family", family);
  }
  if (policy != "block") {
    key("policy", policy);
  }
  for (const auto& a : allow) {
    key("allow", a);
  }
  ports_key("ports", ports);
  ports_key("except-ports", except_ports);
  if (match != "all") {
    key("match", match);
  }
  for (const auto& c : chains) {
    key("chain", c);
  }
  if (direction != "in") {
    key("direction", direction);
  }
  for (const auto& i : interfaces) {
    key("interface", i);
  }
  if (log) {
    key("log", "true");
  }
  if (set_name != "geoblock") {
    key("set-name", set_name);
  }
  return t;
}

std::string
to_string(Fate f)
{
  switch (f) {
  case Fate::Open:
    return "open";
  case Fate::Refused:
    return "refused";
  case Fate::Silent:
    return "no reply";
  }
  return "?";
}

namespace {

// family: "which address families to block: v4, v6 or both".
bool
family_on(const Config& c, const Address& a)
{
  return c.family == "both" || c.family == (a.v6 ? "v6" : "v4");
}

bool
in_any(const std::vector<Network>& nets, const Address& a)
{
  return std::any_of(nets.begin(), nets.end(), [&a](const Network& n) { return n.contains(a); });
}

bool
listed(const Config& c, const Zones& zones, const Address& a)
{
  for (const auto& cc : c.countries) {
    const auto it = zones.find(cc);
    if (it != zones.end() && in_any(it->second, a)) {
      return true;
    }
  }
  return false;
}

bool
allowed(const Config& c, const Address& a)
{
  return std::any_of(c.allow.begin(), c.allow.end(),
                     [&a](const std::string& n) { return network(n).contains(a); });
}

// policy: "block" drops traffic from the listed countries; "allow-only"
// drops traffic from everywhere else. allow: "a network never blocked,
// whatever the zones say". (Local networks are never blocked either; the
// walk uses none.)
bool
targeted(const Config& c, const Zones& zones, const Address& a)
{
  if (allowed(c, a)) {
    return false;
  }
  return c.policy == "allow-only" ? !listed(c, zones, a) : listed(c, zones, a);
}

// interface: "block only packets that arrive on this interface
// (repeatable; "ppp+" matches every name starting with "ppp") ... With
// direction = out, the interface packets leave by." Default: every one.
bool
interface_matches(const Config& c)
{
  if (c.interfaces.empty()) {
    return true;
  }
  const std::string name = k_host_interface;
  return std::any_of(c.interfaces.begin(), c.interfaces.end(), [&name](const std::string& i) {
    if (!i.empty() && i.back() == '+') {
      return name.compare(0, i.size() - 1, i, 0, i.size() - 1) == 0;
    }
    return i == name;
  });
}

bool
in_ranges(const std::vector<PortRange>& ranges, int port)
{
  return std::any_of(ranges.begin(), ranges.end(), [port](const PortRange& r) {
    return r.proto == "tcp" && r.first <= port && port <= r.last;
  });
}

// ports: "block only these destination ports ... With policy = allow-only,
// only these ports are restricted to the allowed countries";
// except-ports: "block everything but these destination ports".
bool
port_targeted(const Config& c, int destination_port)
{
  if (!c.ports.empty()) {
    return in_ranges(c.ports, destination_port);
  }
  return !in_ranges(c.except_ports, destination_port);
}

// chain: "raw:PREROUTING ... covers forwarded traffic as well as local
// services"; mangle:PREROUTING "INPUT and FORWARD"; INPUT "the host only";
// FORWARD routed traffic only; ingress:IFACE packets arriving on IFACE.
// Default raw:PREROUTING; "with policy = allow-only the default is
// mangle:PREROUTING", and with match new too.
bool
chains_cover_the_host(const Config& c)
{
  std::vector<std::string> chains = c.chains;
  if (chains.empty()) {
    chains = {c.policy == "allow-only" || c.match == "new" ? "mangle:PREROUTING" : "raw:PREROUTING"};
  }
  return std::any_of(chains.begin(), chains.end(), [](const std::string& ch) {
    return ch == "raw:PREROUTING" || ch == "mangle:PREROUTING" || ch == "INPUT" ||
           ch == std::string("ingress:") + k_host_interface;
  });
}

bool
direction_in(const Config& c)
{
  return c.direction == "in" || c.direction == "both";
}

bool
direction_out(const Config& c)
{
  return c.direction == "out" || c.direction == "both";
}

constexpr int k_ephemeral_port = 32768; // the first of the host's own ports

} // namespace

Fate
inbound(const Config& c, const Zones& zones, const Address& source, int port)
{
  // A connection's first packet is new: dropped by match all and match
  // new alike, by block and by allow-only ("drops new connections from
  // every address outside the listed countries").
  if (family_on(c, source) && direction_in(c) && chains_cover_the_host(c) && interface_matches(c) &&
      targeted(c, zones, source) && port_targeted(c, port)) {
    return Fate::Silent;
  }
  return Fate::Open;
}

Fate
outbound(const Config& c, const Zones& zones, const Address& destination, int port)
{
  // direction: "out" rejects connections from this host (OUTPUT) and
  // routed clients (FORWARD) to the listed destinations; with allow-only,
  // to every destination not allowed. Where the rule goes (chain) is about
  // inbound packets.
  if (family_on(c, destination) && direction_out(c) && interface_matches(c) &&
      targeted(c, zones, destination) && port_targeted(c, port)) {
    return Fate::Refused;
  }
  // Inbound, the replies come from the destination to the host's
  // ephemeral port. match all "drops every packet from a listed source
  // ... replies to connections this host opened to those countries are
  // dropped too"; match new lets them through; allow-only never drops
  // "established/related traffic".
  if (family_on(c, destination) && direction_in(c) && c.policy == "block" && c.match == "all" &&
      chains_cover_the_host(c) && interface_matches(c) && targeted(c, zones, destination) &&
      port_targeted(c, k_ephemeral_port)) {
    return Fate::Silent;
  }
  return Fate::Open;
}

} // namespace geoblock::walk
