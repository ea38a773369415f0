// update, restore, status, remove, check and export: the flow of
// ../shared/design.md. Everything is fetched, validated and aggregated
// before the first kernel call, so any failure before apply leaves the
// kernel untouched; a dry run is the same flow stopping before apply.
#include "cli/commands.hpp"

#include "apply/applier.hpp"
#include "cli/plan.hpp"
#include "core/log.hpp"
#include "fetch/fetcher.hpp"
#include "net/local.hpp"
#include "net/zone.hpp"
#include "source/bundle.hpp"
#include "source/maxmind.hpp"
#include "util/atomic_file.hpp"
#include "util/file.hpp"
#include "util/temp_dir.hpp"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <unistd.h>

namespace geoblock::cli {

namespace {

std::int64_t now_seconds()
{
  return static_cast<std::int64_t>(std::time(nullptr));
}

void print(const std::string& text)
{
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

net::ZoneOptions zone_options(const Settings& s)
{
  return net::ZoneOptions{s.families, s.raw.min_prefix_v4, s.raw.min_prefix_v6};
}

fetch::FetchOptions fetch_options(const Settings& s, bool offline)
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
  o.min_prefix_v4 = s.raw.min_prefix_v4;
  o.min_prefix_v6 = s.raw.min_prefix_v6;
  o.offline = offline;
  o.progress = log::level() == log::Level::Quiet ? fetch::ProgressMode::Quiet : fetch::ProgressMode::Auto;
  return o;
}

apply::ApplyOptions apply_options(const Settings& s, bool force)
{
  apply::ApplyOptions o;
  o.set_name = s.raw.set_name;
  o.families = s.families;
  o.policy = s.allow_only ? apply::Policy::AllowOnly : apply::Policy::Block;
  for (const std::string& c : s.raw.chain) {
    o.chains.push_back(apply::parse_hook(c));
  }
  o.baseline = s.raw.baseline;
  o.baseline6 = s.raw.baseline6;
  if (!s.raw.keep_chain.empty()) {
    o.keep_chains = s.raw.keep_chain;
  }
  o.allowlist = s.allow;
  if (s.allow_only && !s.raw.block_local) {
    // Local networks are never blocked: in allow-only mode that means
    // accepting them.
    const net::NetList& local = net::local_networks();
    o.allowlist.v4.insert(o.allowlist.v4.end(), local.v4.begin(), local.v4.end());
    o.allowlist.v6.insert(o.allowlist.v6.end(), local.v6.begin(), local.v6.end());
  }
  o.max_shrink = s.raw.max_shrink;
  o.force = force;
  o.lock_path = s.raw.lock_file;
  o.lock_wait = std::chrono::seconds(s.raw.lock_wait);
  if (log::level() == log::Level::Verbose) {
    o.on_stage = [](std::string_view stage) { log::verbose(std::string(stage)); };
  }
  return o;
}

bool writable_dir(const std::string& dir)
{
  std::filesystem::path p(dir);
  while (!p.empty() && !std::filesystem::exists(p)) {
    p = p.parent_path();
  }
  return !p.empty() && ::access(p.c_str(), W_OK) == 0;
}


std::vector<fetch::ZoneResult> load_zones(const Settings& s, bool offline, const std::string& cache_dir)
{
  switch (s.source_kind) {
  case Settings::SourceKind::Http: {
    fetch::FetchOptions o = fetch_options(s, offline);
    o.cache_dir = cache_dir;
    return fetch::fetch_zones(s.countries, s.families, o);
  }
  case Settings::SourceKind::Bundle: {
    source::BundleOptions o;
    o.zone = zone_options(s);
    return source::read_bundle(s.source_path, s.countries, s.families, o);
  }
  case Settings::SourceKind::Maxmind: {
    source::MaxmindOptions o;
    o.zone = zone_options(s);
    o.fallback = *source::parse_geoname_fallback(s.raw.geoname_fallback);
    return source::read_maxmind(s.source_path, s.countries, s.families, o);
  }
  }
  return {};
}

bool rules_in_place(const apply::LiveFamily& f)
{
  if (!f.enabled) {
    return true;
  }
  if (!f.rules_known || f.hooks.empty()) {
    return false;
  }
  for (const apply::HookState& h : f.hooks) {
    if (h.rules != 1) {
      return false;
    }
  }
  return true;
}

std::string state_path(const Settings& s)
{
  return s.raw.state_dir + "/state.json";
}

void write_state(const Settings& s, util::Json state)
{
  util::make_dirs(s.raw.state_dir, 0755);
  util::write_file_atomic(state_path(s), state.dump(2), 0644);
  if (!s.raw.metrics_file.empty()) {
    // node_exporter reads *.prom files: write atomically so it never sees
    // half a file.
    util::write_file_atomic(s.raw.metrics_file, format_metrics(state), 0644);
  }
}

ExitCode update(const Invocation& inv, bool restore)
{
  const Settings s = validate(inv.config, true);
  const bool dry_run = inv.run.dry_run;
  if (!dry_run && geteuid() != 0) {
    throw UsageError(std::string(restore ? "restore" : "update")
                     + " changes the firewall and needs root; 'geoblock update --dry-run' shows what it would do");
  }
  const std::int64_t now = now_seconds();

  // A dry run by a user who cannot write the cache downloads into a
  // private directory instead: it must work without root.
  std::optional<util::TempDir> scratch;
  std::string cache_dir = s.raw.cache_dir;
  if (s.source_kind == Settings::SourceKind::Http && dry_run && !inv.run.offline && !writable_dir(cache_dir)) {
    scratch.emplace("geoblock-dry-run");
    log::info("cache-dir " + cache_dir + " is not writable; the dry run downloads into a temporary directory");
    cache_dir = scratch->path();
  }

  const std::vector<fetch::ZoneResult> zones = load_zones(s, inv.run.offline || restore, cache_dir);
  Plan plan = make_plan(zones, s, now);
  for (const std::string& w : plan.warnings) {
    log::warning(w);
  }
  std::size_t usable = 0;
  for (const fetch::ZoneResult& z : zones) {
    usable += z.usable() ? 1 : 0;
  }
  if (usable == 0 || (plan.target.v4.empty() && plan.target.v6.empty())) {
    // An empty set would silently lift the block (or, allow-only, block
    // everyone): never the result of a download problem.
    throw Error("no networks for any configured country (every zone failed or is absent); nothing applied");
  }
  const bool partial = plan.failed + plan.stale > 0;

  // The live sets, when they can be read (root, ipset module present).
  const apply::ApplyOptions ao = apply_options(s, inv.run.force);
  std::optional<apply::LiveState> live;
  try {
    live = apply::read_live_state(ao, true);
    net::NetList members;
    members.v4 = live->v4.members.v4;
    members.v6 = live->v6.members.v6;
    compare_with_live(plan, members, live->v4.header.has_value(), live->v6.header.has_value());
  } catch (const Error& e) {
    if (!dry_run) {
      throw;
    }
    log::verbose(std::string("live sets not compared: ") + e.what());
  }

  if (dry_run) {
    // Show what apply would refuse, without refusing.
    if (live) {
      try {
        apply::check_ssh_lockout(plan.target, ao);
        if (live->v4.header) {
          apply::check_shrink(net::Family::V4, live->v4.header->entries, plan.target.v4.size(), ao);
        }
        if (live->v6.header) {
          apply::check_shrink(net::Family::V6, live->v6.header->entries, plan.target.v6.size(), ao);
        }
      } catch (const SafetyError& e) {
        plan.warnings.push_back(std::string("update would refuse: ") + e.what());
        log::warning(std::string("update would refuse: ") + e.what());
      }
    }
    if (inv.run.json) {
      print(report_json(plan, s, true, now).dump(2));
    } else {
      print(format_report(plan, s, true));
    }
    return partial ? ExitCode::Partial : ExitCode::Ok;
  }

  const bool rules_ok = live && rules_in_place(live->v4) && rules_in_place(live->v6);
  if (live && plan.live_readable && !plan.changes_live() && rules_ok
      && (!net::includes(s.families, net::Family::V4) || live->v4.header)
      && (!net::includes(s.families, net::Family::V6) || live->v6.header)) {
    if (plan.all_unchanged) {
      log::info("nothing changed: every zone is current and the live sets hold exactly this data");
      return ExitCode::Ok;
    }
    log::info("the live sets already hold exactly this data; nothing to apply");
  } else {
    const apply::ApplyReport report = apply::apply(plan.target, ao);
    for (const apply::FamilyReport* f : {&report.v4, &report.v6}) {
      if (f->enabled) {
        log::info(f->set + ": " + std::to_string(f->entries) + " entries ("
                  + (f->existed ? "was " + std::to_string(f->previous_entries) : std::string("new set")) + "), rules "
                  + f->rules);
      }
    }
  }
  util::Json state = report_json(plan, s, false, now);
  state.set("command", restore ? "restore" : "update");
  state.set("partial", partial);
  write_state(s, std::move(state));
  log::info(std::string(restore ? "restored" : "updated") + ": " + std::to_string(plan.target.v4.size())
            + " IPv4 and " + std::to_string(plan.target.v6.size()) + " IPv6 entries from "
            + std::to_string(s.countries.size()) + " countries"
            + (partial ? "; some zones were stale or failed (see warnings)" : ""));
  return partial ? ExitCode::Partial : ExitCode::Ok;
}

std::string age_text(std::int64_t days)
{
  return days < 0 ? std::string("unknown") : std::to_string(days) + " d";
}

ExitCode status(const Invocation& inv)
{
  const Settings s = validate(inv.config, false);
  const std::int64_t now = now_seconds();
  const apply::ApplyOptions ao = apply_options(s, false);
  util::Json doc = util::Json::object();
  std::string text;

  util::Json kernel = util::Json::object();
  try {
    const apply::LiveState live = apply::read_live_state(ao, false);
    for (const apply::LiveFamily* f : {&live.v4, &live.v6}) {
      if (!f->enabled) {
        continue;
      }
      util::Json j = util::Json::object();
      j.set("set", f->set);
      j.set("exists", f->header.has_value());
      if (f->header) {
        j.set("entries", f->header->entries);
        j.set("memory_bytes", f->header->memory);
        j.set("references", f->header->references);
        j.set("maxelem", f->header->maxelem);
        text += f->set + ": " + std::to_string(f->header->entries) + " entries, "
                + std::to_string(f->header->memory / 1024) + " KiB, " + std::to_string(f->header->references)
                + " references, maxelem " + std::to_string(f->header->maxelem) + "\n";
      } else {
        text += f->set + ": absent\n";
      }
      util::Json hooks = util::Json::array();
      for (const apply::HookState& h : f->hooks) {
        util::Json hj = util::Json::object();
        hj.set("chain", apply::to_string(h.hook));
        hj.set("rules", h.rules);
        hooks.push(std::move(hj));
        text += "  rule in " + apply::to_string(h.hook) + ": "
                + (h.rules == 1   ? std::string("present")
                   : h.rules == 0 ? std::string("MISSING")
                                  : std::to_string(h.rules) + " copies") + "\n";
      }
      if (!f->rules_known) {
        text += "  rules: unknown (iptables-save could not run)\n";
      }
      if (f->leftover_temp) {
        text += "  leftover " + f->set + "-new from an interrupted run (the next update removes it)\n";
      }
      j.set("rules_known", f->rules_known);
      j.set("rules", std::move(hooks));
      j.set("leftover_temp", f->leftover_temp);
      kernel.set(f == &live.v4 ? "v4" : "v6", std::move(j));
    }
    for (const std::string& w : live.warnings) {
      log::warning(w);
    }
    doc.set("kernel", std::move(kernel));
  } catch (const Error& e) {
    text += std::string("kernel: not readable: ") + e.what() + "\n";
    doc.set("kernel", util::Json());
    doc.set("kernel_error", e.what());
  }

  const std::string path = state_path(s);
  if (std::filesystem::exists(path)) {
    const util::Json state = util::Json::parse(util::read_file(path), path);
    const std::int64_t when = state.get("time").as_int();
    text += "last update: " + std::to_string((now - when) / 86400) + " d ago (" + state.get("command").as_string("update")
            + (state.get("partial").as_bool() ? ", partial" : "") + ")\n";
    for (const util::Json& c : state.get("countries").items()) {
      std::string line = "  " + c.get("country").as_string();
      for (const char* f : {"v4", "v6"}) {
        const util::Json& z = c.get(f);
        if (!z.is_null()) {
          line += std::string("  ") + f + " " + std::to_string(z.get("networks").as_int()) + " networks ("
                  + z.get("source").as_string() + ")";
        }
      }
      text += line + "\n";
    }
    doc.set("last_update", state);
  } else {
    text += "last update: none recorded (" + path + ")\n";
    doc.set("last_update", util::Json());
  }

  if (s.source_kind == Settings::SourceKind::Http) {
    util::Json cache = util::Json::array();
    std::size_t stale = 0;
    const auto entries = fetch::cache_status(s.raw.cache_dir, s.raw.stale_days, now);
    for (const fetch::CacheEntry& e : entries) {
      util::Json j = util::Json::object();
      j.set("country", e.meta.country);
      j.set("family", net::family_key(e.meta.family));
      j.set("networks", e.meta.networks);
      j.set("age_days", static_cast<long long>(e.age_days));
      j.set("fetched_days_ago", static_cast<long long>(e.fetched_days_ago));
      j.set("stale", e.stale);
      j.set("body_ok", e.body_ok);
      cache.push(std::move(j));
      if (e.stale || !e.body_ok) {
        ++stale;
        text += "  cache " + e.meta.country + " " + net::family_key(e.meta.family) + ": data "
                + age_text(e.age_days) + " old, fetched " + age_text(e.fetched_days_ago) + " ago"
                + (e.body_ok ? "" : ", BODY MISSING OR CORRUPT") + "\n";
      }
    }
    text += "cache: " + std::to_string(entries.size()) + " zones in " + s.raw.cache_dir + ", "
            + std::to_string(stale) + " stale (older than " + std::to_string(s.raw.stale_days) + " d) or damaged\n";
    doc.set("cache", std::move(cache));
  }
  print(inv.run.json ? doc.dump(2) : text);
  return ExitCode::Ok;
}

ExitCode remove_command(const Invocation& inv)
{
  const Settings s = validate(inv.config, false);
  if (geteuid() != 0) {
    throw UsageError("remove changes the firewall and needs root");
  }
  const apply::RemoveReport r = apply::remove(apply_options(s, false));
  log::info("removed " + std::to_string(r.rules_removed_v4) + " IPv4 and " + std::to_string(r.rules_removed_v6)
            + " IPv6 rules; sets removed: " + (r.set_removed_v4 ? "v4 " : "") + (r.set_removed_v6 ? "v6" : "")
            + (!r.set_removed_v4 && !r.set_removed_v6 ? "none" : ""));
  return ExitCode::Ok;
}

template <class A> const net::Prefix<A>* find_net(const std::vector<net::Prefix<A>>& nets, A addr)
{
  for (const auto& p : nets) {
    if (p.contains(addr)) {
      return &p;
    }
  }
  return nullptr;
}

template <class A>
std::string check_one(A addr, const std::vector<fetch::ZoneResult>& zones, const Settings& s)
{
  if (const auto* p = find_net(s.allow.template of<A>(), addr)) {
    return "allowed by the allowlist (" + net::to_string(*p) + ")";
  }
  if (!s.raw.block_local) {
    if (const auto* p = find_net(net::local_networks().template of<A>(), addr)) {
      return "allowed: local network " + net::to_string(*p) + " (never blocked unless block-local)";
    }
  }
  std::string hits;
  for (const fetch::ZoneResult& z : zones) {
    if (const auto* p = find_net(z.nets.template of<A>(), addr)) {
      hits += (hits.empty() ? "" : ", ") + z.country + " (" + net::to_string(*p) + ")";
    }
  }
  if (s.allow_only) {
    return hits.empty() ? "blocked: in none of the allowed countries (policy allow-only)"
                        : "allowed: listed country " + hits + " (policy allow-only)";
  }
  return hits.empty() ? "not blocked: in none of the listed countries" : "blocked by " + hits;
}

ExitCode check(const Invocation& inv)
{
  const Settings s = validate(inv.config, true);
  const std::vector<fetch::ZoneResult> zones = load_zones(s, true, s.raw.cache_dir);
  bool missing = false;
  for (const fetch::ZoneResult& z : zones) {
    if (z.origin == fetch::Origin::Failed) {
      log::warning(z.country + " " + net::family_name(z.family) + ": no cached data: " + z.error);
      missing = true;
    }
  }
  std::string out;
  for (const std::string& a : inv.run.addresses) {
    if (const auto v4 = net::parse_v4(a)) {
      out += a + ": " + check_one(*v4, zones, s) + "\n";
    } else if (const auto v6 = net::parse_v6(a)) {
      out += a + ": " + check_one(*v6, zones, s) + "\n";
    } else {
      throw UsageError("check: not an IPv4 or IPv6 address: '" + a + "'");
    }
  }
  print(out);
  return missing ? ExitCode::Partial : ExitCode::Ok;
}

ExitCode export_command(const Invocation& inv)
{
  const Settings s = validate(inv.config, true);
  source::BundleOptions o;
  o.zone = zone_options(s);
  const source::ExportSummary r =
    source::export_bundle(fetch::ZoneCache(s.raw.cache_dir), s.countries, s.families, inv.run.output, now_seconds(), o);
  log::info("exported " + std::to_string(r.zones) + " zones (" + std::to_string(r.absent) + " absent upstream, "
            + std::to_string(r.bytes) + " bytes) to " + inv.run.output);
  return ExitCode::Ok;
}

} // namespace

ExitCode run_configured(const Invocation& inv)
{
  switch (inv.command) {
  case Command::Update:
    return update(inv, false);
  case Command::Restore:
    return update(inv, true);
  case Command::Status:
    return status(inv);
  case Command::Remove:
    return remove_command(inv);
  case Command::Check:
    return check(inv);
  case Command::Export:
    return export_command(inv);
  default:
    throw UsageError("not a configured command");
  }
}

} // namespace geoblock::cli
