// update, restore, status, remove, check and export: the flow of
// docs/architecture.md. Everything is fetched, validated and aggregated
// before the first kernel call, so any failure before apply leaves the
// kernel untouched; a dry run is the same flow stopping before apply.
#include "flow/commands.hpp"

#include "apply/applier.hpp"
#include "apply/ipset_session.hpp"
#include "apply/nft_backend.hpp"
#include "core/log.hpp"
#include "fetch/blocklist_fetch.hpp"
#include "fetch/fetcher.hpp"
#include "fetch/mirror.hpp"
#include "fetch/rir_source.hpp"
#include "flow/backends.hpp"
#include "flow/check.hpp"
#include "flow/report.hpp"
#include "flow/state_store.hpp"
#include "flow/stats.hpp"
#include "flow/status.hpp"
#include "flow/target.hpp"
#include "net/zone.hpp"
#include "privsep/separated_source.hpp"
#include "source/asn_source.hpp"
#include "source/bundle.hpp"
#include "source/failover.hpp"
#include "source/maxmind.hpp"
#include "source/mmdb_source.hpp"
#include "util/atomic_file.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"
#include "util/lock.hpp"
#include "util/subprocess.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <unistd.h>

namespace geoblock::flow {

namespace {

void
print(const std::string& text)
{
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

net::ZoneOptions
zone_options(const Settings& s)
{
  return net::ZoneOptions{s.families, s.raw.min_prefix_v4, s.raw.min_prefix_v6};
}

fetch::FetchOptions
fetch_options(const Settings& s)
{
  fetch::FetchOptions o;
  o.base_url = s.raw.base_url;
  o.cache_dir = s.raw.cache_dir;
  o.parallel = s.raw.parallel;
  o.connect_timeout_ms = s.raw.connect_timeout * 1000L;
  o.timeout_ms = s.raw.timeout * 1000L;
  o.retries = s.raw.retries;
  o.ca_bundle = s.raw.ca_bundle;
  o.stale_after_days = s.raw.stale_days;
  o.zone = zone_options(s);
  o.zone_url_v4 = s.raw.zone_url_v4;
  o.zone_url_v6 = s.raw.zone_url_v6;
  o.progress = log::level() == log::Level::Quiet ? fetch::ProgressMode::Quiet : fetch::ProgressMode::Auto;
  o.shrink = fetch::ShrinkGuard{s.raw.max_shrink, s.force_shrink};
  return o;
}

// The state file of `s`: the environment's (tests: in memory), else the
// one in state-dir.
std::unique_ptr<StateStore>
state_store(const Settings& s, const Environment& env)
{
  return env.state_store ? env.state_store(s) : file_state_store(s);
}

apply::ApplyOptions
apply_options(const Settings& s, const util::Json& last_state)
{
  apply::ApplyOptions o;
  static_cast<apply::RulesConfig&>(o) = s.rules;
  if (s.allow_only) {
    // What is never blocked is accepted by allow-only's own rules (the
    // allowlist is already among them).
    const net::NetList& local = never_blocked_local(s);
    o.allowlist.v4.insert(o.allowlist.v4.end(), local.v4.begin(), local.v4.end());
    o.allowlist.v6.insert(o.allowlist.v6.end(), local.v6.begin(), local.v6.end());
  }
  // Set names used before are geoblock's too: what is left of them goes.
  for (const util::Json& name : last_state.get("set_names").items()) {
    o.previous_set_names.push_back(name.as_string());
  }
  // An action other than drop in the countries list: by source (one
  // verdict map, a chain per source that counts and acts).
  if (!s.allow_only) {
    for (const auto& [country, action] : s.country_actions) {
      o.by_source = o.by_source || action.kind != apply::SourceAction::Kind::Drop;
    }
  }
  o.baseline = s.raw.baseline;
  o.baseline6 = s.raw.baseline6;
  if (!s.raw.keep_chain.empty()) {
    o.keep_chains = s.raw.keep_chain;
  }
  o.lock_path.clear(); // the command holds the lock for its whole run
  // No on_stage here: the backends log each stage with --verbose
  // themselves, and a second logger printed every stage twice.
  return o;
}

// By source wherever the chosen backend and the rule shape allow it, so
// that every source is counted on its own (docs/accounting.md); actions
// other than drop ask for it in any case (and are refused where it cannot
// be).
void
choose_by_source(apply::ApplyOptions& ao, const apply::Backend& backend, bool count_by_source)
{
  ao.by_source = ao.by_source ||
                 (count_by_source && backend.capabilities().verdict_maps && apply::by_source_possible(ao));
}

// The run's lock: fetch, cache writes, the decision, the apply, state and
// metrics all happen under it. A dry run takes it where it can (it writes
// the cache), and goes on without it where it cannot (an unprivileged user).
enum class Lock { Required, IfWritable };

std::optional<util::FileLock>
take_lock(const Settings& s, Lock need)
{
  std::optional<util::FileLock> lock;
  const std::string dir = std::filesystem::path(s.raw.lock_file).parent_path().string();
  if (need == Lock::Required || ::access(dir.empty() ? "." : dir.c_str(), W_OK) == 0) {
    lock.emplace(s.raw.lock_file, std::chrono::seconds(s.raw.lock_wait));
  }
  return lock;
}

// SHA-256 of each configured baseline file, as recorded with what was
// applied; a changed file is a difference to apply.
util::Json
baseline_digests(const Settings& s)
{
  util::Json d = util::Json::object();
  if (!s.raw.baseline.empty()) {
    d.set("v4", util::sha256_hex(util::read_file(s.raw.baseline)));
  }
  if (!s.raw.baseline6.empty()) {
    d.set("v6", util::sha256_hex(util::read_file(s.raw.baseline6)));
  }
  return d;
}

// A baseline is in force when its file is the one last applied and the
// tables it manages hold what that restore left (nobody edited them since).
std::vector<std::string>
baseline_drift(const Settings& s, const util::Json& last_state, const apply::FirewallState& live)
{
  std::vector<std::string> out;
  const util::Json now = baseline_digests(s);
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    const char* key = net::family_key(f);
    const std::string& file = f == net::Family::V4 ? s.raw.baseline : s.raw.baseline6;
    if (file.empty()) {
      continue;
    }
    if (now.get(key).as_string() != last_state.get("baseline_sha256").get(key).as_string()) {
      out.push_back("baseline " + file + ": changed since it was last applied");
    } else if (live.baseline_digest[net::family_index(f)] !=
               last_state.get("baseline_live_sha256").get(key).as_string()) {
      out.push_back("baseline " + file + ": the live " + net::family_name(f) +
                    " rules it manages were changed since it was restored");
    }
  }
  return out;
}

// The configured sources; the commands see only the interface
// (net::DataSource).
// What the source is loaded for: a dry run may not write the configured
// cache.
enum class Purpose { Apply, DryRun };

// True when a source of the list keeps the cache directory (the mirror,
// rir, mmdb's last good copies).
bool
keeps_cache(const Settings& s)
{
  return std::any_of(s.sources.begin(), s.sources.end(), [](const Settings::SourceSpec& spec) {
    return spec.kind == Settings::SourceKind::Http || spec.kind == Settings::SourceKind::Rir ||
           spec.kind == Settings::SourceKind::Mmdb; // its last good copies
  });
}

// One configured source (one item of the `source` list), made for the
// process it runs in: it keeps its cache in `paths.cache_dir` and reads
// the files it declares (a bundle, a GeoLite2 zip, the databases) by
// `paths.file` (privsep/separated_source.hpp).
std::unique_ptr<net::ZoneSource>
make_one_source(const Settings& s, const Settings::SourceSpec& spec, const privsep::Paths& paths,
                fetch::HttpSource::Cache cache)
{
  fetch::FetchOptions fo = fetch_options(s);
  fo.cache_dir = paths.cache_dir;
  if (&spec != &s.sources.back()) {
    fo.on_failure = fetch::FetchOptions::OnFailure::NextSource;
  }
  switch (spec.kind) {
  case Settings::SourceKind::Bundle: {
    source::BundleOptions o;
    o.zone = zone_options(s);
    return std::make_unique<source::BundleSource>(paths.file(spec.path), o);
  }
  case Settings::SourceKind::Maxmind: {
    source::MaxmindOptions o;
    o.zone = zone_options(s);
    o.fallback = *source::parse_geoname_fallback(s.raw.geoname_fallback);
    return std::make_unique<source::MaxmindSource>(paths.file(spec.path), o);
  }
  case Settings::SourceKind::Mmdb: {
    source::MmdbOptions o;
    o.files = s.mmdb_files;
    o.registered_fallback = s.raw.mmdb_registered_fallback;
    o.field = source::parse_mmdb_path(s.raw.mmdb_field); // nothing when empty: detected
    o.zone = zone_options(s);
    o.cache_dir = paths.cache_dir;
    o.stale_after_days = s.raw.stale_days;
    o.reach = paths.reach;
    o.urls = s.raw.mmdb_url;
    o.download.http = fetch::http_options(fetch_options(s));
    o.shrink = fo.shrink;
    o.countries = s.countries; // max-shrink compares every configured zone
    o.families = s.families;
    return std::make_unique<source::MmdbSource>(std::move(o));
  }
  case Settings::SourceKind::Rir: {
    fetch::RirOptions o;
    o.urls = s.rir_urls;
    o.max_bytes = s.raw.rir_max_bytes;
    o.countries = s.countries; // max-shrink compares every configured zone
    o.families = s.families;
    return std::make_unique<fetch::RirSource>(std::move(fo), o, cache);
  }
  case Settings::SourceKind::Http:
    break;
  }
  return std::make_unique<fetch::HttpSource>(std::move(fo), cache);
}

const char*
source_name(Settings::SourceKind kind)
{
  switch (kind) {
  case Settings::SourceKind::Http:
    return "http";
  case Settings::SourceKind::Rir:
    return "rir";
  case Settings::SourceKind::Bundle:
    return "bundle";
  case Settings::SourceKind::Maxmind:
    return "maxmind";
  case Settings::SourceKind::Mmdb:
    return "mmdb";
  }
  return "?";
}

// The configured zone sources, tried in order for each zone
// (failover.hpp); every zone's result names the one that served it.
std::unique_ptr<net::DataSource>
make_zone_source(const Settings& s, const privsep::Paths& paths, fetch::HttpSource::Cache cache)
{
  std::vector<source::NamedSource> sources;
  for (const Settings::SourceSpec& spec : s.sources) {
    sources.push_back(source::NamedSource{source_name(spec.kind), make_one_source(s, spec, paths, cache)});
  }
  return std::make_unique<source::FailoverSource>(std::move(sources));
}

// The extra blocklists (`blocklist`), beside the zones' cache; a FILE list
// is read by `paths.file` (its name and messages stay its own).
std::unique_ptr<net::DataSource>
make_blocklists(const Settings& s, const privsep::Paths& paths, fetch::HttpSource::Cache cache)
{
  fetch::FetchOptions fo = fetch_options(s);
  fo.cache_dir = paths.cache_dir;
  auto lists = std::make_unique<fetch::BlocklistSource>(s.raw.blocklist, std::move(fo), cache);
  for (const std::string& location : lists->files()) {
    if (const std::string used = paths.file(location); used != location) {
      lists->read_from(location, used);
    }
  }
  return lists;
}

// The ASes asked for (asn, allow-asn), read from the asn-files and
// asn-urls with their last good copies in the cache.
std::unique_ptr<net::DataSource>
make_asns(const Settings& s, const privsep::Paths& paths)
{
  source::AsnOptions o;
  o.files = s.raw.asn_file;
  o.urls = s.raw.asn_url;
  o.download.http = fetch::http_options(fetch_options(s));
  o.block = s.asns;
  o.allow = s.allow_asns;
  o.zone = zone_options(s);
  o.cache_dir = paths.cache_dir;
  o.reach = paths.reach;
  o.stale_after_days = s.raw.stale_days;
  return std::make_unique<source::AsnSource>(std::move(o));
}

// What a command loads: the zones alone (mirror), or the zones, the extra
// blocklists and the ASes of a run (and status' cache of them all).
enum class Load { Zones, Everything };

// The parts of the run, each made for the process it runs in. A new kind
// of source needs its case in make_one_source, and declares its cache
// folders and files itself (net/data_source.hpp).
std::vector<privsep::Part>
parts_of(const Settings& s, Load what, fetch::HttpSource::Cache cache)
{
  std::vector<privsep::Part> parts;
  parts.emplace_back([s, cache](const privsep::Paths& p) { return make_zone_source(s, p, cache); });
  if (what == Load::Zones) {
    return parts;
  }
  if (!s.raw.blocklist.empty()) {
    parts.emplace_back([s, cache](const privsep::Paths& p) { return make_blocklists(s, p, cache); });
  }
  // The ASN data is read for the ASes asked for, and for check (the AS of
  // every address looked up) whenever it is configured.
  if (!s.asns.empty() || !s.allow_asns.empty() || !s.raw.asn_file.empty() || !s.raw.asn_url.empty()) {
    parts.emplace_back([s](const privsep::Paths& p) { return make_asns(s, p); });
  }
  return parts;
}

using Parent = privsep::SeparationOptions::Parent;

// The sources of a run as one DataSource. Separated (the binary): they
// run in a confined child process, as fetch-user when root, and this
// process re-validates what it hands over (privsep/separated_source.hpp);
// `parent`: whether this process confines itself too once the child runs
// (update). In process (tests with fakes): in turn, here.
std::unique_ptr<net::DataSource>
make_source(const Settings& s, Purpose purpose, const Environment& env, Load what,
            Parent parent = Parent::AsIs)
{
  if (env.isolation == Isolation::InProcess) {
    std::vector<std::unique_ptr<net::DataSource>> sources;
    for (const privsep::Part& part :
         parts_of(s, what,
                  purpose == Purpose::DryRun ? fetch::HttpSource::Cache::ScratchIfReadOnly
                                             : fetch::HttpSource::Cache::Configured)) {
      sources.push_back(part(privsep::Paths{s.raw.cache_dir, {}}));
    }
    return std::make_unique<net::SourceList>(std::move(sources));
  }
  privsep::SeparationOptions o;
  o.parent = parent;
  if (::geteuid() == 0) {
    o.user = s.raw.fetch_user;
  }
  o.dir = s.raw.cache_dir;
  o.scratch_if_read_only = purpose == Purpose::DryRun;
  o.guards = fetch_options(s).zone;
  std::string description;
  for (const Settings::SourceSpec& spec : s.sources) {
    description +=
        (description.empty() ? "" : ", ") + (spec.kind == Settings::SourceKind::Http ? s.raw.base_url
                                             : spec.kind == Settings::SourceKind::Rir
                                                 ? std::string("rir")
                                                 : std::string(source_name(spec.kind)) + " " + spec.path);
  }
  o.description = description;
  return std::make_unique<privsep::SeparatedSource>(std::move(o),
                                                    parts_of(s, what, fetch::HttpSource::Cache::Configured));
}

// The zones, the extra blocklists and the ASes of a run, through one
// interface. Separated: one child loads them (one fork; this process
// confines itself once), and this process validates them again; a
// CacheOnly load reads the mirror's and the blocklists' cache here.
net::SourceData
load_all(const Settings& s, net::LoadMode mode, const Environment& env, Purpose purpose, Parent parent,
         const std::vector<net::Address>& lookups = {})
{
  return net::load(*make_source(s, purpose, env, Load::Everything, parent),
                   {s.countries, s.families, mode, lookups});
}

// The state document of a successful update: the report, what geoblock
// owns now, and what the kernel counted.
// update fetches; restore (the boot unit) uses the cache alone.
enum class Mode { Update, Restore };

const char*
name_of(Mode mode)
{
  return mode == Mode::Restore ? "restore" : "update";
}

void
record(StateStore& store, const Settings& s, Report& plan, Mode mode, bool partial, std::int64_t now,
       const apply::FirewallState& live, const std::string& backend,
       const std::vector<std::string>& still_owned = {})
{
  util::Json state = report_json(plan, s, false, now);
  state.set("command", name_of(mode));
  state.set("backend", backend); // what `backend = auto` keeps next time
  state.set("partial", partial);
  util::Json names = util::Json::array();
  names.push(s.raw.set_name);
  // Set names whose state another backend may still hold (leftovers not
  // yet removed): geoblock's until a run has removed them.
  for (const std::string& n : still_owned) {
    if (n != s.raw.set_name) {
      names.push(n);
    }
  }
  state.set("set_names", std::move(names));
  state.set("baseline_sha256", baseline_digests(s));
  util::Json managed = util::Json::object();
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    if (!live.baseline_digest[net::family_index(f)].empty()) {
      managed.set(net::family_key(f), live.baseline_digest[net::family_index(f)]);
    }
  }
  state.set("baseline_live_sha256", std::move(managed));
  state.set("in_sync", true);
  util::Json dropped = util::Json::object();
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    const apply::Counters c = live.dropped(f);
    util::Json j = util::Json::object();
    j.set("packets", c.packets);
    j.set("bytes", c.bytes);
    dropped.set(net::family_key(f), std::move(j));
  }
  state.set("dropped", std::move(dropped));
  // Per source (by_source): what stats shows and the metrics export.
  state.set("counters", stats_json(counters_of(live, s.rules)).get("counters"));
  store.save(state);
}

