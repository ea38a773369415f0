// A firewall backend: reads geoblock's part of the live firewall as a
// FirewallState, makes it equal the desired state, removes it. The commands
// hold a Backend and never know which one: the iptables+ipset backend here,
// an in-memory fake in the tests (tests/support/fake_backend.hpp), the
// nftables backend next.
#pragma once

#include "apply/applier.hpp"

#include <memory>

namespace geoblock::apply {

class Backend {
public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // geoblock's sets and rules now (see read_live_state). Throws Error when
  // the firewall cannot be read at all (no root, no kernel module).
  virtual LiveState read(const ApplyOptions& options, bool with_members) = 0;
  // Makes the live state equal desired_state(aggregated, options) and
  // verifies it (see apply()).
  virtual ApplyReport apply(const net::NetList& aggregated, const ApplyOptions& options) = 0;
  // Takes everything of geoblock's away (see remove()).
  virtual RemoveReport remove(const ApplyOptions& options) = 0;
};

// ipset sets through libipset, rules through iptables-restore.
std::unique_ptr<Backend> make_iptables_backend();

} // namespace geoblock::apply
