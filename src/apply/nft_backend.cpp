#include "apply/nft_backend.hpp"

#include "apply/nft_rule.hpp"
#include "apply/nft_text.hpp"
#include "apply/rules.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "net/zone.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"
#include "util/lock.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <map>
#include <optional>
#include <set>

namespace geoblock::apply {

namespace {

using nft::Expr;

constexpr std::uint32_t k_hook_prerouting = 0;
constexpr std::uint32_t k_hook_input = 1;
constexpr std::uint32_t k_hook_forward = 2;
constexpr std::uint32_t k_hook_output = 3;
constexpr std::uint32_t k_hook_ingress = 0;

// Elements in the order interval_elements() writes them: by key, an end
// before a start at the same key.
bool
element_less(const nft::Element& a, const nft::Element& b)
{
  return a.key != b.key ? a.key < b.key : a.interval_end > b.interval_end;
}

std::vector<nft::Element>
canonical(std::vector<nft::Element> elements)
{
  std::sort(elements.begin(), elements.end(), element_less);
  return elements;
}

struct HookSpec {
  nft::Family table_family = nft::Family::Inet;
  nft::BaseHook hook;
};

// Where a FirewallState chain goes; nullopt for a regular (own) chain.
std::optional<HookSpec>
hook_spec(const std::string& table, const std::string& chain)
{
  HookSpec s;
  if (table == "ingress") {
    s.table_family = nft::Family::Netdev;
    s.hook.hooknum = k_hook_ingress;
    s.hook.priority = 0;
    s.hook.device = chain;
    return s;
  }
  if (!is_builtin(chain)) {
    return std::nullopt;
  }
  if (chain == "PREROUTING" && table == "raw") {
    s.hook.hooknum = k_hook_prerouting;
    s.hook.priority = -300;
  } else if (chain == "PREROUTING" && table == "mangle") {
    s.hook.hooknum = k_hook_prerouting;
    s.hook.priority = -150;
  } else if (chain == "INPUT" && table == "filter") {
    s.hook.hooknum = k_hook_input;
  } else if (chain == "FORWARD" && table == "filter") {
    s.hook.hooknum = k_hook_forward;
  } else if (chain == "OUTPUT" && table == "filter") {
    s.hook.hooknum = k_hook_output;
  } else {
    throw ConfigError("nftables: no hook for " + table + ":" + chain);
  }
  return s;
}

// "raw-PREROUTING-v4" -> (V4, raw, PREROUTING).
bool
parse_chain_name(const std::string& name, net::Family& family, std::string& table, std::string& chain)
{
  if (name.size() < 5) {
    return false;
  }
  const std::string suffix = name.substr(name.size() - 3);
  if (suffix != "-v4" && suffix != "-v6") {
    return false;
  }
  family = suffix == "-v4" ? net::Family::V4 : net::Family::V6;
  const auto dash = name.find('-');
  if (dash == std::string::npos || dash + 3 >= name.size()) {
    return false;
  }
  table = name.substr(0, dash);
  chain = name.substr(dash + 1, name.size() - 3 - dash - 1);
  return (table == "raw" || table == "mangle" || table == "filter" || table == "ingress") && !chain.empty();
}

// The tables geoblock owns: inet and netdev tables named after the current
// and the previous set names.
std::vector<std::string>
bases_of(const ApplyOptions& options)
{
  std::vector<std::string> bases = {options.set_name};
  for (const auto& b : options.previous_set_names) {
    if (std::find(bases.begin(), bases.end(), b) == bases.end()) {
      bases.push_back(b);
    }
  }
  return bases;
}

struct LiveTable {
  nft::Table table;
  std::vector<nft::Set> sets;
  std::vector<nft::Chain> chains;
  std::vector<nft::Rule> rules;
};

// `committed`: after a transaction the kernel acknowledged, the members of
// the sets it wrote are taken from it instead of dumped again. Dumping an
// interval set costs O(n^2) in the kernel (each dump message walks its
// rbtree from the start): 0.5 s for the US, minutes for a million elements.
// Everything else (tables, set types, chains, hooks, rules, anonymous
// sets, sets nobody wrote) is read from the kernel.
using Committed = std::map<std::string, const std::vector<nft::Element>*>;

std::string set_key(nft::Family f, const std::string& table, const std::string& name);

std::vector<LiveTable>
read_tables(nft::Socket& sock, const ApplyOptions& options, const Committed* committed = nullptr)
{
  const auto bases = bases_of(options);
  std::vector<LiveTable> out;
  for (const auto& t : sock.tables()) {
    if ((t.family != nft::Family::Inet && t.family != nft::Family::Netdev) ||
        std::find(bases.begin(), bases.end(), t.name) == bases.end()) {
      continue;
    }
    LiveTable lt;
    lt.table = t;
    lt.sets = sock.sets(t, committed == nullptr);
    if (committed != nullptr) {
      for (auto& set : lt.sets) {
        const auto it = committed->find(set_key(t.family, t.name, set.name));
        if (it != committed->end() && !set.anonymous) {
          set.elements = *it->second;
        } else {
          set.elements = sock.elements(set);
        }
        set.elements_known = true;
      }
    }
    lt.chains = sock.chains(t);
    lt.rules = sock.rules(t);
    out.push_back(std::move(lt));
  }
  return out;
}

template <class A>
void
decode_into(const nft::Set& s, std::vector<net::Prefix<A>>& out)
{
  nft::decode_intervals(s.elements, out);
}

// A verdict map's parts (model chains) and members from its elements.
void
read_parts(const nft::Set& s, SetState& ss)
{
  const auto fill = [&](const auto& by_chain, auto& members, auto pick) {
    for (const auto& [nft_chain, nets] : by_chain) {
      MapPart part;
      net::Family family = net::Family::V4;
      if (!parse_chain_name(nft_chain, family, part.table, part.chain)) {
        part.table = "nft";
        part.chain = nft_chain; // not a chain of geoblock's naming: a difference, shown as such
      }
      pick(part.members) = nets;
      members.insert(members.end(), nets.begin(), nets.end());
      ss.parts.push_back(std::move(part));
    }
    std::sort(members.begin(), members.end());
  };
  if (s.key_type == nft::KeyType::Ipv4Addr) {
    nft::MapSources4 by_chain;
    nft::decode_map(s.elements, by_chain);
    fill(
        by_chain, ss.members.v4, [](net::NetList & n) -> auto& { return n.v4; });
  } else {
    nft::MapSources6 by_chain;
    nft::decode_map(s.elements, by_chain);
    fill(
        by_chain, ss.members.v6, [](net::NetList & n) -> auto& { return n.v6; });
  }
  std::sort(ss.parts.begin(), ss.parts.end(),
            [](const MapPart& a, const MapPart& b) { return a.chain < b.chain; });
}

// The FirewallState form of geoblock's live tables.
FirewallState
state_of(const std::vector<LiveTable>& tables, bool with_members, std::vector<std::string>& warnings)
{
  FirewallState st;
  std::vector<SetState> netdev_sets;
  // inet tables first: the netdev copies are compared with their sets.
  std::vector<const LiveTable*> ordered;
  for (const auto& lt : tables) {
    if (lt.table.family == nft::Family::Inet) {
      ordered.push_back(&lt);
    }
  }
  for (const auto& lt : tables) {
    if (lt.table.family != nft::Family::Inet) {
      ordered.push_back(&lt);
    }
  }
  for (const LiveTable* ltp : ordered) {
    const LiveTable& lt = *ltp;
    netdev_sets.clear();
    const bool netdev = lt.table.family == nft::Family::Netdev;
    std::map<std::string, const nft::Set*> anonymous;
    for (const auto& s : lt.sets) {
      if (s.anonymous) {
        anonymous[s.name] = &s;
        continue;
      }
      SetState ss;
      ss.name = s.name;
      const bool v6 = s.key_type == nft::KeyType::Ipv6Addr && s.key_len == 16;
      const bool v4 = s.key_type == nft::KeyType::Ipv4Addr && s.key_len == 4;
      ss.family = v6 ? net::Family::V6 : net::Family::V4;
      if ((v4 || v6) && s.interval && s.verdict_map) {
        ss.verdict_map = true;
        try {
          read_parts(s, ss);
        } catch (const RulesError& e) {
          warnings.push_back("map " + s.name + ": " + e.what());
        }
      } else if ((v4 || v6) && s.interval) {
        try {
          if (v4) {
            decode_into(s, ss.members.v4);
          } else {
            decode_into(s, ss.members.v6);
          }
        } catch (const RulesError& e) {
          warnings.push_back("set " + s.name + ": " + e.what());
        }
      } else {
        warnings.push_back("set " + s.name + " in " + nft::family_name(lt.table.family) + " " +
                           lt.table.name + " is not an interval set of addresses");
      }
      ss.entries = ss.members.v4.size() + ss.members.v6.size();
      ss.memory = s.elements.size() * (s.key_len + 32); // an estimate: the kernel does not report it
      ss.members_known = with_members;
      if (!with_members) {
        ss.members = {};
        ss.parts = {};
      }
      if (netdev) {
        // The ingress table holds its own copy of the set, which must equal
        // the inet one: checked below, against the chains that use it.
        netdev_sets.push_back(std::move(ss));
        continue;
      }
      st.sets.push_back(std::move(ss));
    }
    for (const auto& c : lt.chains) {
      ChainState cs;
      std::string table;
      std::string chain;
      net::Family family = net::Family::V4;
      if (!parse_chain_name(c.name, family, table, chain) || (netdev != (table == "ingress"))) {
        cs.family = net::Family::V4;
        cs.table = "nft " + lt.table.name;
        cs.chain = c.name;
        cs.own = true;
        cs.problems.push_back("not written by geoblock");
        st.chains.push_back(std::move(cs));
        continue;
      }
      cs.family = family;
      cs.table = table;
      cs.chain = chain;
      cs.own = !c.hook.has_value();
      for (const auto& copy : netdev_sets) {
        const SetState* main = st.set(copy.name);
        if (copy.family == family && (main == nullptr || main->members.v4 != copy.members.v4 ||
                                      main->members.v6 != copy.members.v6 || main->entries != copy.entries)) {
          cs.problems.push_back("set " + copy.name + " of the netdev table differs from the inet table's");
        }
      }
      if (c.hook) {
        std::optional<HookSpec> want;
        try {
          want = hook_spec(table, chain);
        } catch (const ConfigError&) {
          want.reset();
        }
        if (!want || *c.hook != want->hook) {
          cs.problems.push_back("hooked differently from geoblock's layout");
        }
      }
      const NftPlace place{family, lt.table.family, lt.table.name, table, c.name};
      std::size_t pos = 0;
      for (const auto& r : lt.rules) {
        if (r.chain != c.name) {
          continue;
        }
        cs.rules.push_back(read_rule(r, place, anonymous));
        cs.positions.push_back(pos++);
        cs.counters.push_back(Counters{r.packets, r.bytes});
      }
      st.chains.push_back(std::move(cs));
    }
  }
  return st;
}

// --- Baseline (docs/nftables.md, "Baseline") ---------------------------

// Tables a baseline never touches: geoblock's own (every set name, inet
// and netdev: the block must never be deleted, not even for a moment), and
// keep-chain semantics for tables: a table whose name, or the name of one
// of its chains, matches keep_chains (fail2ban's `inet f2b-table`; Docker's
// `ip nat` / `ip filter` holding DOCKER chains).
bool
spared_table(nft::Socket& sock, const nft::Table& t, const ApplyOptions& options)
{
  const auto bases = bases_of(options);
  if ((t.family == nft::Family::Inet || t.family == nft::Family::Netdev) &&
      std::find(bases.begin(), bases.end(), t.name) != bases.end()) {
    return true;
  }
  if (matches_any(t.name, options.keep_chains)) {
    return true;
  }
  try {
    for (const auto& c : sock.chains(t)) {
      if (matches_any(c.name, options.keep_chains)) {
        return true;
      }
    }
  } catch (const Error&) {
    // The table does not exist (a declared one not loaded yet): not kept.
  }
  return false;
}

// The baseline file's text; ConfigError naming the file when it cannot be
// used (unreadable, or it declares geoblock's own table).
std::string
read_baseline(const ApplyOptions& options)
{
  std::string text;
  try {
    text = util::read_file(options.baseline);
  } catch (const Error& e) {
    throw ConfigError("baseline " + options.baseline + ": " + e.what());
  }
  // Refuses what a flush could not be confined in, before anything runs.
  nft::rewrite_flush_ruleset(
      text, {}, [](const nft::Table&) { return true; }, "baseline " + options.baseline);
  const auto bases = bases_of(options);
  for (const auto& t : nft::declared_tables(text)) {
    if ((t.family == nft::Family::Inet || t.family == nft::Family::Netdev) &&
        std::find(bases.begin(), bases.end(), t.name) != bases.end()) {
      throw ConfigError("baseline " + options.baseline + ": declares geoblock's own table " +
                        nft::family_name(t.family) + " " + t.name + "; choose another name");
    }
  }
  return text;
}

// What the baseline manages, as the kernel has it now: the stateless
// listing of every table it declares (kept tables excepted: their
// contents change by design). Equal digests mean nobody changed it.
std::string
baseline_digest_of(const std::string& baseline_text, const ApplyOptions& options)
{
  nft::Socket sock;
  std::string managed;
  for (const auto& t : nft::declared_tables(baseline_text)) {
    if (spared_table(sock, t, options)) {
      continue;
    }
    const std::string listing = nft::list_table(t);
    managed +=
        "# " + nft::family_name(t.family) + " " + t.name + "\n" + (listing.empty() ? "absent\n" : listing);
  }
  return util::sha256_hex(managed);
}

template <class P>
void
append_networks(std::string& out, const std::string& verb, const std::string& target,
                const std::vector<P>& nets)
{
  // Statements of at most 1024 networks: nft's parser handles them
  // without a single huge line.
  for (std::size_t i = 0; i < nets.size(); i += 1024) {
    out += verb + " element " + target + " { ";
    for (std::size_t k = i; k < std::min(nets.size(), i + 1024); ++k) {
      out += (k == i ? "" : ", ") + net::address_to_string(nets[k].addr) + "/" + std::to_string(nets[k].len);
    }
    out += " }\n";
  }
}

// What the desired state looks like as nft objects.
struct NftObjects {
  std::vector<nft::Table> tables;
  std::vector<nft::Set> sets;
  std::vector<nft::Chain> chains;
  std::vector<std::vector<nft::Rule>> rules; // per chain
};

NftObjects
objects_of(const FirewallState& desired, const ApplyOptions& options)
{
  NftObjects p;
  const std::string& name = options.set_name;
  bool need_netdev = false;
  for (const auto& c : desired.chains) {
    need_netdev = need_netdev || c.table == "ingress";
  }
  p.tables.push_back({nft::Family::Inet, name});
  if (need_netdev) {
    p.tables.push_back({nft::Family::Netdev, name});
  }
  for (const auto& t : p.tables) {
    for (const auto& s : desired.sets) {
      nft::Set ns;
      ns.family = t.family;
      ns.table = name;
      ns.name = s.name;
      ns.key_type = s.family == net::Family::V4 ? nft::KeyType::Ipv4Addr : nft::KeyType::Ipv6Addr;
      ns.key_len = s.family == net::Family::V4 ? 4 : 16;
      if (s.verdict_map) {
        ns.verdict_map = true;
        nft::MapSources4 m4;
        nft::MapSources6 m6;
        for (const MapPart& part : s.parts) {
          const std::string target = nft_chain_name(s.family, part.table, part.chain);
          if (s.family == net::Family::V4) {
            m4.emplace_back(target, part.members.v4);
          } else {
            m6.emplace_back(target, part.members.v6);
          }
        }
        ns.elements = s.family == net::Family::V4 ? nft::map_elements(m4) : nft::map_elements(m6);
      } else {
        ns.elements = s.family == net::Family::V4 ? nft::interval_elements(s.members.v4)
                                                  : nft::interval_elements(s.members.v6);
      }
      p.sets.push_back(std::move(ns));
    }
  }
  for (const auto& c : desired.chains) {
    nft::Chain nc;
    const auto spec = c.own ? std::nullopt : hook_spec(c.table, c.chain);
    nc.family = c.table == "ingress" ? nft::Family::Netdev : nft::Family::Inet;
    nc.table = name;
    nc.name = nft_chain_name(c.family, c.table, c.chain);
    if (spec) {
      nc.hook = spec->hook;
    }
    std::vector<nft::Rule> rules;
    const NftPlace place{c.family, nc.family, name, c.table, nc.name};
    for (const auto& r : c.rules) {
      rules.push_back(render_rule(r, place));
    }
    p.chains.push_back(std::move(nc));
    p.rules.push_back(std::move(rules));
  }
  return p;
}

std::string
set_key(nft::Family f, const std::string& table, const std::string& name)
{
  return nft::family_name(f) + " " + table + " " + name;
}

// The nft statements that make the live set hold `want`: flush set, then
// add element of every network (packets see the old members or the new:
// one transaction). Not a delta: measured with 131,072 + 40,000 live
// networks, nft took 115 s to delete and add 300 networks of an interval
// set, against 3.4 s to flush and refill both sets.
template <class P>
void
append_set_update(std::string& out, const std::string& target, const std::vector<P>& want)
{
  out += "flush set " + target + "\n";
  append_networks(out, "add", target, want);
}

// The baseline's transaction: its text with `flush ruleset` turned into
// deletes of the tables it may delete, then geoblock's sets whose members
// differ (flush set + add element: packets see the old members or the new,
// never an empty set), all in one libnftables transaction. geoblock's
// table is never deleted or re-created, and sets that do not exist yet are
// left to the libnftnl transaction that follows. Returns the set_key()s of
// the sets it refilled.
std::set<std::string>
commit_baseline(nft::Socket& sock, const ApplyOptions& options, const std::string& baseline_text,
                const NftObjects& plan, const FirewallState& desired,
                const std::vector<LiveTable>& live_tables)
{
  std::string text = nft::rewrite_flush_ruleset(
      baseline_text, sock.tables(), [&](const nft::Table& t) { return spared_table(sock, t, options); },
      "baseline " + options.baseline);
  const auto baseline_lines = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  std::map<std::string, const nft::Set*> live_sets;
  for (const auto& lt : live_tables) {
    for (const auto& s : lt.sets) {
      live_sets[set_key(lt.table.family, lt.table.name, s.name)] = &s;
    }
  }
  std::set<std::string> refilled;
  for (const auto& s : plan.sets) {
    const auto it = live_sets.find(set_key(s.family, s.table, s.name));
    const SetState* want = desired.set(s.name);
    if (it == live_sets.end() || want == nullptr || canonical(it->second->elements) == s.elements) {
      continue;
    }
    refilled.insert(set_key(s.family, s.table, s.name));
    const std::string target = nft::family_name(s.family) + " " + s.table + " " + s.name;
    if (s.key_type == nft::KeyType::Ipv4Addr) {
      append_set_update(text, target, want->members.v4);
    } else {
      append_set_update(text, target, want->members.v6);
    }
  }
  const std::string& file = options.baseline;
  const auto slash = file.rfind('/');
  const std::string dir = slash == std::string::npos ? std::string(".")
                          : slash == 0               ? "/"
                                                     : file.substr(0, slash);
  nft::run_text(text, dir, [&](int line) {
    if (line < 1) {
      return "baseline " + file; // no location
    }
    if (line <= baseline_lines) {
      return "baseline " + file + ":" + std::to_string(line);
    }
    return "baseline " + file + " (geoblock's set update after it, line " + std::to_string(line) + ")";
  });
  return refilled;
}

// Whether the plan changes the chain (family, table, chain) of the model.
bool
planned(const Plan& plan, net::Family family, const std::string& table, const std::string& chain)
{
  return std::any_of(plan.chains.begin(), plan.chains.end(), [&](const ChainChange& c) {
    return c.desired.family == family && c.desired.table == table && c.desired.chain == chain;
  });
}

class NftablesBackend final : public Backend {
public:
  const char* name() const override { return "nftables"; }