// The host's firewall managers (flow/managers.hpp). update refuses a
// backend one of them takes the block away from (a dry run says it would);
// restore applies anyway, as it never refuses (at boot, a refusal would
// leave no block at all). Otherwise each manager that can take the block
// away on the chosen backend is a warning.
std::vector<std::string>
check_managers(const Settings& s, const Backends& b, bool dry_run, Mode mode)
{
  std::vector<std::string> warnings;
  if (!b.firewall) {
    return warnings;
  }
  try {
    refuse_unprotected_backend(*b.firewall, b.chosen->name(), s.raw.origins.where("backend"));
    for (const Manager& m : managers_beside(*b.firewall, b.chosen->name(), s.rules)) {
      if (!m.protects) {
        warnings.push_back(m.name + " (" + m.seen + ") can take geoblock's block away: " + m.why);
      }
    }
  } catch (const ConfigError& e) {
    if (!dry_run && mode == Mode::Update) {
      throw;
    }
    warnings.push_back(
        (mode == Mode::Update ? "update would refuse: " : "restore applies, though update refuses: ") +
        std::string(e.what()));
  }
  for (const std::string& w : warnings) {
    log::warning(w);
  }
  return warnings;
}

// The zones from the source, aggregated into the plan. Refuses a plan
// with no networks at all: an empty set would silently lift the block (or,
// allow-only, block everyone), never the right result of a download problem.
Report
plan_from_source(const Settings& s, net::ZoneSource::Mode mode, Purpose purpose, std::int64_t now,
                 const Environment& env)
{
  // From here on, this process needs no TCP or UDP socket: the fetcher
  // downloads zones and lists; this process reads files and talks netlink.
  net::SourceData loaded = load_all(s, mode, env, purpose, Parent::Confine);
  const std::vector<net::ZoneResult>& zones = loaded.zones;
  Report plan = make_report(zones, loaded.lists, loaded.asns, s, now);
  for (const std::string& w : plan.warnings) {
    log::warning(w);
  }
  for (const net::AsnResult& a : loaded.asns) {
    if (a.allow && a.usable()) {
      log::info("allow-asn " + a.label() + ": " + std::to_string(a.nets.v4.size()) + " IPv4 and " +
                std::to_string(a.nets.v6.size()) + " IPv6 networks never blocked");
    }
  }
  const bool usable =
      std::any_of(zones.begin(), zones.end(), [](const net::ZoneResult& z) { return z.usable(); });
  if (!usable || (plan.target.v4.empty() && plan.target.v6.empty())) {
    throw Error("no networks for any configured country (every zone failed or is absent); nothing applied");
  }
  return plan;
}

