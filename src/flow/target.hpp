// The target policy, in one place: what is never blocked, whatever the
// zones and lists say. The report subtracts it from the block, allow-only
// accepts it by rules of its own, `check` names it; all three ask here.
#pragma once

#include "flow/config.hpp"
#include "net/cidr.hpp"

namespace geoblock::flow {

// The local networks (private, loopback, link-local, multicast, CGNAT,
// unique-local: net/local.hpp) unless block-local; empty with it.
const net::NetList& never_blocked_local(const Settings& s);

// The allowlist (allow, allowlist-file) and never_blocked_local(): what no
// block may cover, and what allow-only accepts besides the listed
// countries.
net::NetList never_blocked(const Settings& s);

} // namespace geoblock::flow
