// The one apply sequence every backend goes through.
#include "apply/backend.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "util/lock.hpp"

#include <optional>

namespace geoblock::apply {

namespace {

std::optional<util::FileLock>
lock_for(const ApplyOptions& options)
{
  std::optional<util::FileLock> lock;
  if (!options.lock_path.empty()) {
    lock.emplace(options.lock_path, options.lock_wait);
  }
  return lock;
}

// The report of each family's set, from the plan and what was there.
void
fill(ApplyReport& report, const FirewallState& desired, const FirewallState& before)
{
  for (const SetState& want : desired.sets) {
    FamilyReport& r = want.family == net::Family::V4 ? report.v4 : report.v6;
    r.enabled = true;
    r.set = want.name;
    r.entries = want.entries;
    if (const SetState* have = before.set(want.name)) {
      r.existed = true;
      r.previous_entries = have->entries;
      r.set_replaced =
          !have->members_known || have->members.v4 != want.members.v4 || have->members.v6 != want.members.v6;
    } else {
      r.set_replaced = true;
    }
  }
}

} // namespace

void
check_supported(const RulesConfig& config, const Backend& backend)
{
  const Capabilities can = backend.capabilities();
  if (config.by_source && !can.verdict_maps) {
    throw ConfigError(
        std::string("per-source actions (reject, count, limit in the countries list) need backend "
                    "nftables for now; backend ") +
        backend.name() + " drops only");
  }
  for (const Hook& h : hooks_of(config)) {
    if (h.table == "ingress" && !can.ingress) {
      throw ConfigError("chain " + to_string(h) +
                        " exists with nftables only: set backend nftables, or use " +
                        "raw:PREROUTING for the earliest drop with " + backend.name());
    }
    if (h.chain == "DOCKER-USER" && !can.docker_user) {
      throw ConfigError("chain DOCKER-USER is an iptables chain: with backend " +
                        std::string(backend.name()) +
                        " use FORWARD, which also covers Docker's published ports");
    }
  }
}

ApplyReport
apply(Backend& backend, const net::NetList& aggregated, const ApplyOptions& options)
{
  validate(static_cast<const RulesConfig&>(options));
  check_supported(options, backend);
  const auto lock = lock_for(options);
  const FirewallState desired = options.by_source ? desired_state_by_source(options.sources, options)
                                                  : desired_state(aggregated, options);
  const LiveState before = backend.read(options, true);
  for (const auto& w : before.warnings) {
    log::warning(w);
  }
  const Plan plan = diff(desired, before.state);
  ApplyReport report;
  report.warnings = before.warnings;
  report.changes = describe(plan);
  fill(report, desired, before.state);
  check_ssh_lockout(aggregated, options);
  backend.check(plan, desired, before, options);
  report_stage(options, "checked");

  report.live = backend.execute(plan, desired, before, options, report);

  // What the kernel enforces must be what the configuration says.
  const std::vector<std::string> left = describe(diff(desired, report.live));
  if (!left.empty()) {
    throw Error("after applying, the live firewall still differs from the configuration: " + left.front() +
                (left.size() > 1 ? " (and " + std::to_string(left.size() - 1) + " more)" : ""));
  }
  return report;
}

RemoveReport
remove(Backend& backend, const ApplyOptions& options)
{
  // Only the names matter here: what is removed is whatever geoblock owns,
  // also after a switch to a configuration this backend could not apply
  // (ingress:IFACE, nftables only), whose leftovers here must still go.
  check_set_name(options.set_name);
  const auto lock = lock_for(options);
  return backend.remove_all(options);
}

ApplyReport
Backend::apply(const net::NetList& aggregated, const ApplyOptions& options)
{
  return geoblock::apply::apply(*this, aggregated, options);
}

RemoveReport
Backend::remove(const ApplyOptions& options)
{
  return geoblock::apply::remove(*this, options);
}

} // namespace geoblock::apply