// Fills the plan's comparison with the live firewall: set members for the
// report, and every difference (rules, chains, baseline) to apply.
void
compare(Report& plan, const Settings& s, const util::Json& last_state, const apply::FirewallState& desired,
        const apply::FirewallState& live)
{
  net::NetList members;
  const apply::SetState* v4 = live.set(apply::set_name_for(s.raw.set_name, net::Family::V4));
  const apply::SetState* v6 = live.set(apply::set_name_for(s.raw.set_name, net::Family::V6));
  if (v4) {
    members.v4 = v4->members.v4;
  }
  if (v6) {
    members.v6 = v6->members.v6;
  }
  compare_with_live(plan, members, v4 != nullptr, v6 != nullptr);
  plan.changes = apply::describe(apply::diff(desired, live));
  for (const std::string& d : baseline_drift(s, last_state, live)) {
    plan.changes.push_back(d);
  }
}

// max-shrink, per zone (fetch/shrink_guard.hpp): the zones and lists the
// sources refused (they kept the last good copy), and those that shrank
// against what the last update applied. An update refuses them all in one
// line (exit code 3) before anything is applied, unless --force; a dry
// run names them and goes on. restore rebuilds from the last good copies
// the cache holds and never refuses: at boot, a refusal would leave the
// host without any block.
void
refuse_shrinks(Report& plan, const Settings& s, const util::Json& last_state, const RunArgs& run, Mode mode)
{
  if (mode == Mode::Restore) {
    return;
  }
  check_shrink_against(last_state, s.raw.max_shrink, plan);
  if (plan.refused.empty() || run.dry_run) {
    return;
  }
  if (run.force) {
    // The sources took their new data already; these shrank against the
    // last update.
    for (const std::string& r : plan.refused) {
      log::warning(r + ": accepted (--force)");
    }
    return;
  }
  std::string what;
  for (std::size_t i = 0; i < plan.refused.size() && i < 3; ++i) {
    what += (i ? "; " : "") + plan.refused[i];
  }
  if (plan.refused.size() > 3) {
    what += "; and " + std::to_string(plan.refused.size() - 3) + " more zone(s)";
  }
  throw SafetyError("refusing " + what + "; use --force if this is intended");
}

