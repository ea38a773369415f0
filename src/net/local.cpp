#include "net/local.hpp"

#include "net/zone.hpp"

namespace geoblock::net {

const NetList&
local_networks()
{
  static const NetList list = [] {
    NetList l;
    for (const char* n : {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
                          "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "255.255.255.255/32", "::/128",
                          "::1/128", "fc00::/7", "fe80::/10", "ff00::/8"}) {
      parse_network(n, l);
    }
    return l;
  }();
  return list;
}

namespace {

template <class A>
bool
overlaps(const std::vector<Prefix<A>>& nets, const std::vector<Prefix<A>>& local)
{
  for (const Prefix<A>& n : nets) {
    for (const Prefix<A>& l : local) {
      if (n.first() <= l.last() && l.first() <= n.last()) {
        return true;
      }
    }
  }
  return false;
}

} // namespace

bool
touches_local(const NetList& nets)
{
  const NetList& local = local_networks();
  return overlaps(nets.v4, local.v4) || overlaps(nets.v6, local.v6);
}

} // namespace geoblock::net
