// Networks that a country blocklist must never contain: blocking them locks
// the administrator out of the LAN, the host out of itself, or breaks
// multicast. Real country data has carried such errors. Documentation
// ranges (198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are deliberately
// not in this list.
#pragma once

#include "net/cidr.hpp"

namespace geoblock::net {

// IPv4: 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10 (shared/CGNAT), 127.0.0.0/8,
// 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16, 224.0.0.0/4 (multicast),
// 255.255.255.255/32. IPv6: ::/128, ::1/128, fc00::/7 (unique local),
// fe80::/10 (link local), ff00::/8 (multicast).
const NetList& local_networks();

// True when any network of `nets` overlaps a local network.
bool touches_local(const NetList& nets);

} // namespace geoblock::net