// The desired state of `plan` under `ao`; by source, ao takes the plan's
// sources too (what apply() then builds from).
apply::FirewallState
desired_of(const Report& plan, apply::ApplyOptions& ao)
{
  if (!ao.by_source) {
    return apply::desired_state(plan.target, ao);
  }
  ao.sources.clear();
  for (const SourceTarget& t : plan.sources) {
    ao.sources.push_back(apply::SourceBlock{t.source, t.action, t.nets});
  }
  return apply::desired_state_by_source(ao.sources, ao);
}

// Makes the live firewall equal the desired state; returns what it holds
// afterwards (counters included), for the state file.
apply::FirewallState
apply_changes(const Report& plan, apply::FirewallState live, const apply::ApplyOptions& ao,
              apply::Backend& backend)
{
  if (plan.changes.empty()) {
    log::info(
        plan.all_unchanged
            ? "nothing changed: every zone is current and the live firewall is exactly as configured"
            : "the live firewall already enforces exactly this data and configuration; nothing to apply");
    return live;
  }
  for (const std::string& c : plan.changes) {
    log::verbose("to apply: " + c);
  }
  apply::ApplyReport report = apply::apply(backend, plan.target, ao);
  for (const apply::FamilyReport* f : {&report.v4, &report.v6}) {
    if (f->enabled) {
      log::info(f->set + ": " + std::to_string(f->entries) + " entries" +
                (!f->set_replaced ? " (unchanged)"
                 : f->existed     ? " (was " + std::to_string(f->previous_entries) + ")"
                                  : " (new set)") +
                (f->baseline_restored ? ", restored with the baseline" : ""));
    }
  }
  log::info("applied " + std::to_string(report.changes.size()) +
            " difference(s); the live firewall now equals the configuration");
  return std::move(report.live);
}

