#include "apply/applier.hpp"

#include "apply/converge.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"
#include "util/lock.hpp"
#include "util/subprocess.hpp"

#include <algorithm>

#include <cmath>
#include <cstdlib>
#include <sstream>

namespace geoblock::apply {

namespace {

template <class A>
bool
covers(const std::vector<net::Prefix<A>>& nets, A addr)
{
  for (const auto& p : nets) {
    if (p.contains(addr)) {
      return true;
    }
  }
  return false;
}

void
stage(const ApplyOptions& options, const std::string& what)
{
  log::verbose(what);
  if (options.on_stage) {
    options.on_stage(what);
  }
}

void
validate_options(const ApplyOptions& options)
{
  validate(static_cast<const RulesConfig&>(options));
  for (const Hook& h : hooks_of(options)) {
    if (h.table == "ingress") {
      throw ConfigError("chain " + to_string(h) +
                        " exists with nftables only: set backend nftables, or use "
                        "raw:PREROUTING for the earliest drop with iptables");
    }
  }
}

std::optional<util::FileLock>
lock_for(const ApplyOptions& options)
{
  std::optional<util::FileLock> lock;
  if (!options.lock_path.empty()) {
    lock.emplace(options.lock_path, options.lock_wait);
  }
  return lock;
}

std::vector<ChainState>
chains_of(const FirewallState& state, net::Family family)
{
  std::vector<ChainState> out;
  for (const auto& c : state.chains) {
    if (c.family == family) {
      out.push_back(c);
    }
  }
  return out;
}

bool
same_members(const SetState& want, const SetState* have)
{
  return have != nullptr && have->members_known && have->members.v4 == want.members.v4 &&
         have->members.v6 == want.members.v6;
}

Xtables
xtables_for(const ApplyOptions& options, net::Family family)
{
  return Xtables(family, family == net::Family::V4 ? options.iptables : options.ip6tables);
}

const std::string&
baseline_of(const ApplyOptions& options, net::Family family)
{
  return family == net::Family::V4 ? options.baseline : options.baseline6;
}

// A warning when Docker's chain exists but no configured hook sees the
// traffic that goes to containers.
void
docker_warning(const Ruleset& live, const std::vector<Hook>& hooks, net::Family family,
               std::vector<std::string>& warnings)
{
  const Table* filter = live.table("filter");
  if (filter == nullptr || filter->chain("DOCKER-USER") == nullptr) {
    return;
  }
  for (const auto& h : hooks) {
    if (h.chain == "PREROUTING" || h.chain == "FORWARD" || h.chain == "DOCKER-USER") {
      return;
    }
  }
  warnings.push_back(std::string("chain DOCKER-USER exists (") + net::family_name(family) +
                     ") but geoblock's rule is not in raw:PREROUTING, mangle:PREROUTING, FORWARD or "
                     "DOCKER-USER: traffic to containers is not blocked");
}

template <class A>
void
update_set(IpsetSession& session, const std::vector<net::Prefix<A>>& nets, const ApplyOptions& options,
           FamilyReport& report)
{
  const net::Family family = net::kFamily<A>;
  const std::string& live = report.set;
  const std::string temp = live + "-new";

  if (session.destroy(temp)) {
    log::warning("removed set " + temp + " left over by an interrupted run");
  }
  report.sizing = size_for(nets.size() + 1);
  session.create(temp, family, report.sizing);
  try {
    const std::size_t sent = session.add(temp, nets);
    stage(options, "filled " + temp);
    const auto filled = session.header(temp);
    if (!filled || filled->entries != sent) {
      throw IpsetError("ipset: set " + temp + " holds " + std::to_string(filled ? filled->entries : 0) +
                       " entries after adding " + std::to_string(sent) + "; the live set " + live +
                       " was not changed");
    }
    if (report.existed) {
      session.swap(temp, live);
    } else {
      session.rename(temp, live);
    }
    report.entries = sent;
  } catch (...) {
    try {
      session.destroy(temp);
    } catch (const Error& e) {
      log::warning(e.what());
    }
    throw;
  }
  stage(options, "swapped " + live);
  if (report.existed) {
    // The old contents now sit in the temporary set. Failing to drop them
    // wastes memory but the update itself has happened: warn, not fail.
    try {
      session.destroy(temp);
    } catch (const Error& e) {
      log::warning(e.what());
    }
  }
}

} // namespace

void
check_safety(const net::NetList& aggregated, const ApplyOptions& options)
{
  check_ssh_lockout(aggregated, options);
}

void
check_ssh_lockout(const net::NetList& aggregated, const ApplyOptions& options)
{
  if (options.force) {
    return;
  }
  std::string conn;
  if (options.ssh_connection) {
    conn = *options.ssh_connection;
  } else if (const char* env = std::getenv("SSH_CONNECTION")) {
    conn = env;
  }
  const std::string client = conn.substr(0, conn.find(' '));
  if (client.empty()) {
    return;
  }
  std::optional<std::uint32_t> v4 = net::parse_v4(client);
  std::optional<net::u128> v6;
  if (!v4) {
    v6 = net::parse_v6(client);
    if (!v6) {
      log::warning("cannot read the client address in SSH_CONNECTION ('" + conn +
                   "'); lock-out check skipped");
      return;
    }
    // An IPv4 client seen through an IPv6 socket: ::ffff:a.b.c.d.
    if ((*v6 >> 32) == 0xffff) {
      v4 = static_cast<std::uint32_t>(*v6);
      v6.reset();
    }
  }
  bool blocked = false;
  if (v4 && net::includes(options.families, net::Family::V4)) {
    const bool listed = covers(aggregated.v4, *v4);
    blocked = options.policy == Policy::Block ? listed : !listed && !covers(options.allowlist.v4, *v4);
  } else if (v6 && net::includes(options.families, net::Family::V6)) {
    const bool listed = covers(aggregated.v6, *v6);
    blocked = options.policy == Policy::Block ? listed : !listed && !covers(options.allowlist.v6, *v6);
  }
  if (blocked) {
    throw SafetyError("refusing to apply: the SSH session's client address " + client +
                      " would be blocked (add it to the allowlist, or use --force)");
  }
}

ApplyReport
apply(const net::NetList& aggregated, const ApplyOptions& options)
{
  validate_options(options);
  const auto lock = lock_for(options);
  const net::Family families[] = {net::Family::V4, net::Family::V6};
  auto enabled = [&](net::Family f) { return net::includes(options.families, f); };
  const FirewallState desired = desired_state(aggregated, options);
  const Ownership own = ownership_of(options);

  ApplyReport report;
  auto fam = [&](net::Family f) -> FamilyReport& { return f == net::Family::V4 ? report.v4 : report.v6; };

  // Everything that can be checked is checked before the first change.
  std::optional<Ruleset> baselines[2];
  for (const auto f : families) {
    if (!enabled(f)) {
      continue;
    }
    xtables_for(options, f).require();
    if (!baseline_of(options, f).empty()) {
      const std::string& file = baseline_of(options, f);
      baselines[net::family_index(f)] = parse_ruleset(util::read_file(file), "baseline " + file);
    }
  }
  check_ssh_lockout(aggregated, options);

  const LiveState before = read_live_state(options, true);
  report.changes = diff(desired, before.state);
  for (const auto& w : before.warnings) {
    log::warning(w);
  }
  report.warnings = before.warnings;
  IpsetSession session;
  for (const SetState& want : desired.sets) {
    FamilyReport& r = fam(want.family);
    r.enabled = true;
    r.set = want.name;
    if (const auto h = session.header(r.set)) {
      const std::string type = want.family == net::Family::V4 ? "inet" : "inet6";
      if (h->type != "hash:net" || h->family != type) {
        throw IpsetError("ipset: set " + r.set + " exists as " + h->type + " family " + h->family +
                         ", not hash:net family " + type + "; remove it or choose another set name");
      }
      r.existed = true;
      r.previous_entries = h->entries;
    }
    r.entries = r.previous_entries;
  }

  for (const auto f : families) {
    if (const auto& base = baselines[net::family_index(f)]) {
      // The sets may not exist yet, so the dry run leaves geoblock's rules
      // out; it still catches every error in the baseline itself.
      const Xtables xt = xtables_for(options, f);
      xt.restore(build_baseline_restore(*base, xt.save(), chains_of(desired, f), own, options.keep_chains,
                                        WithOwnRules::No),
                 Xtables::Flush::Tables, Xtables::Mode::Test);
    }
  }
  stage(options, "checked");

  // Sets before rules: a rule naming a missing set cannot load.
  for (const SetState& want : desired.sets) {
    if (same_members(want, before.state.set(want.name))) {
      if (session.destroy(want.name + "-new")) {
        log::warning("removed set " + want.name + "-new left over by an interrupted run");
      }
      continue;
    }
    FamilyReport& r = fam(want.family);
    r.set_replaced = true;
    if (want.family == net::Family::V4) {
      update_set(session, want.members.v4, options, r);
    } else {
      update_set(session, want.members.v6, options, r);
    }
  }

  for (const auto f : families) {
    const Xtables xt = xtables_for(options, f);
    if (!enabled(f) && !util::program_exists(xt.save_program())) {
      continue; // nothing of geoblock's can be there
    }
    const Ruleset live = xt.save();
    const std::vector<ChainState> want = chains_of(desired, f);
    if (const auto& base = baselines[net::family_index(f)]) {
      const RestoreText text =
          build_baseline_restore(*base, live, want, own, options.keep_chains, WithOwnRules::Yes);
      // iptables-restore commits table by table: test the whole input first
      // so that a failure cannot leave one table restored and another not.
      xt.restore(text, Xtables::Flush::Tables, Xtables::Mode::Test);
      xt.restore(text, Xtables::Flush::Tables, Xtables::Mode::Commit);
      fam(f).baseline_restored = true;
    } else if (const RestoreText text = build_converge(live, want, own); !text.origins.empty()) {
      xt.restore(text, Xtables::Flush::None, Xtables::Mode::Commit);
    }
    stage(options, std::string("rules ") + net::family_name(f));
  }

  // What the configuration no longer asks for: sets of a disabled family or
  // of an earlier set name (no rule names them any more).
  for (const SetState& have : before.state.sets) {
    if (desired.set(have.name) == nullptr) {
      session.destroy(have.name);
      stage(options, "removed " + have.name);
    }
  }

  // Read back and compare: what the kernel enforces must be what the
  // configuration says.
  LiveState after = read_live_state(options, true);
  const std::vector<std::string> left = diff(desired, after.state);
  if (!left.empty()) {
    throw Error("after applying, the live firewall still differs from the configuration: " + left.front() +
                (left.size() > 1 ? " (and " + std::to_string(left.size() - 1) + " more)" : ""));
  }
  report.live = std::move(after.state);
  return report;
}

LiveState
read_live_state(const ApplyOptions& options, bool with_members)
{
  LiveState live;
  const Ownership own = ownership_of(options);
  IpsetSession session;
  for (const std::string& name : own.sets) {
    const auto h = session.header(name);
    if (session.exists(name + "-new")) {
      live.leftover_temp.push_back(name + "-new");
    }
    if (!h) {
      continue;
    }
    SetState s;
    s.name = name;
    s.family = h->family == "inet6" ? net::Family::V6 : net::Family::V4;
    s.entries = h->entries;
    s.memory = h->memory;
    s.references = h->references;
    s.maxelem = h->maxelem;
    s.members_known = with_members;
    if (with_members) {
      session.list_members(name, s.members);
      std::sort(s.members.v4.begin(), s.members.v4.end());
      std::sort(s.members.v6.begin(), s.members.v6.end());
    }
    live.state.sets.push_back(std::move(s));
  }
  for (const auto f : {net::Family::V4, net::Family::V6}) {
    bool& known = f == net::Family::V4 ? live.state.rules_known_v4 : live.state.rules_known_v6;
    const Xtables xt = xtables_for(options, f);
    const bool enabled = net::includes(options.families, f);
    if (!util::program_exists(xt.save_program())) {
      known = !enabled;
      if (enabled) {
        live.warnings.push_back(xt.save_program() +
                                " not found: install the iptables package (needed for the " +
                                net::family_name(f) + " rules)");
      }
      continue;
    }
    try {
      const Ruleset rules = xt.save();
      for (auto& c : owned_chains(rules, f, own)) {
        live.state.chains.push_back(std::move(c));
      }
      if (enabled && !baseline_of(options, f).empty()) {
        const std::string& file = baseline_of(options, f);
        try {
          const Ruleset base = parse_ruleset(util::read_file(file), "baseline " + file);
          live.state.baseline_digest[net::family_index(f)] =
              util::sha256_hex(baseline_managed_text(rules, base, own, options.keep_chains));
        } catch (const Error& e) {
          live.warnings.push_back(e.what()); // apply refuses it with the same message
        }
      }
      if (enabled) {
        docker_warning(rules, hooks_of(options), f, live.warnings);
      }
    } catch (const RulesError& e) {
      known = false;
      live.warnings.push_back(e.what());
    }
  }
  return live;
}

RemoveReport
remove(const ApplyOptions& options)
{
  // Only the names matter here: what is removed is whatever geoblock owns,
  // also after a switch to a configuration this backend could not apply
  // (ingress:IFACE, nftables only), whose leftovers here must still go.
  check_set_name(options.set_name);
  const auto lock = lock_for(options);
  RemoveReport report;
  const Ownership own = ownership_of(options);
  // Rules first: a set that a rule still names cannot be destroyed.
  for (const auto f : {net::Family::V4, net::Family::V6}) {
    const Xtables xt = xtables_for(options, f);
    if (!util::program_exists(xt.save_program())) {
      continue;
    }
    const Ruleset live = xt.save();
    int removed = 0;
    for (const auto& c : owned_chains(live, f, own)) {
      removed += static_cast<int>(c.rules.size());
    }
    const RestoreText text = build_converge(live, {}, own);
    if (!text.origins.empty()) {
      xt.restore(text, Xtables::Flush::None, Xtables::Mode::Commit);
    }
    (f == net::Family::V4 ? report.rules_removed_v4 : report.rules_removed_v6) = removed;
  }
  IpsetSession session;
  for (const std::string& set : own.sets) {
    session.destroy(set + "-new");
    if (session.destroy(set)) {
      report.sets_removed.push_back(set);
    }
  }
  return report;
}

} // namespace geoblock::apply
