#include "apply/applier.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "util/file.hpp"
#include "util/lock.hpp"

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

std::string
percent(double fraction)
{
  std::ostringstream s;
  s << std::lround(fraction * 100) << "%";
  return s.str();
}

void
stage(const ApplyOptions& options, const std::string& what)
{
  log::verbose(what);
  if (options.on_stage) {
    options.on_stage(what);
  }
}

std::vector<Hook>
hooks_of(const ApplyOptions& options)
{
  return options.chains.empty() ? default_chains(options.policy) : options.chains;
}

std::string
own_chain_of(const ApplyOptions& options)
{
  return options.set_name + "-allow";
}

void
validate(const ApplyOptions& options)
{
  if (options.set_name.empty() || options.set_name.size() + 7 > k_max_set_name ||
      options.set_name.find_first_of(" \t\n\"'") != std::string::npos) {
    throw ConfigError("set name '" + options.set_name + "' must be 1.." + std::to_string(k_max_set_name - 7) +
                      " characters without blanks or quotes (the kernel allows " +
                      std::to_string(k_max_set_name) + " for '<name>-v4-new')");
  }
  if (!(options.max_shrink >= 0.0 && options.max_shrink <= 1.0)) {
    throw ConfigError("max-shrink must be between 0 and 1");
  }
  if (options.policy == Policy::AllowOnly) {
    for (const auto& h : hooks_of(options)) {
      if (h.table == "raw") {
        throw ConfigError("policy allow-only needs connection tracking to accept replies: use "
                          "mangle:PREROUTING, INPUT or FORWARD instead of raw:PREROUTING");
      }
    }
  }
}