  Capabilities capabilities() const override
  {
    Capabilities c;
    c.ingress = true;
    c.verdict_maps = true;
    return c;
  }

  LiveState read(const ApplyOptions& options, bool with_members) override
  {
    nft::Socket sock;
    LiveState live;
    auto tables = read_tables(sock, options);
    live.state = state_of(tables, with_members, live.warnings);
    // An apply reads with members, then executes under the same lock: the
    // elements it read are what execute() starts from (dumping a large
    // interval set again would cost seconds).
    m_read.reset();
    if (with_members) {
      m_read = std::move(tables);
    }
    if (!options.baseline.empty()) {
      // One file covers both families: its digest is kept under IPv4's
      // index, where the commands look for the `baseline` file's.
      try {
        live.state.baseline_digest[net::family_index(net::Family::V4)] =
            baseline_digest_of(read_baseline(options), options);
      } catch (const Error& e) {
        live.warnings.push_back(e.what());
      }
    }
    return live;
  }

  void check(const Plan&, const FirewallState&, const LiveState&, const ApplyOptions& options) override
  {
    if (!options.baseline.empty()) {
      read_baseline(options); // ConfigError naming the file, before anything runs
    }
    if (!options.baseline6.empty()) {
      // One nft file covers both families (docs/nftables.md, "Baseline").
      log::warning("baseline6 " + options.baseline6 +
                   " is not used by the nftables backend: `baseline` names one nft file for both families");
    }
  }

