// An in-memory firewall for the command flow's tests (ninja's DiskInterface
// style): it holds a FirewallState as "the kernel", applies by becoming the
// desired state, and counts what it was asked. With it, update, status,
// restore and remove run unprivileged and fast; the namespace tests prove
// the real backend.
#pragma once

#include "apply/backend.hpp"
#include "core/error.hpp"

#include <string>
#include <vector>

namespace geoblock::test {

class FakeBackend final : public apply::Backend {
public:
  apply::FirewallState live; // what the "kernel" holds
  int reads = 0, applies = 0, removes = 0;
  std::string read_error;           // non-empty: read() throws Error with it
  std::string apply_error;          // non-empty: apply() throws Error with it, changing nothing
  std::string remove_error;         // non-empty: remove() throws Error with it, changing nothing
  apply::ApplyOptions last_options; // of the last apply or remove

  FakeBackend() = default;
  // Named as a real backend ("iptables", "nftables") for the tests of
  // choosing and switching backends.
  explicit FakeBackend(std::string name) : label(std::move(name)) {}
  std::string label = "fake";

  const char* name() const override { return label.c_str(); }

  apply::LiveState read(const apply::ApplyOptions&, bool with_members) override
  {
    ++reads;
    if (!read_error.empty()) {
      throw Error(read_error);
    }
    apply::LiveState l;
    l.state = live;
    for (auto& s : l.state.sets) {
      s.members_known = with_members;
    }
    return l;
  }

  apply::ApplyReport apply(const net::NetList& aggregated, const apply::ApplyOptions& options) override
  {
    ++applies;
    last_options = options;
    if (!apply_error.empty()) {
      throw Error(apply_error);
    }
    const apply::FirewallState desired = apply::desired_state(aggregated, options);
    apply::ApplyReport r;
    r.changes = apply::diff(desired, live);
    live = desired;
    r.live = live;
    return r;
  }

  apply::RemoveReport remove(const apply::ApplyOptions& options) override
  {
    ++removes;
    last_options = options;
    if (!remove_error.empty()) {
      throw Error(remove_error);
    }
    apply::RemoveReport r;
    for (const auto& s : live.sets) {
      r.sets_removed.push_back(s.name);
    }
    live = {};
    return r;
  }
};

} // namespace geoblock::test