ExitCode
update(const Request& inv, Environment& env, Mode mode)
{
  const bool dry_run = inv.run.dry_run;
  Settings s = validate(inv.config, Countries::Required);
  // A dry run never lets a source cache data max-shrink refuses: the next
  // update must still see the last good copy.
  s.force_shrink = inv.run.force && !dry_run;
  if (!dry_run && !env.privileged) {
    throw UsageError(
        std::string(name_of(mode)) +
        " changes the firewall and needs root; 'geoblock update --dry-run' shows what it would do");
  }
  const auto lock = take_lock(s, dry_run ? Lock::IfWritable : Lock::Required);
  const std::int64_t now = env.clock();
  const util::Json last_state = state_store(s, env)->load();
  apply::ApplyOptions ao = apply_options(s, last_state);
  ao.force = inv.run.force;
  // The backend first: what it cannot express is refused (exit 2) before
  // anything is fetched, dry runs included.
  const Backends backends = select_backends(s, state_store(s, env)->where(), last_state, ao, env);
  if (!dry_run) {
    log_backend(backends); // a dry run's report names it
  }
  apply::Backend& backend = *backends.chosen;
  choose_by_source(ao, backend, s.raw.count_by_source);
  apply::check_supported(ao, backend);
  // A backend the host's firewall managers take the block away from is
  // refused here too (cli/managers.hpp), the rest are warnings.
  std::vector<std::string> beside = check_managers(s, backends, dry_run, mode);
  const bool cache_only = inv.run.offline || mode == Mode::Restore;
  Report plan =
      plan_from_source(s, cache_only ? net::ZoneSource::Mode::CacheOnly : net::ZoneSource::Mode::Refresh,
                       dry_run ? Purpose::DryRun : Purpose::Apply, now, env);
  const bool partial = plan.failed + plan.stale > 0;
  const ExitCode done = partial ? ExitCode::Partial : ExitCode::Ok;
  plan.force = inv.run.force;
  refuse_shrinks(plan, s, last_state, inv.run, mode);

  // The desired state against the live one, when it can be read (root,
  // ipset module present); a dry run goes on without it.
  if (backends.choice) {
    plan.backend = backends.choice->name;
    plan.backend_reason = backends.choice->reason;
  }
  plan.warnings.insert(plan.warnings.end(), beside.begin(), beside.end());
  const apply::FirewallState desired = desired_of(plan, ao);
  std::optional<apply::LiveState> live;
  try {
    live = backend.read(ao, true);
    compare(plan, s, last_state, desired, live->state);
  } catch (const Error& e) {
    if (!dry_run) {
      throw;
    }
    log::verbose(std::string("live firewall not compared: ") + e.what());
  }
  const std::vector<Leftover> leftovers = leftovers_of(backends, ao, env);

  if (dry_run) {
    for (const Leftover& l : leftovers) {
      if (!l.unreadable.empty()) {
        plan.warnings.push_back(l.line);
        log::warning(l.line);
      } else {
        plan.changes.push_back(l.line);
      }
    }
    // Show what apply would refuse, without refusing.
    for (const std::string& r : plan.refused) {
      const std::string line = (plan.force ? "update --force would accept " : "update would refuse ") + r;
      plan.warnings.push_back(line);
      log::warning(line);
    }
    if (live) {
      try {
        apply::check_ssh_lockout(plan.target, ao);
      } catch (const SafetyError& e) {
        plan.warnings.push_back(std::string("update would refuse: ") + e.what());
        log::warning(std::string("update would refuse: ") + e.what());
      }
    }
    print(inv.run.json ? report_json(plan, s, true, now).dump(2) : format_report(plan, s, true));
    return done;
  }

  const apply::FirewallState after = apply_changes(plan, std::move(live->state), ao, backend);
  // The state file names the new backend, and keeps the set names the
  // leftovers may hold until they are gone: a run killed before it removed
  // them finds them again (the next run removes them; status sees them).
  record(*state_store(s, env), s, plan, mode, partial, now, after, backend.name(),
         leftovers.empty() ? std::vector<std::string>{} : ao.previous_set_names);
  // Only now, with the block in the chosen backend, the old one's goes:
  // there is no moment without it. A failure here is retried by the next
  // run, not undone.
  bool unknown = false;
  for (const Leftover& l : leftovers) {
    if (!l.unreadable.empty()) {
      // Applied, but the old backend may still enforce an old block:
      // said, and exit 4, never taken for empty.
      log::warning(l.line + "; not removed ('geoblock remove' tries, 'geoblock status' shows it)");
      unknown = true;
      continue;
    }
    const apply::RemoveReport r = apply::remove(*l.backend, ao);
    log::info("removed geoblock's state from backend " + std::string(l.backend->name()) + " (" +
              std::to_string(r.rules_removed_v4 + r.rules_removed_v6) + " rules, " +
              std::to_string(r.sets_removed.size()) + " sets): it now lives in " + backend.name());
  }
  if (!leftovers.empty() && !unknown) {
    record(*state_store(s, env), s, plan, mode, partial, now, after,
           backend.name()); // the old set names are free now
  }
  log::info(std::string(mode == Mode::Restore ? "restored" : "updated") + ": " +
            std::to_string(plan.target.v4.size()) + " IPv4 and " + std::to_string(plan.target.v6.size()) +
            " IPv6 entries from " + std::to_string(s.countries.size()) + " countries" +
            (plan.blocklists.empty() ? "" : ", " + std::to_string(plan.blocklists.size()) + " blocklists") +
            (plan.asns.empty() ? "" : ", " + std::to_string(plan.asns.size()) + " ASes") +
            (partial ? "; some zones were stale or failed (see warnings)" : ""));
  return unknown ? ExitCode::Partial : done;
}

