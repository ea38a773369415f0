// The iptables+ipset backend: sets through libipset (filled aside, then
// swapped in), rules through iptables-restore (apply/converge.hpp renders
// a plan as its input), everything read back with libipset and
// iptables-save. See docs/applier.md.
#include "apply/backend.hpp"
#include "apply/converge.hpp"
#include "apply/ipset_session.hpp"
#include "apply/iptables_rule.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"
#include "util/subprocess.hpp"

#include <algorithm>
#include <optional>

namespace geoblock::apply {

namespace {

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
    report_stage(options, "filled " + temp);
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
  report_stage(options, "swapped " + live);
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

// Each enabled family's baseline, parsed (errors name the file and line).
std::array<std::optional<Ruleset>, 2>
baselines(const ApplyOptions& options)
{
  std::array<std::optional<Ruleset>, 2> out;
  for (const auto f : {net::Family::V4, net::Family::V6}) {
    if (net::includes(options.families, f) && !baseline_of(options, f).empty()) {
      const std::string& file = baseline_of(options, f);
      out[net::family_index(f)] = parse_ruleset(util::read_file(file), "baseline " + file);
    }
  }
  return out;
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
remove_everything(const ApplyOptions& options)
{
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
    const RestoreText text = build_converge(live, f, {}, own);
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

class IptablesBackend final : public Backend {
public:
  const char* name() const override { return "iptables"; }

  Capabilities capabilities() const override
  {
    Capabilities c;
    c.docker_user = true;
    return c;
  }

  LiveState read(const ApplyOptions& options, bool with_members) override
  {
    return read_live_state(options, with_members);
  }

  void check(const Plan&, const FirewallState& desired, const LiveState&,
             const ApplyOptions& options) override
  {
    for (const auto f : {net::Family::V4, net::Family::V6}) {
      if (net::includes(options.families, f)) {
        xtables_for(options, f).require();
      }
    }
    IpsetSession session;
    for (const SetState& want : desired.sets) {
      if (const auto h = session.header(want.name)) {
        const std::string type = want.family == net::Family::V4 ? "inet" : "inet6";
        if (h->type != "hash:net" || h->family != type) {
          throw IpsetError("ipset: set " + want.name + " exists as " + h->type + " family " + h->family +
                           ", not hash:net family " + type + "; remove it or choose another set name");
        }
      }
    }
    const Ownership own = ownership_of(options);
    const auto base = baselines(options);
    for (const auto f : {net::Family::V4, net::Family::V6}) {
      if (const auto& b = base[net::family_index(f)]) {
        // The sets may not exist yet, so the test leaves geoblock's rules
        // out; it still catches every error in the baseline itself.
        const Xtables xt = xtables_for(options, f);
        xt.restore(build_baseline_restore(*b, xt.save(), f, chains_of(desired, f), own, options.keep_chains,
                                          WithOwnRules::No),
                   Xtables::Flush::Tables, Xtables::Mode::Test);
      }
    }
  }

  FirewallState execute(const Plan& plan, const FirewallState& desired, const LiveState& before,
                        const ApplyOptions& options, ApplyReport& report) override
  {
    auto fam = [&](net::Family f) -> FamilyReport& { return f == net::Family::V4 ? report.v4 : report.v6; };
    const Ownership own = ownership_of(options);
    const auto base = baselines(options);
    IpsetSession session;
    // Sets before rules: a rule naming a missing set cannot load.
    for (const SetState& want : desired.sets) {
      if (same_members(want, before.state.set(want.name))) {
        if (session.destroy(want.name + "-new")) {
          log::warning("removed set " + want.name + "-new left over by an interrupted run");
        }
        continue;
      }
      if (want.family == net::Family::V4) {
        update_set(session, want.members.v4, options, fam(want.family));
      } else {
        update_set(session, want.members.v6, options, fam(want.family));
      }
    }
    for (const auto f : {net::Family::V4, net::Family::V6}) {
      const Xtables xt = xtables_for(options, f);
      if (!net::includes(options.families, f) && !util::program_exists(xt.save_program())) {
        continue; // nothing of geoblock's can be there
      }
      const Ruleset live = xt.save();
      const std::vector<ChainState> want = chains_of(desired, f);
      if (const auto& b = base[net::family_index(f)]) {
        const RestoreText text =
            build_baseline_restore(*b, live, f, want, own, options.keep_chains, WithOwnRules::Yes);
        // iptables-restore commits table by table: test the whole input
        // first so that a failure cannot leave one table restored and
        // another not.
        xt.restore(text, Xtables::Flush::Tables, Xtables::Mode::Test);
        xt.restore(text, Xtables::Flush::Tables, Xtables::Mode::Commit);
        fam(f).baseline_restored = true;
      } else if (const RestoreText text = build_converge(live, f, want, own); !text.origins.empty()) {
        xt.restore(text, Xtables::Flush::None, Xtables::Mode::Commit);
      }
      report_stage(options, std::string("rules ") + net::family_name(f));
    }
    // What the configuration no longer asks for: sets of a disabled family
    // or of an earlier set name (no rule names them any more).
    for (const SetChange& c : plan.sets) {
      if (c.kind == SetChange::Kind::Delete) {
        session.destroy(c.set.name);
        report_stage(options, "removed " + c.set.name);
      }
    }
    return read_live_state(options, true).state;
  }

  RemoveReport remove_all(const ApplyOptions& options) override { return remove_everything(options); }
};

} // namespace

std::unique_ptr<Backend>
make_iptables_backend()
{
  return std::make_unique<IptablesBackend>();
}

} // namespace geoblock::apply
