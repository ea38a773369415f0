#include "flow/target.hpp"

#include "net/local.hpp"

namespace geoblock::flow {

const net::NetList&
never_blocked_local(const Settings& s)
{
  static const net::NetList none;
  return s.raw.block_local ? none : net::local_networks();
}

net::NetList
never_blocked(const Settings& s)
{
  net::NetList out = s.allow;
  const net::NetList& local = never_blocked_local(s);
  out.v4.insert(out.v4.end(), local.v4.begin(), local.v4.end());
  out.v6.insert(out.v6.end(), local.v6.begin(), local.v6.end());
  return out;
}

} // namespace geoblock::flow