// The desired state from the cache (no network), or nothing when the
// cache has no data for the configured countries.
std::optional<apply::FirewallState>
desired_from_cache(const Settings& s, apply::ApplyOptions ao, std::int64_t now, const Environment& env)
{
  if (s.countries.empty()) {
    return std::nullopt;
  }
  const log::Level was = log::level();
  log::set_level(log::Level::Quiet); // the cache's warnings belong to update, not status
  net::SourceData loaded;
  try {
    loaded = load_all(s, net::LoadMode::CacheOnly, env, Purpose::Apply, Parent::AsIs);
  } catch (const Error&) {
    log::set_level(was);
    return std::nullopt;
  }
  log::set_level(was);
  const Report plan = make_report(loaded.zones, loaded.lists, loaded.asns, s, now);
  if (plan.target.v4.empty() && plan.target.v6.empty()) {
    return std::nullopt;
  }
  return desired_of(plan, ao);
}

// Keeps the metrics file's drift and counters current for monitoring,
// which reads that file rather than running status.
void
refresh_metrics(StateStore& store, util::Json last_state, bool in_sync, const apply::FirewallState& live,
                const apply::RulesConfig& rules)
{
  last_state.set("counters", stats_json(counters_of(live, rules)).get("counters"));
  last_state.set("in_sync", in_sync);
  util::Json counters = util::Json::object();
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    util::Json c = util::Json::object();
    c.set("packets", live.dropped(f).packets);
    c.set("bytes", live.dropped(f).bytes);
    counters.set(net::family_key(f), std::move(c));
  }
  last_state.set("dropped", std::move(counters));
  store.save_metrics(last_state);
}

// The kernel's side of status: geoblock's sets and rules per family, and
// the drift against the desired state when the cache allows computing it.
void
gather_kernel(const Settings& s, const apply::ApplyOptions& ao, const util::Json& last_state,
              Environment& env, apply::Backend& backend, StatusReport& r)
{
  const apply::LiveState live = backend.read(ao, true);
  const auto desired = desired_from_cache(s, ao, r.now, env);
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    if (!net::includes(s.families, f)) {
      continue;
    }
    FamilyStatus fs;
    fs.family = f;
    fs.set = apply::set_name_for(s.raw.set_name, f);
    if (const apply::SetState* have = live.state.set(fs.set)) {
      fs.live_set = *have;
      fs.live_set->members = {}; // not reported
    }
    fs.dropped = live.state.dropped(f);
    fs.rules_known = f == net::Family::V4 ? live.state.rules_known_v4 : live.state.rules_known_v6;
    for (const apply::Hook& h : apply::hooks_of(ao)) {
      const apply::ChainState* c = live.state.chain(f, h.table, h.chain);
      ChainStatus cs{h, c ? c->rules.size() : 0, std::nullopt};
      if (desired) {
        const apply::ChainState* want = desired->chain(f, h.table, h.chain);
        cs.in_sync = want && apply::chain_in_sync(*want, c);
      }
      fs.chains.push_back(cs);
    }
    for (const std::string& t : live.leftover_temp) {
      if (t.rfind(fs.set, 0) == 0) {
        fs.leftovers.push_back(t);
      }
    }
    r.families.push_back(std::move(fs));
  }
  for (const std::string& w : live.warnings) {
    log::warning(w);
  }
  r.top_sources = counters_of(live.state, s.rules);
  if (desired) {
    const std::vector<std::string> leftovers = std::move(r.drift); // other backends', gathered first
    r.drift = apply::describe(apply::diff(*desired, live.state));
    for (const std::string& d : baseline_drift(s, last_state, live.state)) {
      r.drift.push_back(d);
    }
    r.drift.insert(r.drift.end(), leftovers.begin(), leftovers.end());
    r.in_sync = r.drift.empty();
    if (!s.raw.metrics_file.empty() && !last_state.is_null() && env.privileged) {
      refresh_metrics(*state_store(s, env), last_state, *r.in_sync, live.state, s.rules);
    }
  }
}

ExitCode
status(const Request& inv, Environment& env)
{
  Settings s;
  try {
    s = validate(inv.config, Countries::Required);
  } catch (const ConfigError&) {
    s = validate(inv.config, Countries::Optional); // no countries: the kernel and the cache, without drift
  }
  StatusReport r;
  r.now = env.clock();
  const auto store = state_store(s, env);
  r.state_path = store->where();
  r.last_update = store->load();
  apply::ApplyOptions ao = apply_options(s, r.last_update);
  const Backends backends = select_backends(s, state_store(s, env)->where(), r.last_update, ao, env);
  choose_by_source(ao, *backends.chosen, s.raw.count_by_source);
  if (backends.choice) {
    r.backend = backends.choice->name;
    r.backend_reason = backends.choice->reason;
  }
  for (const Leftover& l : leftovers_of(backends, ao, env)) {
    r.drift.push_back(l.line); // an unknown one too: status cannot say "in sync"
  }
  if (backends.firewall) {
    r.managers = managers_beside(*backends.firewall, backends.chosen->name(), s.rules);
    for (const Manager& m : *r.managers) {
      if (!m.protects) {
        log::warning(m.name + " (" + m.seen + ") can take geoblock's block away: " + m.why);
      }
    }
  }
  try {
    gather_kernel(s, ao, r.last_update, env, *backends.chosen, r);
  } catch (const Error& e) {
    r.kernel_error = e.what();
    r.families.clear();
  }
  if (!r.drift.empty()) {
    r.in_sync = false; // a leftover is drift even where the cache cannot tell the rest
  }
  r.cache = make_source(s, Purpose::Apply, env, Load::Everything)->cache(r.now);
  print(inv.run.json ? status_json(r).dump(2) : status_text(r));
  return r.in_sync && !*r.in_sync ? ExitCode::Drift : ExitCode::Ok;
}