  FirewallState execute(const Plan& changes, const FirewallState& desired, const LiveState& before_state,
                        const ApplyOptions& options, ApplyReport& report) override
  {
    const std::string baseline_text = options.baseline.empty() ? std::string() : read_baseline(options);
    const NftObjects plan = objects_of(desired, options);
    nft::Socket sock;
    std::vector<LiveTable> live_tables = m_read ? std::move(*m_read) : read_tables(sock, options);
    m_read.reset();
    FirewallState before = before_state.state;
    if (!options.baseline.empty()) {
      const std::set<std::string> refilled =
          commit_baseline(sock, options, baseline_text, plan, desired, live_tables);
      report_stage(options, "baseline");
      for (FamilyReport* r : {&report.v4, &report.v6}) {
        r->baseline_restored = r->enabled;
      }
      // What the libnftnl transaction below converges from: geoblock's
      // tables as they are now (libnftables may have encoded elements
      // differently; rules and new sets are still to come). Only the sets it
      // refilled are dumped again: dumping an interval set costs seconds
      // when world-sized, and the others are as just read.
      Committed unchanged;
      for (const auto& lt : live_tables) {
        for (const auto& s : lt.sets) {
          const std::string key = set_key(lt.table.family, lt.table.name, s.name);
          if (!s.anonymous && !refilled.count(key)) {
            unchanged[key] = &s.elements;
          }
        }
      }
      auto now = read_tables(sock, options, &unchanged);
      live_tables = std::move(now);
      std::vector<std::string> again;
      before = state_of(live_tables, true, again);
    }

    nft::Batch batch;
    // Live objects by name.
    std::map<std::string, const nft::Set*> live_sets;
    std::map<std::string, const nft::Chain*> live_chains;
    std::map<std::string, std::vector<const nft::Rule*>> live_rules;
    std::set<std::string> live_table_keys;
    for (const auto& lt : live_tables) {
      live_table_keys.insert(nft::family_name(lt.table.family) + " " + lt.table.name);
      for (const auto& s : lt.sets) {
        live_sets[set_key(lt.table.family, lt.table.name, s.name)] = &s;
      }
      for (const auto& c : lt.chains) {
        live_chains[set_key(lt.table.family, lt.table.name, c.name)] = &c;
      }
      for (const auto& r : lt.rules) {
        live_rules[set_key(lt.table.family, lt.table.name, r.chain)].push_back(&r);
      }
    }
    std::set<std::string> wanted_tables;
    for (const auto& t : plan.tables) {
      wanted_tables.insert(nft::family_name(t.family) + " " + t.name);
      if (!live_table_keys.count(nft::family_name(t.family) + " " + t.name)) {
        batch.add_table(t); // an existing table is never touched (no empty transaction either)
      }
    }
    // Sets: created with their elements, or flushed and refilled when their
    // members differ; untouched when equal. A verdict map's elements jump
    // to chains, so they are written after the chains are (map_ops); a set
    // that must become a map or the other way round is deleted once the
    // rules using it are flushed, and created again (replaced).
    struct MapOp {
      const nft::Set* set;
      nft::IntervalDelta delta;
    };
    std::vector<MapOp> map_ops;
    std::vector<std::pair<const nft::Set*, const nft::Set*>> replaced; // live, desired
    const auto empty_copy = [](const nft::Set& s) {
      nft::Set e = s;
      e.elements.clear();
      return e;
    };
    for (const auto& s : plan.sets) {
      const auto it = live_sets.find(set_key(s.family, s.table, s.name));
      if (it == live_sets.end()) {
        if (s.verdict_map) {
          batch.add_set(empty_copy(s));
          map_ops.push_back({&s, nft::interval_delta({}, s.elements)});
        } else {
          batch.add_set(s);
        }
        continue;
      }
      const nft::Set& have = *it->second;
      if (have.key_type != s.key_type || have.key_len != s.key_len || !have.interval) {
        throw RulesError("nftables: set " + s.name + " in " + nft::family_name(s.family) + " " + s.table +
                         " exists with another type; run `geoblock remove` or choose another set name");
      }
      if (have.verdict_map != s.verdict_map) {
        replaced.emplace_back(&have, &s);
        continue;
      }
      // Whole intervals deleted, then whole intervals added, or the set
      // flushed and refilled (nft::interval_delta says which and why), all
      // in the same transaction: packets see the old set or the new.
      nft::IntervalDelta delta = nft::interval_delta(have.elements, s.elements);
      if (s.verdict_map) {
        map_ops.push_back({&s, std::move(delta)});
        continue;
      }
      if (delta.replace) {
        batch.flush_set(s);
      } else if (!delta.remove.empty()) {
        batch.delete_elements(s, delta.remove);
      }
      if (!delta.add.empty()) {
        batch.add_elements(s, delta.add);
      }
    }
    // Chains: a chain whose rules differ is flushed and refilled in the
    // same transaction; one no longer wanted is flushed first (so no jump
    // names it) and deleted after the new rules are in.
    std::set<std::string> wanted_chains;
    std::vector<std::size_t> rewrite;
    for (std::size_t i = 0; i < plan.chains.size(); ++i) {
      const auto& c = plan.chains[i];
      const std::string key = set_key(c.family, c.table, c.name);
      wanted_chains.insert(key);
      const auto it = live_chains.find(key);
      if (it == live_chains.end()) {
        rewrite.push_back(i);
        continue;
      }
      // The typed plan says which chains change (their rules, or their
      // hook: a problem of the live chain); a baseline's refill may have
      // re-read them (`before`), so the comparison is made again here.
      net::Family fam;
      std::string t;
      std::string ch;
      const bool changing = !parse_chain_name(c.name, fam, t, ch) || planned(changes, fam, t, ch) ||
                            planned(diff(desired, before), fam, t, ch);
      const bool same = !changing && it->second->hook == c.hook;
      if (!same) {
        if (it->second->hook != c.hook) {
          batch.flush_chain(*it->second);
          batch.delete_chain(*it->second);
        } else {
          batch.flush_chain(c);
        }
        rewrite.push_back(i);
      }
    }
    std::vector<const nft::Chain*> doomed;
    for (const auto& lt : live_tables) {
      if (!wanted_tables.count(nft::family_name(lt.table.family) + " " + lt.table.name)) {
        continue; // the whole table goes below
      }
      for (const auto& c : lt.chains) {
        if (!wanted_chains.count(set_key(lt.table.family, lt.table.name, c.name))) {
          batch.flush_chain(c);
          doomed.push_back(&c);
        }
      }
    }
    // The rules that used a replaced set are flushed by now (their rules
    // change with it): the set is deleted and created as it must be.
    for (const auto& [have, want] : replaced) {
      batch.delete_set(*have);
      if (want->verdict_map) {
        batch.add_set(empty_copy(*want));
        map_ops.push_back({want, nft::interval_delta({}, want->elements)});
      } else {
        batch.add_set(*want);
      }
    }
    // Own (regular) chains before the base chains that jump to them.
    for (const bool base : {false, true}) {
      for (const std::size_t i : rewrite) {
        const auto& c = plan.chains[i];
        if (c.hook.has_value() != base) {
          continue;
        }
        const bool exists = live_chains.count(set_key(c.family, c.table, c.name)) &&
                            live_chains[set_key(c.family, c.table, c.name)]->hook == c.hook;
        if (!exists) {
          batch.add_chain(c);
        }
      }
    }
    // The maps' elements, now that every chain they jump to exists (and
    // before the chains no longer wanted go, so no element names one).
    for (const MapOp& op : map_ops) {
      if (op.delta.replace) {
        batch.flush_set(*op.set);
      } else if (!op.delta.remove.empty()) {
        batch.delete_elements(*op.set, op.delta.remove);
      }
      if (!op.delta.add.empty()) {
        batch.add_elements(*op.set, op.delta.add);
      }
    }
    for (const bool base : {false, true}) {
      for (const std::size_t i : rewrite) {
        if (plan.chains[i].hook.has_value() != base) {
          continue;
        }
        for (const auto& r : plan.rules[i]) {
          batch.add_rule(r);
        }
      }
    }
    // Sets no longer wanted before the chains no longer wanted: a map's
    // elements hold the chains they jump to (the rules that used the sets
    // were flushed above).
    std::set<std::string> wanted_sets;
    for (const auto& s : plan.sets) {
      wanted_sets.insert(set_key(s.family, s.table, s.name));
    }
    for (const auto& lt : live_tables) {
      if (!wanted_tables.count(nft::family_name(lt.table.family) + " " + lt.table.name)) {
        batch.delete_table(lt.table);
        continue;
      }
      for (const auto& s : lt.sets) {
        if (!s.anonymous && !wanted_sets.count(set_key(lt.table.family, lt.table.name, s.name))) {
          batch.delete_set(s);
        }
      }
    }
    for (const auto* c : doomed) {
      batch.delete_chain(*c);
    }
    sock.commit(batch);
    report_stage(options, "committed");

    Committed committed;
    for (const auto& set : plan.sets) {
      committed[set_key(set.family, set.table, set.name)] = &set.elements;
    }
    std::vector<std::string> warnings;
    FirewallState after = state_of(read_tables(sock, options, &committed), true, warnings);
    if (!options.baseline.empty()) {
      after.baseline_digest[net::family_index(net::Family::V4)] = baseline_digest_of(baseline_text, options);
    }
    return after;
  }

