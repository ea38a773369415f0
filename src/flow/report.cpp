#include "flow/report.hpp"

#include "flow/stats.hpp"
#include "flow/target.hpp"

#include "fetch/blocklist_fetch.hpp"
#include "fetch/fetcher.hpp"
#include "fetch/shrink_guard.hpp"
#include "net/aggregate.hpp"
#include "net/local.hpp"
#include "util/clock.hpp"

#include <algorithm>
#include <cstdio>

namespace geoblock::flow {

namespace {

template <class A>
void
diff(const std::vector<net::Prefix<A>>& want, std::vector<net::Prefix<A>> live, std::size_t& added,
     std::size_t& removed)
{
  std::sort(live.begin(), live.end());
  std::vector<net::Prefix<A>> tmp;
  std::set_difference(want.begin(), want.end(), live.begin(), live.end(), std::back_inserter(tmp));
  added = tmp.size();
  tmp.clear();
  std::set_difference(live.begin(), live.end(), want.begin(), want.end(), std::back_inserter(tmp));
  removed = tmp.size();
}

std::string
origin_text(const ZoneRow& z)
{
  if (!z.present) {
    return "-";
  }
  std::string s = net::origin_name(z.origin);
  if (!z.source.empty() && z.origin != net::Origin::Failed) {
    s += " from " + z.source;
  }
  if (z.origin == net::Origin::StaleCache && z.age_days >= 0) {
    s += " (" + std::to_string(z.age_days) + " d old)";
  }
  return s;
}

std::string
pad(const std::string& s, std::size_t width, bool right)
{
  if (s.size() >= width) {
    return s;
  }
  const std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

util::Json
zone_json(const ZoneRow& z)
{
  if (!z.present) {
    return util::Json();
  }
  util::Json j = util::Json::object();
  j.set("source", net::origin_name(z.origin));
  j.set("fresh", net::is_fresh(z.origin));
  j.set("networks", z.networks);
  j.set("aggregated", z.aggregated);
  j.set("addresses", static_cast<double>(z.addresses));
  j.set("age_days", z.age_days >= 0 ? util::Json(static_cast<long long>(z.age_days)) : util::Json());
  j.set("error", z.error.empty() ? util::Json() : util::Json(z.error));
  j.set("served_by",
        z.source.empty() || z.origin == net::Origin::Failed ? util::Json() : util::Json(z.source));
  return j;
}

// A zone row's networks (as read), aggregated entries and addresses.
void
fill_counts(ZoneRow& row, const net::NetList& nets, net::Family family)
{
  if (family == net::Family::V4) {
    const auto merged = net::aggregate(nets.v4);
    row.networks = nets.v4.size();
    row.aggregated = merged.size();
    row.addresses = static_cast<long double>(net::address_count(merged));
  } else {
    const auto merged = net::aggregate(nets.v6);
    row.networks = nets.v6.size();
    row.aggregated = merged.size();
    row.addresses = static_cast<long double>(net::address_count(merged));
  }
}

// The blocklists' rows, warnings and counts; returns all their networks.
net::NetList
add_blocklists(Report& plan, const std::vector<net::BlocklistResult>& blocklists, const Settings& settings,
               std::int64_t now)
{
  net::NetList listed;
  for (const net::BlocklistResult& b : blocklists) {
    BlocklistRow row;
    row.name = b.name;
    row.location = b.location;
    const std::int64_t when = b.last_modified ? b.last_modified : b.fetched_at;
    for (const net::Family f : {net::Family::V4, net::Family::V6}) {
      ZoneRow& z = f == net::Family::V4 ? row.v4 : row.v6;
      z.present = net::includes(settings.families, f);
      z.origin = b.origin;
      z.error = b.error;
      z.age_days = fetch::age_days(when, now);
    }
    fill_counts(row.v4, b.nets, net::Family::V4);
    fill_counts(row.v6, b.nets, net::Family::V6);
    if (row.v4.present) {
      plan.networks_v4 += row.v4.networks;
      listed.v4.insert(listed.v4.end(), b.nets.v4.begin(), b.nets.v4.end());
    }
    if (row.v6.present) {
      plan.networks_v6 += row.v6.networks;
      listed.v6.insert(listed.v6.end(), b.nets.v6.begin(), b.nets.v6.end());
    }
    if (b.origin != net::Origin::NotModified) {
      plan.all_unchanged = false;
    }
    if (b.origin == net::Origin::Refused) {
      plan.refused.push_back(b.error);
    } else if (b.origin == net::Origin::Failed) {
      ++plan.failed;
      plan.warnings.push_back("blocklist " + b.name + ": no data: " + b.error);
    } else if (b.origin == net::Origin::StaleCache) {
      ++plan.stale;
      plan.warnings.push_back("blocklist " + b.name + ": using the last good cached copy: " + b.error);
    }
    if (!settings.raw.block_local && !settings.allow_only && net::touches_local(b.nets)) {
      plan.warnings.push_back("blocklist " + b.name +
                              ": the list contains private or local networks; they are not blocked");
    }
    plan.blocklists.push_back(std::move(row));
  }
  return listed;
}

// The ASes' networks, by what they do.
struct AsnNets {
  net::NetList blocked; // asn
  net::NetList allowed; // allow-asn
};

void
append(net::NetList& to, const net::NetList& from)
{
  to.v4.insert(to.v4.end(), from.v4.begin(), from.v4.end());
  to.v6.insert(to.v6.end(), from.v6.begin(), from.v6.end());
}

// The ASes' rows, warnings and counts; returns their networks (of the
// configured families).
AsnNets
add_asns(Report& plan, const std::vector<net::AsnResult>& asns, const Settings& settings, std::int64_t now)
{
  AsnNets out;
  for (const net::AsnResult& a : asns) {
    AsnRow row;
    row.number = a.number;
    row.name = a.name;
    row.allow = a.allow;
    row.location = a.location;
    row.guarded = !a.allow || settings.allow_only;
    const std::int64_t when = a.last_modified ? a.last_modified : a.fetched_at;
    net::NetList nets;
    for (const net::Family f : {net::Family::V4, net::Family::V6}) {
      ZoneRow& z = f == net::Family::V4 ? row.v4 : row.v6;
      z.present = net::includes(settings.families, f);
      z.origin = a.origin;
      z.error = a.error;
      z.age_days = fetch::age_days(when, now);
      if (z.present) {
        if (f == net::Family::V4) {
          nets.v4 = a.nets.v4;
        } else {
          nets.v6 = a.nets.v6;
        }
      }
    }
    fill_counts(row.v4, a.nets, net::Family::V4);
    fill_counts(row.v6, a.nets, net::Family::V6);
    // What adds to what the sets hold counts in the totals: a blocked AS,
    // and with allow-only an allowed one; an exemption does not.
    if (row.guarded) {
      plan.networks_v4 += nets.v4.size();
      plan.networks_v6 += nets.v6.size();
    }
    append(a.allow ? out.allowed : out.blocked, nets);
    if (a.origin != net::Origin::NotModified) {
      plan.all_unchanged = false;
    }
    const std::string what = (a.allow ? "allow-asn " : "asn ") + a.label();
    if (a.origin == net::Origin::Refused) {
      plan.refused.push_back(a.error);
    } else if (a.origin == net::Origin::Failed) {
      ++plan.failed;
      plan.warnings.push_back(what + ": no data, nothing of it is " + (a.allow ? "exempt" : "blocked") +
                              ": " + a.error);
    } else if (a.origin == net::Origin::StaleCache) {
      ++plan.stale;
      plan.warnings.push_back(what + ": using the last good cached copy: " + a.error);
    } else if (a.origin == net::Origin::Absent) {
      plan.warnings.push_back(what + ": " + a.error + (a.allow ? "" : "; nothing of it is blocked"));
    }
    if (!a.allow && !settings.raw.block_local && !settings.allow_only && net::touches_local(nets)) {
      plan.warnings.push_back(what + ": the AS holds private or local networks; they are not blocked");
    }
    plan.asns.push_back(std::move(row));
  }
  return out;
}

} // namespace

std::string
AsnRow::label() const
{
  return (allow ? "allow " : "") + net::asn_label(number, name);
}

namespace {

// The block by source (Report::sources): every source's networks of the
// configured families, made disjoint by precedence (action_rank, then
// lists, ASes, countries in configured order), with what is never blocked
// (the allowlist, local networks, allowed ASes) taken out first.
std::vector<SourceTarget>
by_source(const std::vector<net::ZoneResult>& zones, const std::vector<net::BlocklistResult>& blocklists,
          const std::vector<net::AsnResult>& asns, const Settings& settings)
{
  std::vector<SourceTarget> sources;
  const auto add = [&](std::string name, const net::NetList& nets) {
    SourceTarget t;
    t.source = std::move(name);
    t.nets = nets;
    sources.push_back(std::move(t));
  };
  for (const net::BlocklistResult& b : blocklists) {
    add("list:" + b.name, b.nets);
  }
  net::NetList exempt = never_blocked(settings);
  for (const net::AsnResult& a : asns) {
    if (a.allow) {
      append(exempt, a.nets);
    } else {
      add("as:" + std::to_string(a.number), a.nets);
    }
  }
  for (const std::string& country : settings.countries) {
    SourceTarget t;
    t.source = country;
    if (const auto it = settings.country_actions.find(country); it != settings.country_actions.end()) {
      t.action = it->second;
    }
    for (const net::ZoneResult& z : zones) {
      if (z.country == country) {
        append(t.nets, z.nets);
      }
    }
    sources.push_back(std::move(t));
  }
  std::stable_sort(sources.begin(), sources.end(), [](const SourceTarget& a, const SourceTarget& b) {
    return action_rank(a.action) < action_rank(b.action);
  });
  std::vector<std::vector<net::Prefix4>> v4 = {exempt.v4};
  std::vector<std::vector<net::Prefix6>> v6 = {exempt.v6};
  for (const SourceTarget& t : sources) {
    v4.push_back(net::includes(settings.families, net::Family::V4) ? t.nets.v4 : std::vector<net::Prefix4>{});
    v6.push_back(net::includes(settings.families, net::Family::V6) ? t.nets.v6 : std::vector<net::Prefix6>{});
  }
  v4 = net::partition(v4);
  v6 = net::partition(v6);
  std::vector<SourceTarget> out;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    SourceTarget t = std::move(sources[i]);
    t.nets.v4 = std::move(v4[i + 1]);
    t.nets.v6 = std::move(v6[i + 1]);
    out.push_back(std::move(t));
  }
  return out;
}

} // namespace

int
action_rank(const apply::SourceAction& action)
{
  switch (action.kind) {
  case apply::SourceAction::Kind::Drop:
    return 0;
  case apply::SourceAction::Kind::Reject:
    return 1;
  case apply::SourceAction::Kind::Limit:
    return 2;
  case apply::SourceAction::Kind::Count:
    return 3;
  }
  return 0;
}

Report
make_report(const std::vector<net::ZoneResult>& zones, const Settings& settings, std::int64_t now)
{
  return make_report(zones, {}, {}, settings, now);
}

Report
make_report(const std::vector<net::ZoneResult>& zones, const std::vector<net::BlocklistResult>& blocklists,
            const Settings& settings, std::int64_t now)
{
  return make_report(zones, blocklists, {}, settings, now);
}

Report
make_report(const std::vector<net::ZoneResult>& zones, const std::vector<net::BlocklistResult>& blocklists,
            const std::vector<net::AsnResult>& asns, const Settings& settings, std::int64_t now)
{
  Report plan;
  plan.all_unchanged = fetch::nothing_changed(zones);
  net::NetList all;
  net::NetList listed = add_blocklists(plan, blocklists, settings, now);
  const AsnNets as = add_asns(plan, asns, settings, now);
  append(listed, as.blocked);
  for (const std::string& country : settings.countries) {
    CountryRow row;
    row.country = country;
    plan.rows.push_back(row);
  }
  for (const net::ZoneResult& z : zones) {
    auto it = std::find_if(plan.rows.begin(), plan.rows.end(),
                           [&](const CountryRow& r) { return r.country == z.country; });
    if (it == plan.rows.end()) {
      plan.rows.push_back(CountryRow{z.country, {}, {}});
      it = plan.rows.end() - 1;
    }
    ZoneRow& row = z.family == net::Family::V4 ? it->v4 : it->v6;
    row.present = true;
    row.origin = z.origin;
    row.error = z.error;
    row.source = z.source;
    const std::int64_t when = z.last_modified ? z.last_modified : z.fetched_at;
    row.age_days = fetch::age_days(when, now);
    fill_counts(row, z.nets, z.family);
    if (z.family == net::Family::V4) {
      plan.networks_v4 += row.networks;
      all.v4.insert(all.v4.end(), z.nets.v4.begin(), z.nets.v4.end());
    } else {
      plan.networks_v6 += row.networks;
      all.v6.insert(all.v6.end(), z.nets.v6.begin(), z.nets.v6.end());
    }
    if (z.origin == net::Origin::Refused) {
      plan.refused.push_back(z.error);
    } else if (z.origin == net::Origin::Failed) {
      ++plan.failed;
      plan.warnings.push_back(z.country + " " + net::family_name(z.family) + ": no data: " + z.error);
    } else if (z.origin == net::Origin::StaleCache) {
      ++plan.stale;
      plan.warnings.push_back(z.country + " " + net::family_name(z.family) +
                              ": using the last good cached copy: " + z.error);
    }
    if (!settings.raw.block_local && !settings.allow_only && net::touches_local(z.nets)) {
      plan.warnings.push_back(z.country + " " + net::family_name(z.family) +
                              ": the zone contains private or local networks; they are not blocked");
    }
  }
  // A country absent upstream in every family it was asked for is not a
  // legitimate "no IPv6 space": something is wrong with the code or the
  // mirror.
  for (const CountryRow& r : plan.rows) {
    const bool any = r.v4.present || r.v6.present;
    const bool v4_absent = !r.v4.present || r.v4.origin == net::Origin::Absent;
    const bool v6_absent = !r.v6.present || r.v6.origin == net::Origin::Absent;
    if (any && v4_absent && v6_absent) {
      ++plan.failed;
      plan.warnings.push_back(r.country +
                              ": no zone upstream for any family (404 or empty); is the mirror complete?");
    }
  }
  if (settings.allow_only) {
    // The allowed ASes are let in like an allowed country; what the lists
    // and the blocked ASes name is not, whichever country it is in.
    append(all, as.allowed);
    plan.target.v4 = net::subtract(std::move(all.v4), listed.v4);
    plan.target.v6 = net::subtract(std::move(all.v6), listed.v6);
  } else {
    append(all, listed);
    net::NetList exempt = never_blocked(settings);
    append(exempt, as.allowed); // a country minus an allowed AS
    plan.target.v4 = net::subtract(std::move(all.v4), std::move(exempt.v4));
    plan.target.v6 = net::subtract(std::move(all.v6), std::move(exempt.v6));
  }
  if (!net::includes(settings.families, net::Family::V4)) {
    plan.target.v4.clear();
  }
  if (!net::includes(settings.families, net::Family::V6)) {
    plan.target.v6.clear();
  }
  if (!settings.allow_only) {
    plan.sources = by_source(zones, blocklists, asns, settings);
  }
  return plan;
}

namespace {

// An AS's record in a state document: in "asns" by number and action; in
// one written before that key existed, a blocked AS was the blocklist
// located "asn:NUMBER:FILES" and an allowed AS (allow-only) the country
// row "allow ASNUMBER NAME". Null when there is none.
const util::Json&
recorded_asn(const util::Json& last_state, const AsnRow& row)
{
  static const util::Json none;
  for (const util::Json& a : last_state.get("asns").items()) {
    if (a.get("as").as_uint(~std::uint64_t{0}) == row.number && a.get("action").as_string() == row.action()) {
      return a;
    }
  }
  const std::string number = std::to_string(row.number);
  if (!row.allow) {
    const std::string location = "asn:" + number + ":";
    for (const util::Json& l : last_state.get("blocklists").items()) {
      if (l.get("location").as_string().rfind(location, 0) == 0) {
        return l;
      }
    }
  } else {
    const std::string name = "allow AS" + number;
    for (const util::Json& c : last_state.get("countries").items()) {
      const std::string country = c.get("country").as_string();
      if (country == name || country.rfind(name + " ", 0) == 0) {
        return c;
      }
    }
  }
  return none;
}

// One zone row against its record in the last state document.
void
check_row(const std::string& subject, const ZoneRow& row, const util::Json& recorded, double max_shrink,
          std::int64_t applied_at, Report& plan)
{
  if (!row.present || row.origin == net::Origin::Refused || !recorded.is_object()) {
    return;
  }
  fetch::Shrink s;
  s.networks_before = static_cast<std::size_t>(recorded.get("networks").as_uint());
  s.addresses_before = recorded.get("addresses").as_double();
  s.networks_after = row.networks;
  s.addresses_after = row.addresses;
  if (fetch::beyond(s, max_shrink)) {
    plan.refused.push_back(fetch::describe_shrink(
        subject, s, max_shrink, "what the update of " + util::format_utc(applied_at) + " applied"));
  }
}

} // namespace

void
check_shrink_against(const util::Json& last_state, double max_shrink, Report& plan)
{
  if (!last_state.is_object()) {
    return;
  }
  const std::int64_t applied_at = last_state.get("time").as_int();
  for (const CountryRow& r : plan.rows) {
    for (const util::Json& c : last_state.get("countries").items()) {
      if (c.get("country").as_string() == r.country) {
        check_row(r.country + " IPv4", r.v4, c.get("v4"), max_shrink, applied_at, plan);
        check_row(r.country + " IPv6", r.v6, c.get("v6"), max_shrink, applied_at, plan);
      }
    }
  }
  for (const BlocklistRow& b : plan.blocklists) {
    if (!fetch::is_blocklist_url(b.location)) {
      continue; // the administrator's own file: shrinking it is a decision
    }
    for (const util::Json& l : last_state.get("blocklists").items()) {
      if (l.get("location").as_string() == b.location) {
        check_row("blocklist " + b.name + " IPv4", b.v4, l.get("v4"), max_shrink, applied_at, plan);
        check_row("blocklist " + b.name + " IPv6", b.v6, l.get("v6"), max_shrink, applied_at, plan);
      }
    }
  }
  // The ASes' data is upstream's: guarded like a URL list's, whichever
  // files it came from.
  for (const AsnRow& a : plan.asns) {
    if (!a.guarded) {
      continue;
    }
    const util::Json& recorded = recorded_asn(last_state, a);
    const std::string subject =
        std::string(a.allow ? "allow-asn " : "asn ") + net::asn_label(a.number, a.name);
    check_row(subject + " IPv4", a.v4, recorded.get("v4"), max_shrink, applied_at, plan);
    check_row(subject + " IPv6", a.v6, recorded.get("v6"), max_shrink, applied_at, plan);
  }
}

void
compare_with_live(Report& plan, const net::NetList& live, bool v4_exists, bool v6_exists)
{
  plan.live_readable = true;
  plan.live_v4 = live.v4.size();
  plan.live_v6 = live.v6.size();
  diff(plan.target.v4, live.v4, plan.added_v4, plan.removed_v4);
  diff(plan.target.v6, live.v6, plan.added_v6, plan.removed_v6);
  // A set that does not exist yet must be created even when empty.
  if (!v4_exists && !plan.target.v4.empty()) {
    plan.added_v4 = std::max<std::size_t>(plan.added_v4, 1);
  }
  if (!v6_exists && !plan.target.v6.empty()) {
    plan.added_v6 = std::max<std::size_t>(plan.added_v6, 1);
  }
}

std::string
format_report(const Report& plan, const Settings& settings, bool dry_run)
{
  std::string out;
  const bool v4 = net::includes(settings.families, net::Family::V4);
  const bool v6 = net::includes(settings.families, net::Family::V6);
  std::size_t width = 8; // the first column: country codes, and the blocklists' and ASes' names
  for (const BlocklistRow& b : plan.blocklists) {
    width = std::max(width, b.name.size() + 2);
  }
  for (const AsnRow& a : plan.asns) {
    width = std::max(width, a.label().size() + 2);
  }
  out += pad("COUNTRY", width, false);
  if (v4) {
    out += pad("IPv4", 9, true) + pad("AGGR", 9, true) + "  " + pad("IPv4 SOURCE", 24, false);
  }
  if (v6) {
    out += pad("IPv6", 9, true) + pad("AGGR", 9, true) + "  " + pad("IPv6 SOURCE", 24, false);
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  out += '\n';
  std::vector<CountryRow> rows = plan.rows;
  for (const BlocklistRow& b : plan.blocklists) {
    rows.push_back(CountryRow{b.name, b.v4, b.v6});
  }
  for (const AsnRow& a : plan.asns) {
    rows.push_back(CountryRow{a.label(), a.v4, a.v6});
  }
  for (const CountryRow& r : rows) {
    std::string line = pad(r.country, width, false);
    if (v4) {
      line += pad(std::to_string(r.v4.networks), 9, true) + pad(std::to_string(r.v4.aggregated), 9, true) +
              "  " + pad(origin_text(r.v4), 24, false);
    }
    if (v6) {
      line += pad(std::to_string(r.v6.networks), 9, true) + pad(std::to_string(r.v6.aggregated), 9, true) +
              "  " + pad(origin_text(r.v6), 24, false);
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line + '\n';
  }
  std::string total = pad("total", width, false);
  if (v4) {
    total += pad(std::to_string(plan.networks_v4), 9, true) +
             pad(std::to_string(plan.target.v4.size()), 9, true) + "  " + pad("", 24, false);
  }
  if (v6) {
    total +=
        pad(std::to_string(plan.networks_v6), 9, true) + pad(std::to_string(plan.target.v6.size()), 9, true);
  }
  while (!total.empty() && total.back() == ' ') {
    total.pop_back();
  }
  out += total + '\n';
  bool blocked_asns = false, allowed_asns = false;
  for (const AsnRow& a : plan.asns) {
    (a.allow ? allowed_asns : blocked_asns) = true;
  }
  // "a, b and c"
  const auto joined = [](std::vector<std::string> parts) {
    std::string text;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      text += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
    }
    return text;
  };
  std::vector<std::string> merged{"all countries"}, minus;
  if (settings.allow_only) {
    if (allowed_asns) {
      merged.push_back("allowed ASes");
    }
    if (!plan.blocklists.empty()) {
      minus.push_back("the blocklists");
    }
    if (blocked_asns) {
      minus.push_back("the blocked ASes");
    }
  } else {
    if (!plan.blocklists.empty()) {
      merged.push_back("blocklists");
    }
    if (blocked_asns) {
      merged.push_back("blocked ASes");
    }
    minus.push_back("the allowlist");
    if (allowed_asns) {
      minus.push_back("the allowed ASes");
    }
  }
  if (!settings.raw.block_local && !settings.allow_only) {
    minus.push_back("local networks");
  }
  out += "(total AGGR: " + joined(merged) + " merged" + (minus.empty() ? "" : ", minus " + joined(minus)) +
         ")\n";
  const std::string set = settings.raw.set_name;
  const char* verb = dry_run ? "would " : "";
  if (plan.live_readable) {
    if (v4) {
      out += set + "-v4: " + std::to_string(plan.target.v4.size()) + " entries; live " +
             std::to_string(plan.live_v4) + "; " + verb + "add " + std::to_string(plan.added_v4) + ", " +
             verb + "remove " + std::to_string(plan.removed_v4) + '\n';
    }
    if (v6) {
      out += set + "-v6: " + std::to_string(plan.target.v6.size()) + " entries; live " +
             std::to_string(plan.live_v6) + "; " + verb + "add " + std::to_string(plan.added_v6) + ", " +
             verb + "remove " + std::to_string(plan.removed_v6) + '\n';
    }
  } else {
    if (v4) {
      out += set + "-v4: " + std::to_string(plan.target.v4.size()) + " entries\n";
    }
    if (v6) {
      out += set + "-v6: " + std::to_string(plan.target.v6.size()) + " entries\n";
    }
    out += "live sets: not compared\n";
  }
  for (const std::string& r : plan.refused) {
    out += std::string(plan.force ? (dry_run ? "update --force would accept " : "accepted (--force): ")
                                  : (dry_run ? "update would refuse " : "refused: ")) +
           r + "\n";
  }
  if (!plan.backend.empty()) {
    out += "backend: " + plan.backend + " (" + plan.backend_reason + ")\n";
  }
  if (plan.live_readable) {
    if (plan.changes.empty()) {
      out += "live firewall: as configured; nothing to apply\n";
    } else {
      out += std::string("live firewall: ") + (dry_run ? "an update would change" : "changed") + ":\n";
      for (const std::string& c : plan.changes) {
        out += "  " + c + "\n";
      }
    }
  }
  return out;
}

util::Json
report_json(const Report& plan, const Settings& settings, bool dry_run, std::int64_t now)
{
  util::Json doc = util::Json::object();
  doc.set("dry_run", dry_run);
  doc.set("time", static_cast<long long>(now));
  doc.set("policy", settings.allow_only ? "allow-only" : "block");
  doc.set("set_name", settings.raw.set_name);
  util::Json countries = util::Json::array();
  for (const CountryRow& r : plan.rows) {
    util::Json c = util::Json::object();
    c.set("country", r.country);
    c.set("v4", zone_json(r.v4));
    c.set("v6", zone_json(r.v6));
    countries.push(std::move(c));
  }
  doc.set("countries", std::move(countries));
  util::Json lists = util::Json::array();
  for (const BlocklistRow& b : plan.blocklists) {
    util::Json l = util::Json::object();
    l.set("name", b.name);
    l.set("location", b.location);
    l.set("v4", zone_json(b.v4));
    l.set("v6", zone_json(b.v6));
    lists.push(std::move(l));
  }
  doc.set("blocklists", std::move(lists));
  util::Json asns = util::Json::array();
  for (const AsnRow& a : plan.asns) {
    util::Json j = util::Json::object();
    j.set("as", static_cast<unsigned long long>(a.number));
    j.set("name", a.name);
    j.set("location", a.location);
    j.set("action", a.action());
    j.set("v4", zone_json(a.v4));
    j.set("v6", zone_json(a.v6));
    asns.push(std::move(j));
  }
  doc.set("asns", std::move(asns));
  util::Json totals = util::Json::object();
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    if (!net::includes(settings.families, f)) {
      continue;
    }
    const bool is4 = f == net::Family::V4;
    util::Json t = util::Json::object();
    t.set("networks", is4 ? plan.networks_v4 : plan.networks_v6);
    t.set("entries", is4 ? plan.target.v4.size() : plan.target.v6.size());
    if (plan.live_readable) {
      t.set("live_entries", is4 ? plan.live_v4 : plan.live_v6);
      t.set("added", is4 ? plan.added_v4 : plan.added_v6);
      t.set("removed", is4 ? plan.removed_v4 : plan.removed_v6);
    }
    totals.set(net::family_key(f), std::move(t));
  }
  doc.set("totals", std::move(totals));
  if (!plan.backend.empty()) {
    doc.set("backend", plan.backend);
    doc.set("backend_reason", plan.backend_reason);
  }
  doc.set("live_compared", plan.live_readable);
  if (plan.live_readable) {
    util::Json changes = util::Json::array();
    for (const std::string& c : plan.changes) {
      changes.push(c);
    }
    doc.set("changes", std::move(changes));
  }
  util::Json warnings = util::Json::array();
  for (const std::string& w : plan.warnings) {
    warnings.push(w);
  }
  doc.set("warnings", std::move(warnings));
  util::Json refused = util::Json::array();
  for (const std::string& r : plan.refused) {
    refused.push(r);
  }
  doc.set("refused", std::move(refused));
  doc.set("failed_zones", plan.failed);
  doc.set("stale_zones", plan.stale);
  return doc;
}

std::string
format_metrics(const util::Json& state)
{
  std::string out;
  out += "# HELP geoblock_last_success_timestamp_seconds Time of the last successful update.\n";
  out += "# TYPE geoblock_last_success_timestamp_seconds gauge\n";
  out += "geoblock_last_success_timestamp_seconds " + std::to_string(state.get("time").as_int()) + "\n";
  out += "# HELP geoblock_set_entries Entries in the live set.\n# TYPE geoblock_set_entries gauge\n";
  for (const auto& [family, t] : state.get("totals").members()) {
    out +=
        "geoblock_set_entries{family=\"" + family + "\"} " + std::to_string(t.get("entries").as_int()) + "\n";
  }
  out += "# HELP geoblock_zone_networks Networks in a country's zone as read.\n# TYPE geoblock_zone_networks "
         "gauge\n";
  std::string ages = "# HELP geoblock_zone_age_days Age of a zone's data in days (-1: unknown).\n"
                     "# TYPE geoblock_zone_age_days gauge\n";
  std::string ok = "# HELP geoblock_zone_fresh 1 when the zone was fetched or confirmed in the last update.\n"
                   "# TYPE geoblock_zone_fresh gauge\n";
  for (const util::Json& c : state.get("countries").items()) {
    for (const char* family : {"v4", "v6"}) {
      const util::Json& z = c.get(family);
      if (z.is_null()) {
        continue;
      }
      const std::string labels =
          "{country=\"" + c.get("country").as_string() + "\",family=\"" + family + "\"}";
      out += "geoblock_zone_networks" + labels + " " + std::to_string(z.get("networks").as_int()) + "\n";
      ages += "geoblock_zone_age_days" + labels + " " + std::to_string(z.get("age_days").as_int(-1)) + "\n";
      ok += "geoblock_zone_fresh" + labels + " " + (z.get("fresh").as_bool() ? "1" : "0") + "\n";
    }
  }
  if (!state.get("blocklists").items().empty()) {
    out += "# HELP geoblock_blocklist_networks Networks in an extra blocklist as read.\n"
           "# TYPE geoblock_blocklist_networks gauge\n";
    std::string fresh =
        "# HELP geoblock_blocklist_fresh 1 when the list was fetched or confirmed in the last "
        "update.\n# TYPE geoblock_blocklist_fresh gauge\n";
    for (const util::Json& b : state.get("blocklists").items()) {
      const std::string name = label_value(b.get("name").as_string());
      for (const char* family : {"v4", "v6"}) {
        const util::Json& z = b.get(family);
        if (z.is_null()) {
          continue;
        }
        const std::string labels = "{list=\"" + name + "\",family=\"" + family + "\"}";
        out +=
            "geoblock_blocklist_networks" + labels + " " + std::to_string(z.get("networks").as_int()) + "\n";
        fresh += "geoblock_blocklist_fresh" + labels + " " + (z.get("fresh").as_bool() ? "1" : "0") + "\n";
      }
    }
    out += fresh;
  }
  if (!state.get("asns").items().empty()) {
    out += "# HELP geoblock_asn_networks Networks of an autonomous system (asn, allow-asn) as read.\n"
           "# TYPE geoblock_asn_networks gauge\n";
    std::string fresh =
        "# HELP geoblock_asn_fresh 1 when the AS's data was read or confirmed in the last update.\n"
        "# TYPE geoblock_asn_fresh gauge\n";
    for (const util::Json& a : state.get("asns").items()) {
      for (const char* family : {"v4", "v6"}) {
        const util::Json& z = a.get(family);
        if (z.is_null()) {
          continue;
        }
        const std::string labels = "{as=\"" + std::to_string(a.get("as").as_uint()) + "\",action=\"" +
                                   (a.get("action").as_string() == "allow" ? "allow" : "block") +
                                   "\",family=\"" + family + "\"}";
        out += "geoblock_asn_networks" + labels + " " + std::to_string(z.get("networks").as_int()) + "\n";
        fresh += "geoblock_asn_fresh" + labels + " " + (z.get("fresh").as_bool() ? "1" : "0") + "\n";
      }
    }
    out += fresh;
  }
  if (!state.get("in_sync").is_null()) {
    out += "# HELP geoblock_in_sync 1 when the live firewall equals the configuration.\n# TYPE "
           "geoblock_in_sync gauge\n";
    out += std::string("geoblock_in_sync ") + (state.get("in_sync").as_bool() ? "1" : "0") + "\n";
  }
  if (state.get("dropped").is_object()) {
    std::string packets =
        "# HELP geoblock_dropped_packets_total Packets dropped or rejected by geoblock's rules.\n"
        "# TYPE geoblock_dropped_packets_total counter\n";
    std::string bytes = "# HELP geoblock_dropped_bytes_total Bytes dropped or rejected by geoblock's rules.\n"
                        "# TYPE geoblock_dropped_bytes_total counter\n";
    for (const auto& [family, c] : state.get("dropped").members()) {
      packets += "geoblock_dropped_packets_total{family=\"" + family + "\"} " +
                 std::to_string(c.get("packets").as_int()) + "\n";
      bytes += "geoblock_dropped_bytes_total{family=\"" + family + "\"} " +
               std::to_string(c.get("bytes").as_int()) + "\n";
    }
    out += packets + bytes;
  }
  if (state.get("counters").is_array()) {
    out += counter_metrics(counters_from_json(state.get("counters")));
  }
  return out + ages + ok;
}

} // namespace geoblock::flow