ExitCode
remove_command(const Request& inv, Environment& env)
{
  const Settings s = validate(inv.config, Countries::Optional);
  if (!env.privileged) {
    throw UsageError("remove changes the firewall and needs root");
  }
  const auto lock = take_lock(s, Lock::Required);
  const util::Json last_state = state_store(s, env)->load();
  const apply::ApplyOptions ao = apply_options(s, last_state);
  const Backends backends = select_backends(s, state_store(s, env)->where(), last_state, ao, env);
  log_backend(backends);
  // Every backend: what a switch left behind goes too. One that cannot be
  // read may hold some: it is asked to remove as well (removal goes by
  // name). A backend whose removal fails makes remove fail, naming it,
  // once the others are done.
  std::vector<std::pair<apply::Backend*, std::string>> from{{backends.chosen, ""}};
  for (const Leftover& l : leftovers_of(backends, ao, env)) {
    from.emplace_back(l.backend, l.unreadable);
  }
  std::string failed;
  for (const auto& [b, unreadable] : from) {
    apply::RemoveReport r;
    try {
      r = apply::remove(*b, ao);
    } catch (const Error& e) {
      if (b == backends.chosen) {
        throw;
      }
      failed += (failed.empty() ? "" : "; ") + std::string("backend ") + b->name() + ": " + e.what() +
                (unreadable.empty() ? "" : " (nor can it be read: " + unreadable + ")");
      continue;
    }
    std::string sets;
    for (const std::string& name : r.sets_removed) {
      sets += (sets.empty() ? "" : ", ") + name;
    }
    log::info(std::string(backends.choice ? std::string(b->name()) + ": " : "") + "removed " +
              std::to_string(r.rules_removed_v4) + " IPv4 and " + std::to_string(r.rules_removed_v6) +
              " IPv6 rules; sets removed: " + (sets.empty() ? "none" : sets));
  }
  if (!failed.empty()) {
    throw Error("geoblock's state may be left: cannot remove it from " + failed);
  }
  return ExitCode::Ok;
}

// check's word on the firewall: the backend, and whether the live state is
// what the configuration asks for (every difference), so that the verdicts
// above it are known to be in force.
std::string
check_firewall(const Settings& s, Environment& env)
{
  const util::Json last_state = state_store(s, env)->load();
  apply::ApplyOptions ao = apply_options(s, last_state);
  const Backends backends = select_backends(s, state_store(s, env)->where(), last_state, ao, env);
  choose_by_source(ao, *backends.chosen, s.raw.count_by_source);
  std::string out =
      "backend: " + (backends.choice ? backends.choice->describe() : std::string(backends.chosen->name())) +
      "\n";
  std::vector<std::string> drift;
  try {
    const apply::LiveState live = backends.chosen->read(ao, true);
    const auto desired = desired_from_cache(s, ao, env.clock(), env);
    if (!desired) {
      return out + "live firewall: not compared (no cached data for the configured countries)\n";
    }
    drift = apply::describe(apply::diff(*desired, live.state));
    for (const std::string& d : baseline_drift(s, last_state, live.state)) {
      drift.push_back(d);
    }
  } catch (const Error& e) {
    return out + "live firewall: not readable: " + e.what() + "\n";
  }
  for (const Leftover& l : leftovers_of(backends, ao, env)) {
    drift.push_back(l.line);
  }
  if (drift.empty()) {
    return out + "live firewall: in sync with the configuration\n";
  }
  out += "live firewall: DIFFERS from the configuration ('geoblock update' repairs it):\n";
  for (const std::string& d : drift) {
    out += "  " + d + "\n";
  }
  return out;
}

// The AS and country of each address are looked up by the sources that
// read that data, in the same (confined) load as the cached zones, lists
// and ASes: the ASN data and the databases are untrusted and the fetching
// process reads them; its answers come back as facts, which this process
// checks again (privsep/report.hpp) before check words them
// (flow/check.hpp). The cache keeps those files whole, not per-AS data
// this process could read itself.
ExitCode
check(const Request& inv, Environment& env)
{
  const Settings s = validate(inv.config, Countries::Required);
  std::vector<net::Address> lookups;
  for (const std::string& a : inv.run.addresses) {
    const std::optional<net::Address> address = net::parse_address(a);
    if (!address) {
      throw UsageError("check: not an IPv4 or IPv6 address: '" + a + "'");
    }
    lookups.push_back(*address);
  }
  const net::SourceData loaded =
      load_all(s, net::LoadMode::CacheOnly, env, Purpose::Apply, Parent::AsIs, lookups);
  bool missing = false;
  for (const net::ZoneResult& z : loaded.zones) {
    if (z.origin == net::Origin::Failed) {
      log::warning(z.country + " " + net::family_name(z.family) + ": no cached data: " + z.error);
      missing = true;
    }
  }
  for (const net::BlocklistResult& b : loaded.lists) {
    missing = missing || !b.usable();
  }
  for (const net::AsnResult& a : loaded.asns) {
    if (!a.usable()) {
      log::warning(std::string(a.allow ? "allow-asn " : "asn ") + a.label() + ": no data: " + a.error);
      missing = true;
    }
  }
  CheckData data{loaded.zones, loaded.lists, loaded.asns, loaded.facts, s};
  data.country_data = std::any_of(s.sources.begin(), s.sources.end(), [](const Settings::SourceSpec& spec) {
    return spec.kind == Settings::SourceKind::Mmdb;
  });
  data.as_data = !s.raw.asn_file.empty() || !s.raw.asn_url.empty();
  std::string out;
  for (std::size_t i = 0; i < lookups.size(); ++i) {
    out += check_address(inv.run.addresses[i], lookups[i], i, data) + "\n";
  }
  print(out + check_firewall(s, env));
  return missing ? ExitCode::Partial : ExitCode::Ok;
}

