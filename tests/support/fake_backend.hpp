// An in-memory firewall for the command flow's tests (ninja's DiskInterface
// style): it holds a FirewallState as "the kernel", executes a plan by
// becoming the desired state, and counts what it was asked. With it,
// update, status, restore and remove run unprivileged and fast, through
// the same apply sequence as the real backends (apply::apply); the
// namespace tests prove the real ones.
#pragma once

#include "apply/backend.hpp"
#include "core/error.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace geoblock::test {

class FakeBackend final : public apply::Backend {
public:
  apply::FirewallState live; // what the "kernel" holds
  int reads = 0, applies = 0, removes = 0;
  std::string read_error;           // non-empty: read() throws Error with it
  std::string apply_error;          // non-empty: execute() throws Error with it, changing nothing
  std::string remove_error;         // non-empty: remove_all() throws Error with it, changing nothing
  apply::ApplyOptions last_options; // of the last apply or remove
  apply::Capabilities can{true, true};

  FakeBackend() = default;
  // Named as a real backend ("iptables", "nftables") for the tests of
  // choosing and switching backends.
  explicit FakeBackend(std::string name) : label(std::move(name)) {}
  std::string label = "fake";

  const char* name() const override { return label.c_str(); }
  apply::Capabilities capabilities() const override { return can; }

  // As a real backend: only what geoblock owns under the current and the
  // previous set names (its sets, and the chains that name them).
  apply::LiveState read(const apply::ApplyOptions& options, bool with_members) override
  {
    ++reads;
    if (!read_error.empty()) {
      throw Error(read_error);
    }
    const apply::Ownership own = apply::ownership_of(options);
    apply::LiveState l;
    for (auto s : live.sets) {
      if (own.owns_set(s.name)) {
        s.members_known = with_members;
        l.state.sets.push_back(std::move(s));
      }
    }
    for (const auto& c : live.chains) {
      const bool named = own.owns_chain(c.chain) ||
                         std::any_of(c.rules.begin(), c.rules.end(), [&own](const apply::Rule& r) {
                           return own.owns_set(r.match.set) || own.owns_chain(r.chain);
                         });
      if (named) {
        l.state.chains.push_back(c);
      }
    }
    return l;
  }

  void check(const apply::Plan&, const apply::FirewallState&, const apply::LiveState&,
             const apply::ApplyOptions&) override
  {
  }

  apply::FirewallState execute(const apply::Plan&, const apply::FirewallState& desired,
                               const apply::LiveState&, const apply::ApplyOptions& options,
                               apply::ApplyReport&) override
  {
    ++applies;
    last_options = options;
    if (!apply_error.empty()) {
      throw Error(apply_error);
    }
    live = desired;
    return live;
  }

  apply::RemoveReport remove_all(const apply::ApplyOptions& options) override
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