RuleSpec
spec_for(const ApplyOptions& options, net::Family family)
{
  RuleSpec spec;
  spec.family = family;
  spec.policy = options.policy;
  spec.set = set_name_for(options.set_name, family);
  spec.own_chain = own_chain_of(options);
  spec.hooks = hooks_of(options);
  if (family == net::Family::V4) {
    for (const auto& p : options.allowlist.v4) {
      spec.allowlist.push_back(net::to_string(p));
    }
  } else {
    for (const auto& p : options.allowlist.v6) {
      spec.allowlist.push_back(net::to_string(p));
    }
  }
  return spec;
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

std::vector<Hook>
default_chains(Policy policy)
{
  if (policy == Policy::AllowOnly) {
    return {Hook{"mangle", "PREROUTING"}};
  }
  return {Hook{"raw", "PREROUTING"}};
}

std::string
set_name_for(const std::string& base, net::Family family)
{
  return base + (family == net::Family::V4 ? "-v4" : "-v6");
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

void
check_shrink(net::Family family, std::uint64_t live_entries, std::uint64_t new_entries,
             const ApplyOptions& options)
{
  if (options.force || live_entries == 0 || new_entries >= live_entries) {
    return;
  }
  const double shrink = 1.0 - static_cast<double>(new_entries) / static_cast<double>(live_entries);
  if (shrink > options.max_shrink) {
    throw SafetyError("refusing to shrink set " + set_name_for(options.set_name, family) + " from " +
                      std::to_string(live_entries) + " to " + std::to_string(new_entries) + " entries (-" +
                      percent(shrink) + ", more than max-shrink " + percent(options.max_shrink) +
                      "); use --force if this is intended");
  }
}

ApplyReport
apply(const net::NetList& aggregated, const ApplyOptions& options)
{
  validate(options);
  util::FileLock lock(options.lock_path, options.lock_wait);
  const net::Family families[] = {net::Family::V4, net::Family::V6};
  auto enabled = [&](net::Family f) { return net::includes(options.families, f); };

  ApplyReport report;
  auto fam = [&](net::Family f) -> FamilyReport& { return f == net::Family::V4 ? report.v4 : report.v6; };
  auto count = [&](net::Family f) {
    std::uint64_t n = f == net::Family::V4 ? aggregated.v4.size() : aggregated.v6.size();
    // A /0 is two kernel entries.
    if (f == net::Family::V4 && !aggregated.v4.empty() && aggregated.v4.front().len == 0) {
      ++n;
    }
    if (f == net::Family::V6 && !aggregated.v6.empty() && aggregated.v6.front().len == 0) {
      ++n;
    }
    return n;
  };

  // Everything that can be checked is checked before the first change.
  std::optional<Ruleset> baselines[2];
  for (const auto f : families) {
    if (!enabled(f)) {
      continue;
    }
    xtables_for(options, f).require();
    if (!baseline_of(options, f).empty()) {
      const std::string& file = baseline_of(options, f);
      baselines[f == net::Family::V4 ? 0 : 1] = parse_ruleset(util::read_file(file), "baseline " + file);
    }
  }
  check_ssh_lockout(aggregated, options);

  IpsetSession session;
  for (const auto f : families) {
    FamilyReport& r = fam(f);
    r.enabled = enabled(f);
    r.set = set_name_for(options.set_name, f);
    if (!r.enabled) {
      continue;
    }
    if (const auto h = session.header(r.set)) {
      const std::string want = f == net::Family::V4 ? "inet" : "inet6";
      if (h->type != "hash:net" || h->family != want) {
        throw IpsetError("ipset: set " + r.set + " exists as " + h->type + " family " + h->family +
                         ", not hash:net family " + want + "; remove it or choose another set name");
      }
      r.existed = true;
      r.previous_entries = h->entries;
    }
    check_shrink(f, r.previous_entries, count(f), options);
  }

  for (const auto f : families) {
    if (!enabled(f)) {
      continue;
    }
    const Xtables xt = xtables_for(options, f);
    const Ruleset live = xt.save();
    docker_warning(live, hooks_of(options), f, report.warnings);
    if (const auto& base = baselines[f == net::Family::V4 ? 0 : 1]) {
      // The sets may not exist yet, so the dry run leaves geoblock's rule
      // out; it still catches every error in the baseline itself.
      const RuleSpec spec = spec_for(options, f);
      xt.restore(build_baseline_restore(*base, live, spec, options.keep_chains, WithOwnRules::No),
                 Xtables::Flush::Tables, Xtables::Mode::Test);
    }
  }
  for (const auto& w : report.warnings) {
    log::warning(w);
  }
  stage(options, "checked");

  if (enabled(net::Family::V4)) {
    update_set(session, aggregated.v4, options, report.v4);
  }
  if (enabled(net::Family::V6)) {
    update_set(session, aggregated.v6, options, report.v6);
  }

  for (const auto f : families) {
    if (!enabled(f)) {
      continue;
    }
    const Xtables xt = xtables_for(options, f);
    const RuleSpec spec = spec_for(options, f);
    const Ruleset live = xt.save();
    if (const auto& base = baselines[f == net::Family::V4 ? 0 : 1]) {
      const RestoreText text =
          build_baseline_restore(*base, live, spec, options.keep_chains, WithOwnRules::Yes);
      // iptables-restore commits table by table: test the whole input first
      // so that a failure cannot leave one table restored and another not.
      xt.restore(text, Xtables::Flush::Tables, Xtables::Mode::Test);
      xt.restore(text, Xtables::Flush::Tables, Xtables::Mode::Commit);
      fam(f).rules = "restored with baseline " + baseline_of(options, f);
    } else {
      const RestoreText text = build_ensure(live, spec);
      if (text.origins.empty()) {
        fam(f).rules = "unchanged";
      } else {
        xt.restore(text, Xtables::Flush::None, Xtables::Mode::Commit);
        fam(f).rules = "updated";
      }
    }
    stage(options, std::string("rules ") + net::family_name(f));
  }
  return report;
}

LiveState
read_live_state(const ApplyOptions& options, bool with_members)
{
  LiveState state;
  IpsetSession session;
  for (const auto f : {net::Family::V4, net::Family::V6}) {
    LiveFamily& lf = f == net::Family::V4 ? state.v4 : state.v6;
    lf.enabled = net::includes(options.families, f);
    lf.set = set_name_for(options.set_name, f);
    if (!lf.enabled) {
      continue;
    }
    lf.header = session.header(lf.set);
    lf.leftover_temp = session.exists(lf.set + "-new");
    if (lf.header && with_members) {
      session.list_members(lf.set, lf.members);
    }
    const Xtables xt = xtables_for(options, f);
    try {
      xt.require();
      const Ruleset live = xt.save();
      const RuleSpec spec = spec_for(options, f);
      for (const auto& h : spec.hooks) {
        lf.hooks.push_back(HookState{h, count_hook_rule(live, spec, h)});
      }
      lf.rules_known = true;
      docker_warning(live, spec.hooks, f, state.warnings);
    } catch (const RulesError& e) {
      state.warnings.push_back(e.what());
    }
  }
  return state;
}

RemoveReport
remove(const ApplyOptions& options)
{
  validate(options);
  util::FileLock lock(options.lock_path, options.lock_wait);
  RemoveReport report;
  const net::Family families[] = {net::Family::V4, net::Family::V6};
  // Rules first: a set that a rule still names cannot be destroyed.
  for (const auto f : families) {
    if (!net::includes(options.families, f)) {
      continue;
    }
    const Xtables xt = xtables_for(options, f);
    xt.require();
    const RestoreText text = build_remove(xt.save(), spec_for(options, f));
    if (!text.origins.empty()) {
      xt.restore(text, Xtables::Flush::None, Xtables::Mode::Commit);
    }
    int removed = 0;
    for (std::size_t pos = 0; (pos = text.text.find("\n-D ", pos)) != std::string::npos; ++pos) {
      ++removed;
    }
    (f == net::Family::V4 ? report.rules_removed_v4 : report.rules_removed_v6) = removed;
  }
  IpsetSession session;
  for (const auto f : families) {
    if (!net::includes(options.families, f)) {
      continue;
    }
    const std::string set = set_name_for(options.set_name, f);
    session.destroy(set + "-new");
    (f == net::Family::V4 ? report.set_removed_v4 : report.set_removed_v6) = session.destroy(set);
  }
  return report;
}

} // namespace geoblock::apply