ExitCode
export_command(const Request& inv, Environment& env)
{
  const Settings s = validate(inv.config, Countries::Required);
  source::BundleOptions o;
  o.zone = zone_options(s);
  const source::ExportSummary r = source::export_bundle(fetch::ZoneCache(s.raw.cache_dir), s.countries,
                                                        s.families, inv.run.output, env.clock(), o);
  log::info("exported " + std::to_string(r.zones) + " zones (" + std::to_string(r.absent) +
            " absent upstream, " + std::to_string(r.bytes) + " bytes) to " + inv.run.output);
  return ExitCode::Ok;
}

// The last good zones as an ipdeny-style tree (fetch/mirror.hpp). Fetches
// first where it may write the cache; otherwise (an unprivileged user
// publishing what root's updates fetched, or --offline) the cache alone.
ExitCode
mirror_command(const Request& inv, Environment& env)
{
  const Settings s = validate(inv.config, Countries::Required);
  const auto lock = take_lock(s, Lock::IfWritable);
  bool cache_only = inv.run.offline;
  if (!cache_only && keeps_cache(s) && !fetch::writable_dir(s.raw.cache_dir)) {
    log::info("cache-dir " + s.raw.cache_dir + " is not writable: mirroring its contents without fetching");
    cache_only = true;
  }
  const auto source = make_source(s, Purpose::Apply, env, Load::Zones, Parent::Confine);
  if (const auto cache = source->cache(env.clock()); cache_only && cache && cache->zones.empty()) {
    throw Error("mirror: no cached zones in " + cache->where +
                " (run 'geoblock update' first); nothing written to " + inv.run.output);
  }
  const std::vector<net::ZoneResult> zones =
      net::load(*source,
                {s.countries, s.families, cache_only ? net::LoadMode::CacheOnly : net::LoadMode::Refresh, {}})
          .zones;
  std::size_t failed = 0;
  for (const net::ZoneResult& z : zones) {
    failed += z.origin == net::Origin::Failed;
  }
  if (std::none_of(zones.begin(), zones.end(), [](const net::ZoneResult& z) {
        return z.origin != net::Origin::Failed && z.origin != net::Origin::Absent;
      })) {
    throw Error("mirror: no data for any configured country" +
                (keeps_cache(s) ? " in the cache " + s.raw.cache_dir : std::string()) +
                (cache_only ? " (run 'geoblock update' first)" : "") + "; nothing written to " +
                inv.run.output);
  }
  fetch::MirrorOptions o;
  o.now = env.clock();
  o.on_replace = [](const std::string& path) { log::verbose("mirror: wrote " + path); };
  const fetch::MirrorSummary r = fetch::write_mirror(zones, inv.run.output, o);
  log::info("mirrored " + std::to_string(r.written + r.unchanged) + " zones to " + inv.run.output + ": " +
            std::to_string(r.written) + " written, " + std::to_string(r.unchanged) + " unchanged, " +
            std::to_string(r.skipped) + " without data; " + std::to_string(r.md5sums) + " MD5SUM rewritten");
  return failed > 0 ? ExitCode::Partial : ExitCode::Ok;
}

} // namespace

// The kernel's per-source counters (flow/stats.hpp), most packets first.
ExitCode
stats_command(const Request& inv, Environment& env)
{
  const Settings s = validate(inv.config, Countries::Optional);
  const util::Json last_state = state_store(s, env)->load();
  apply::ApplyOptions ao = apply_options(s, last_state);
  const Backends backends = select_backends(s, state_store(s, env)->where(), last_state, ao, env);
  choose_by_source(ao, *backends.chosen, s.raw.count_by_source);
  const apply::LiveState live = backends.chosen->read(ao, false);
  for (const auto& w : live.warnings) {
    log::warning(w);
  }
  const std::vector<SourceCounter> rows = counters_of(live.state, ao);
  if (rows.empty() && !inv.run.json) {
    log::info(ao.by_source ? "no per-source chains in the live firewall: run geoblock update"
                           : "per-source counters come with an action in the countries list (nftables), "
                             "for now; 'geoblock status' shows the dropped totals");
  }
  print(inv.run.json ? stats_json(rows, inv.run.top).dump(2) : format_stats(rows, inv.run.top));
  return ExitCode::Ok;
}

ExitCode
run(const Request& inv, Environment& env)
{
  switch (inv.task) {
  case Task::Update:
    return update(inv, env, Mode::Update);
  case Task::Restore:
    return update(inv, env, Mode::Restore);
  case Task::Status:
    return status(inv, env);
  case Task::Remove:
    return remove_command(inv, env);
  case Task::Check:
    return check(inv, env);
  case Task::Export:
    return export_command(inv, env);
  case Task::Mirror:
    return mirror_command(inv, env);
  case Task::Stats:
    return stats_command(inv, env);
  }
  throw UsageError("not a configured command");
}

namespace {

// The facts of this host that `backend = auto` decides with.
HostFacts
probe_this_host()
{
  const apply::NftProbe nft = apply::probe_nftables();
  HostFacts f;
  f.nft_usable = nft.usable;
  f.nft_error = nft.error;
  f.tables = nft.tables;
  f.iptables_installed = util::program_exists("iptables");
  try {
    apply::IpsetSession session; // opening it talks to ip_set once
    f.ipset_usable = true;
  } catch (const Error&) {
    f.ipset_usable = false;
  }
  return f;
}

} // namespace

ExitCode
run(const Request& inv)
{
  const auto iptables = apply::make_iptables_backend();
  const auto nftables = apply::make_nftables_backend();
  Environment env{*iptables, util::system_unix_time, geteuid() == 0, Isolation::Separated};
  env.backends = {iptables.get(), nftables.get()};
  env.probe_host = probe_this_host;
  env.probe_firewall = probe_firewall;
  return run(inv, env);
}

} // namespace geoblock::flow