  RemoveReport remove_all(const ApplyOptions& options) override
  {
    nft::Socket sock;
    const auto tables = read_tables(sock, options);
    RemoveReport report;
    nft::Batch batch;
    for (const auto& lt : tables) {
      for (const auto& r : lt.rules) {
        net::Family f = net::Family::V4;
        std::string t;
        std::string c;
        parse_chain_name(r.chain, f, t, c);
        (f == net::Family::V4 ? report.rules_removed_v4 : report.rules_removed_v6) += 1;
      }
      for (const auto& s : lt.sets) {
        if (!s.anonymous && lt.table.family == nft::Family::Inet) {
          report.sets_removed.push_back(s.name);
        }
      }
      batch.delete_table(lt.table);
    }
    sock.commit(batch);
    return report;
  }

private:
  std::optional<std::vector<LiveTable>> m_read; // the live tables read() read last, with members
};

} // namespace

NftProbe
probe_nftables()
{
  NftProbe p;
  try {
    nft::Socket sock;
    for (const auto& t : sock.tables()) {
      p.tables.push_back(nft::family_name(t.family) + " " + t.name);
    }
    p.usable = true;
  } catch (const Error& e) {
    p.error = e.what();
  }
  return p;
}

std::unique_ptr<Backend>
make_nftables_backend()
{
  return std::make_unique<NftablesBackend>();
}

} // namespace geoblock::apply
