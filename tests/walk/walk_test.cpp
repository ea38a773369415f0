// The proof that the firewall always equals the configuration: a random,
// seeded walk through configurations (every key that shapes rules, both
// backends, switching between them), data changes and what happens on real
// hosts (a reboot's restore, remove, a run killed at any moment, a rule or
// set changed by hand), checked after every step by real packets against
// the documented model (model.hpp), by `status`, and by looking for
// anything geoblock left behind.
//
// Each walk runs the real binary as root in a network namespace of its own,
// with a client namespace on a veth pair and a file:// mirror.
//
//   GEOBLOCK_WALK_SEED=N   replays the walk of seed N (printed by every run)
//   GEOBLOCK_WALK_STEPS=N  walks N steps (default 40) per starting backend
#include "support/geoblock_binary.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"
#include "walk/model.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <utime.h>

namespace geoblock::test {
namespace {

using walk::Config;
using walk::Fate;

std::uint64_t
env_number(const char* name, std::uint64_t fallback)
{
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// The link: the host (this namespace) on gbh, the clients on gbc.
const std::vector<std::string> k_host_addresses = {"198.51.100.1/24", "203.0.113.1/24", "2001:db8::1/32"};
const std::vector<std::string> k_clients = {
    "198.51.100.10", "198.51.100.70",  "198.51.100.140", "198.51.100.200", "203.0.113.10",
    "203.0.113.200", "2001:db8:1::10", "2001:db8:2::10", "2001:db8:3::10", "2001:db8:4::10"};
const std::vector<int> k_host_ports = {22, 80, 8080};
constexpr int k_client_port = 8080;

std::string
host_address_for(const std::string& client)
{
  if (client.find(':') != std::string::npos) {
    return "2001:db8::1";
  }
  return client.rfind("203.0.113.", 0) == 0 ? "203.0.113.1" : "198.51.100.1";
}

const std::vector<std::string> k_countries = {"nz", "au", "fr", "de", "jp"};

// The networks zones draw the clients' part from: overlapping, nested,
// adjacent, single addresses.
const std::vector<std::string> k_pool = {
    "198.51.100.0/26",   "198.51.100.64/26",   "198.51.100.128/26", "198.51.100.192/26", "198.51.100.0/25",
    "198.51.100.128/25", "198.51.100.0/24",    "198.51.100.8/29",   "198.51.100.70/32",  "198.51.100.64/30",
    "203.0.113.0/25",    "203.0.113.128/25",   "203.0.113.0/24",    "203.0.113.200/31",  "2001:db8:1::/48",
    "2001:db8:2::/48",   "2001:db8:3::/48",    "2001:db8:4::/48",   "2001:db8::/46",     "2001:db8:2::/47",
    "2001:db8:4::/46",   "2001:db8:1::10/128", "2001:db8:3::/64"};
const std::vector<std::string> k_allow_pool = {"198.51.100.64/27", "203.0.113.0/26",     "198.51.100.140/32",
                                               "2001:db8:3::/48",  "2001:db8:1::10/128", "198.51.100.0/24"};
const std::vector<walk::PortRange> k_port_pool = {{"tcp", 22, 22},     {"tcp", 80, 80}, {"tcp", 8080, 8080},
                                                  {"udp", 53, 53},     {"tcp", 20, 23}, {"tcp", 79, 81},
                                                  {"tcp", 8000, 8100}, {"sctp", 80, 80}};

template <class T>
const T&
pick(std::mt19937_64& rng, const std::vector<T>& v)
{
  return v[rng() % v.size()];
}

bool
chance(std::mt19937_64& rng, int percent)
{
  return static_cast<int>(rng() % 100) < percent;
}

template <class T>
std::vector<T>
some(std::mt19937_64& rng, const std::vector<T>& pool, std::size_t at_least, std::size_t at_most)
{
  std::vector<T> shuffled = pool;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  const std::size_t n = at_least + rng() % (at_most - at_least + 1);
  shuffled.resize(std::min(n, shuffled.size()));
  return shuffled;
}

// A valid configuration drawn over every key that shapes rules.
Config
random_config(std::mt19937_64& rng, const std::string& backend)
{
  Config c;
  c.backend = backend;
  c.countries = some(rng, k_countries, 1, 3);
  c.family = chance(rng, 60) ? "both" : chance(rng, 50) ? "v4" : "v6";
  c.policy = chance(rng, 70) ? "block" : "allow-only";
  c.allow = some(rng, k_allow_pool, 0, 2);
  const int ports = static_cast<int>(rng() % 10);
  if (ports < 2) {
    c.ports = some(rng, k_port_pool, 1, 3);
  } else if (ports < 4) {
    c.except_ports = some(rng, k_port_pool, 1, 3);
  }
  if (c.policy == "block" && chance(rng, 25)) {
    c.match = "new";
  }
  std::vector<std::string> chains = {"mangle:PREROUTING", "INPUT", "FORWARD"};
  if (c.policy == "block" && c.match == "all") {
    chains.push_back("raw:PREROUTING");
    if (backend == "nftables") {
      chains.push_back("ingress:gbh");
      chains.push_back("ingress:gbidle");
    }
  }
  if (chance(rng, 60)) {
    c.chains = some(rng, chains, 1, 2);
  }
  c.direction = chance(rng, 60) ? "in" : chance(rng, 50) ? "out" : "both";
  if (chance(rng, 30)) {
    c.interfaces = some(rng, std::vector<std::string>{"gbh", "gbidle", "gb+"}, 1, 2);
  }
  c.log = chance(rng, 20);
  c.set_name = chance(rng, 80) ? "geoblock" : "gbwalk";
  return c;
}

// A configuration the documentation says is refused (exit 2), and why.
std::pair<Config, std::string>
broken(std::mt19937_64& rng, Config c)
{
  switch (rng() % 4) {
  case 0:
    c.ports = {{"tcp", 22, 22}};
    c.except_ports = {{"tcp", 80, 80}};
    return {c, "ports together with except-ports"};
  case 1:
    c.match = "new";
    c.policy = "block";
    c.chains = {"raw:PREROUTING"};
    return {c, "match new at raw:PREROUTING"};
  case 2:
    c.set_name = "a-set-name-of-25-letters";
    c.set_name += "x";
    return {c, "a set name over 24 characters"};
  default:
    c.backend = "iptables";
    c.chains = {"ingress:gbh"};
    c.policy = "block";
    c.match = "all";
    return {c, "ingress with the iptables backend"};
  }
}

std::string
run_text(const std::vector<std::string>& argv)
{
  try {
    return run_checked(argv);
  } catch (const std::exception& e) {
    return std::string("(") + e.what() + ")";
  }
}

// Anything of geoblock's under `set_name` (its sets and chains are named
// "<set-name>-..."), or with "" anything of geoblock's at all (its rules
// carry the comment "geoblock" whatever the set name).
bool
iptables_holds(const std::string& set_name)
{
  const std::string rules = run_text({"iptables-save"}) + run_text({"ip6tables-save"});
  const std::string sets = run_text({"ipset", "list", "-n"});
  if (set_name.empty()) {
    return !sets.empty() || rules.find("--comment geoblock") != std::string::npos;
  }
  std::istringstream in(sets);
  for (std::string s; std::getline(in, s);) {
    if (s.rfind(set_name + "-", 0) == 0) {
      return true;
    }
  }
  return rules.find(" " + set_name + "-") != std::string::npos;
}

bool
nftables_holds(const std::string& set_name)
{
  const std::string tables = run_text({"nft", "list", "tables"});
  if (set_name.empty()) {
    return nftables_holds("geoblock") || nftables_holds("gbwalk");
  }
  return tables.find("table inet " + set_name + "\n") != std::string::npos ||
         tables.find("table netdev " + set_name + "\n") != std::string::npos;
}

bool
holds(const std::string& backend, const std::string& set_name)
{
  return backend == "iptables" ? iptables_holds(set_name) : nftables_holds(set_name);
}

std::string
other(const std::string& backend)
{
  return backend == "iptables" ? "nftables" : "iptables";
}

// The host, the clients, the mirror and what the zones hold.
class Lab {
public:
  explicit Lab(std::mt19937_64& rng) : m_rng(rng)
  {
    std::vector<std::string> client_addrs;
    for (const auto& c : k_clients) {
      client_addrs.push_back(c + (c.find(':') != std::string::npos ? "/32" : "/24"));
    }
    link_veth(nullptr, "gbh", k_host_addresses, &m_client, "gbc", client_addrs);
    // An idle interface: no packet of the walk crosses it.
    run_checked({"ip", "link", "add", "gbidle", "type", "veth", "peer", "name", "gbidlep"});
    run_checked({"ip", "link", "set", "gbidle", "up"});
    // Every reject answers at once: no ICMP rate limit in these namespaces.
    for (const NamedNetns* ns :
         {static_cast<const NamedNetns*>(nullptr), static_cast<const NamedNetns*>(&m_client)}) {
      for (const char* s : {"net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0"}) {
        if (ns == nullptr) {
          run_checked({"sysctl", "-q", "-w", s});
        } else {
          ns->exec({"sysctl", "-q", "-w", s});
        }
      }
    }
    for (const int port : k_host_ports) {
      m_servers.push_back(std::make_unique<TcpServer>(nullptr, "0.0.0.0", port));
      m_servers.push_back(std::make_unique<TcpServer>(nullptr, "::", port));
    }
    m_servers.push_back(std::make_unique<TcpServer>(&m_client, "0.0.0.0", k_client_port));
    m_servers.push_back(std::make_unique<TcpServer>(&m_client, "::", k_client_port));
    for (const auto& cc : k_countries) {
      new_data(cc);
    }
  }

  const walk::Zones& zones() const { return m_zones; }
  const NamedNetns& client() const { return m_client; }

  // The country's zones change as upstream data does: its part of the
  // clients' networks drawn again, a fifth of its other networks replaced
  // (never a shrink beyond max-shrink).
  void new_data(const std::string& cc)
  {
    auto& bulk = m_bulk[cc];
    const auto index = static_cast<std::uint32_t>(std::find(k_countries.begin(), k_countries.end(), cc) -
                                                  k_countries.begin());
    const std::uint32_t base = 0x2d000000u + (index << 20); // 45.0.0.0/12, 45.16.0.0/12, ...
    while (bulk.size() < 400) {
      bulk.insert(base +
                  (static_cast<std::uint32_t>(m_rng() % 2048) << 9)); // every other /24: nothing merges
    }
    for (int i = 0; i < 80; ++i) {
      bulk.erase(bulk.begin());
      bulk.insert(base + (static_cast<std::uint32_t>(m_rng() % 2048) << 9));
    }
    std::vector<walk::Network> nets;
    std::string v4, v6;
    for (const auto& n : some(m_rng, k_pool, 1, 5)) {
      nets.push_back(walk::network(n));
      (n.find(':') != std::string::npos ? v6 : v4) += n + "\n";
    }
    for (const std::uint32_t a : bulk) {
      walk::Network n;
      n.first.value = a;
      n.len = 24;
      v4 += walk::to_string(n) + "\n";
      walk::Network n6;
      n6.first.v6 = true;
      n6.first.value =
          (static_cast<walk::Bits>(0x2a0c0000u + index) << 96) | (static_cast<walk::Bits>(a & 0xfffff) << 80);
      n6.len = 48;
      v6 += walk::to_string(n6) + "\n";
    }
    m_zones[cc] = nets;
    write(m_dir / ("mirror/ipblocks/data/countries/" + cc + ".zone"), v4);
    write(m_dir / ("mirror/ipv6/ipaddresses/blocks/" + cc + ".zone"), v6);
  }

  std::string config_file(const Config& c) const
  {
    return m_dir.write("geoblock.conf",
                       "base-url = file://" + m_dir / "mirror" + "\ncache-dir = " + m_dir / "cache" +
                           "\nstate-dir = " + m_dir / "state" + "\nlock-file = " + m_dir / "lock" +
                           "\nlock-wait = 10\n" + c.text());
  }

  util::RunResult geoblock(const std::string& command, const Config& c, std::vector<std::string> more = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(120)) const
  {
    std::vector<std::string> args{command, "--config", config_file(c)};
    args.insert(args.end(), more.begin(), more.end());
    return run_geoblock(args, timeout);
  }

  // Neighbour discovery runs again for every probe round: nothing learnt
  // in an earlier step hides a filtered solicitation.
  void forget_neighbours() const
  {
    for (const char* f : {"-4", "-6"}) {
      run_checked({"ip", f, "neigh", "flush", "all"});
      m_client.exec({"ip", f, "neigh", "flush", "all"});
    }
  }

private:
  void write(const std::string& path, const std::string& text)
  {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::trunc) << text;
    // Each version a minute newer than the last: a change is never hidden
    // by a modification time within the same second.
    ++m_version;
    const std::time_t t = std::time(nullptr) - 86400 + m_version * 60;
    const utimbuf times{t, t};
    ::utime(path.c_str(), &times);
  }

  std::mt19937_64& m_rng;
  TempDir m_dir;
  NamedNetns m_client;
  std::vector<std::unique_ptr<TcpServer>> m_servers;
  walk::Zones m_zones;
  std::map<std::string, std::set<std::uint32_t>> m_bulk;
  long m_version = 0;
};

struct Probe {
  bool inbound = true;
  std::string client;
  int port = 0;
  Fate expected = Fate::Open;
};

Fate
fate_of(TcpOutcome o)
{
  switch (o) {
  case TcpOutcome::Connected:
    return Fate::Open;
  case TcpOutcome::Refused:
    return Fate::Refused;
  default:
    return Fate::Silent;
  }
}

// The walk: one object per test, the seed and the history in every
// message.
class Walker {
public:
  Walker(std::uint64_t seed, const std::string& backend) : m_seed(seed), m_rng(seed), m_lab(m_rng)
  {
    m_config = random_config(m_rng, backend);
  }

  void run(std::uint64_t steps)
  {
    step_update(m_config, "first update");
    for (m_step = 1; m_step < steps && !::testing::Test::HasFailure(); ++m_step) {
      const int event = static_cast<int>(m_rng() % 100);
      if (event < 45) {
        step_update(next_config(), "configuration changed");
      } else if (event < 60) {
        for (const auto& cc : some(m_rng, k_countries, 1, 2)) {
          m_lab.new_data(cc);
        }
        step_update(m_rng() % 2 == 0 ? m_config : next_config(), "data changed");
      } else if (event < 67) {
        step_refused();
      } else if (event < 75) {
        step_boot();
      } else if (event < 83) {
        step_remove();
      } else if (event < 91) {
        step_kill();
      } else {
        step_hand_edit();
      }
    }
  }

  // Only the data moves: one configuration, and at every step some of its
  // countries' zones swap to an overlapping list, as upstream data changes
  // from one month to the next.
  void run_data(std::uint64_t steps)
  {
    // Where the block covers the host, so that data changes move probes.
    m_config.chains.clear();
    m_config.interfaces.clear();
    step_update(m_config, "first update");
    for (m_step = 1; m_step < steps && !::testing::Test::HasFailure(); ++m_step) {
      for (const auto& cc : some(m_rng, m_config.countries, 1, m_config.countries.size())) {
        m_lab.new_data(cc);
      }
      step_update(m_config, "data changed");
    }
  }

private:
  Config next_config()
  {
    const std::string backend = chance(m_rng, 20) ? other(m_config.backend) : m_config.backend;
    return random_config(m_rng, backend);
  }

  std::string where() const
  {
    return "seed " + std::to_string(m_seed) + " (GEOBLOCK_WALK_SEED=" + std::to_string(m_seed) + "), step " +
           std::to_string(m_step) + " (" + m_what + "), configuration:\n" + m_config.text();
  }

  void expect_ok(const util::RunResult& r, const std::string& command)
  {
    if (r.exit_code != 0) {
      ADD_FAILURE() << command << " exited " << r.exit_code << (r.timed_out ? " (timed out)" : "") << ":\n"
                    << r.err << "\n"
                    << where();
    }
  }

  void step_update(const Config& c, const std::string& what)
  {
    m_what = what;
    m_config = c;
    expect_ok(m_lab.geoblock("update", c), "update");
    check();
  }

  // A configuration the documentation refuses: exit 2, one line naming
  // the problem, and the firewall as it was.
  void step_refused()
  {
    const auto [bad, why] = broken(m_rng, next_config());
    m_what = "refused configuration: " + why + ":\n" + bad.text();
    const auto r = m_lab.geoblock("update", bad);
    if (r.exit_code != 2 || r.err.find("geoblock: error: ") == std::string::npos) {
      ADD_FAILURE() << "update with " << why << " exited " << r.exit_code << " (expected 2):\n"
                    << r.err << "\n"
                    << where();
    }
    check();
  }

  // A reboot: the firewall is empty, then `restore --offline` loads the
  // last good data.
  void step_boot()
  {
    m_what = "reboot, restore --offline";
    run_checked({"nft", "flush", "ruleset"});
    run_checked({"ipset", "destroy"});
    expect_ok(m_lab.geoblock("restore", m_config, {"--offline"}), "restore --offline");
    check();
  }

  void step_remove()
  {
    m_what = "remove";
    expect_ok(m_lab.geoblock("remove", m_config), "remove");
    for (const auto& b : {"iptables", "nftables"}) {
      if (holds(b, "")) {
        ADD_FAILURE() << "after remove, " << b << " still holds geoblock's state\n" << ruleset() << where();
      }
    }
    probe([](const Probe&) { return walk::unfiltered(); });
    step_update(m_config, "update after remove");
  }

  // A run killed with SIGKILL at a random moment; the next run converges.
  void step_kill()
  {
    const Config c = next_config();
    if (chance(m_rng, 50)) {
      m_lab.new_data(pick(m_rng, k_countries));
    }
    const auto after = std::chrono::milliseconds(m_rng() % 700);
    m_what = "update killed after " + std::to_string(after.count()) + " ms";
    m_lab.geoblock("update", c, {}, after);
    step_update(c, "update after a killed one");
  }

  // Someone changes a rule or a set by hand: status sees it (exit 5) and
  // the next update repairs it.
  void step_hand_edit()
  {
    m_what = "hand edit";
    const std::string set = m_config.set_name + (m_config.family == "v6" ? "-v6" : "-v4");
    std::string edit = chance(m_rng, 50) ? delete_a_rule() : std::string();
    if (edit.empty()) { // chosen, or no rule of geoblock's the tools can delete here
      edit = "flush set " + set;
      if (m_config.backend == "iptables") {
        run_checked({"ipset", "flush", set});
      } else {
        // Counted by source, the set is a verdict map (docs/accounting.md),
        // which nft flushes as a map.
        bool map = true;
        try {
          run_checked({"nft", "list", "map", "inet", m_config.set_name, set});
        } catch (const std::exception&) {
          map = false;
        }
        edit = (map ? "flush map " : "flush set ") + set;
        run_checked({"nft", "flush", map ? "map" : "set", "inet", m_config.set_name, set});
      }
    }
    m_what = "hand edit: " + edit;
    const auto st = m_lab.geoblock("status", m_config);
    if (st.exit_code != 5) {
      ADD_FAILURE() << "status after a hand edit (" << edit << ") exited " << st.exit_code
                    << " (expected 5):\n"
                    << st.out << st.err << where();
    }
    step_update(m_config, "update after " + edit);
  }

  // Deletes one of geoblock's rules the way an administrator would (with
  // iptables or nft); what it deleted, or empty when there was none it
  // could delete (a rule quoting its log prefix, a backend with no rule).
  std::string delete_a_rule()
  {
    if (m_config.backend == "iptables") {
      for (const char* save : {"iptables-save", "ip6tables-save"}) {
        std::istringstream in(run_checked({save}));
        std::string table;
        for (std::string line; std::getline(in, line);) {
          if (line.rfind("*", 0) == 0) {
            table = line.substr(1);
          } else if (line.rfind("-A ", 0) == 0 && line.find("--comment geoblock") != std::string::npos &&
                     line.find('"') == std::string::npos) {
            std::vector<std::string> argv{std::string(save) == "iptables-save" ? "iptables" : "ip6tables",
                                          "-w", "-t", table, "-D"};
            std::istringstream words(line.substr(3));
            for (std::string w; words >> w;) {
              argv.push_back(w);
            }
            run_checked(argv);
            return "deleted " + line;
          }
        }
      }
      return {};
    }
    // The inet table, or the netdev one where only ingress:IFACE chains
    // are configured.
    for (const char* family : {"inet", "netdev"}) {
      const std::string listing = run_text({"nft", "-a", "list", "table", family, m_config.set_name});
      std::istringstream in(listing);
      std::string chain;
      for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::vector<std::string> w;
        for (std::string x; words >> x;) {
          w.push_back(x);
        }
        if (w.size() >= 2 && w[0] == "chain") {
          chain = w[1];
        } else if (!chain.empty() && w.size() > 3 && w[w.size() - 2] == "handle" && w[0] != "type") {
          run_checked({"nft", "delete", "rule", family, m_config.set_name, chain, "handle", w.back()});
          return "deleted from " + std::string(family) + " " + chain + ": " + line;
        }
      }
    }
    return {};
  }

  std::string ruleset() const
  {
    return "--- nft list ruleset\n" + run_text({"nft", "list", "ruleset"}) + "--- iptables-save\n" +
           run_text({"iptables-save"}) + "--- ip6tables-save\n" + run_text({"ip6tables-save"}) +
           "--- ipset -n\n" + run_text({"ipset", "list", "-n"});
  }

  // After every step: status in sync, only the chosen backend and set name
  // hold geoblock's state, every probe as the model says.
  void check()
  {
    if (std::getenv("GEOBLOCK_WALK_VERBOSE") != nullptr) {
      std::printf("step %llu (%s):\n%s\n", static_cast<unsigned long long>(m_step), m_what.c_str(),
                  m_config.text().c_str());
      std::fflush(stdout);
    }
    const auto st = m_lab.geoblock("status", m_config);
    if (st.exit_code != 0 || st.out.find("live firewall: in sync") == std::string::npos) {
      ADD_FAILURE() << "status exited " << st.exit_code << ":\n" << st.out << st.err << where();
    }
    const std::string unused_name = m_config.set_name == "geoblock" ? "gbwalk" : "geoblock";
    if (holds(other(m_config.backend), "")) {
      ADD_FAILURE() << other(m_config.backend) << " still holds geoblock's state\n" << ruleset() << where();
    }
    if (holds(m_config.backend, unused_name)) {
      ADD_FAILURE() << m_config.backend << " still holds state of the set name " << unused_name << "\n"
                    << ruleset() << where();
    }
    const Config c = m_config;
    const walk::Zones zones = m_lab.zones();
    probe([&c, &zones](const Probe& p) {
      const walk::Address a = walk::address(p.client);
      return p.inbound ? walk::inbound(c, zones, a, p.port) : walk::outbound(c, zones, a, p.port);
    });
  }

  // Every client, inbound to every port of the host and outbound from the
  // host. A probe that differs from `expect` is tried again (a SYN lost
  // under load), at most three more times, except a connection that went
  // through where none should: a drop never lets one through.
  template <class Expect> void probe(const Expect& expect)
  {
    std::vector<Probe> probes;
    for (const auto& client : k_clients) {
      for (const int port : k_host_ports) {
        probes.push_back(Probe{true, client, port, Fate::Open});
      }
      probes.push_back(Probe{false, client, k_client_port, Fate::Open});
    }
    for (auto& p : probes) {
      p.expected = expect(p);
    }
    std::vector<std::string> wrong;
    for (int round = 0; round < 4 && !probes.empty(); ++round) {
      m_lab.forget_neighbours();
      std::vector<TcpAttempt> attempts;
      for (const auto& p : probes) {
        const std::string host = host_address_for(p.client);
        attempts.push_back(p.inbound ? TcpAttempt{&m_lab.client(), p.client, host, p.port}
                                     : TcpAttempt{nullptr, host, p.client, p.port});
      }
      const auto outcomes = tcp_attempts(attempts, std::chrono::milliseconds(700));
      std::vector<Probe> again;
      wrong.clear();
      for (std::size_t i = 0; i < probes.size(); ++i) {
        const Fate got = fate_of(outcomes[i]);
        if (got == probes[i].expected) {
          continue;
        }
        const std::string line = std::string(probes[i].inbound ? "inbound from " : "outbound to ") +
                                 probes[i].client + " port " + std::to_string(probes[i].port) +
                                 ": expected " + walk::to_string(probes[i].expected) + ", got " +
                                 walk::to_string(got);
        if (got == Fate::Open) {
          ADD_FAILURE() << line << "\n" << ruleset() << where();
          return;
        }
        wrong.push_back(line);
        again.push_back(probes[i]);
      }
      probes = again;
    }
    if (!wrong.empty()) {
      std::string all;
      for (const auto& w : wrong) {
        all += w + "\n";
      }
      ADD_FAILURE() << all << ruleset() << where();
    }
  }

  std::uint64_t m_seed;
  std::mt19937_64 m_rng;
  Lab m_lab;
  Config m_config;
  std::uint64_t m_step = 0;
  std::string m_what;
};

class Walk : public ::testing::TestWithParam<std::string> {};

TEST_P(Walk, FirewallAlwaysEqualsTheConfiguration)
{
  GEOBLOCK_REQUIRE_NETNS();
  const std::uint64_t seed = env_number("GEOBLOCK_WALK_SEED", std::random_device{}());
  const std::uint64_t steps = env_number("GEOBLOCK_WALK_STEPS", 40);
  std::printf("walk from %s: seed %llu, %llu steps (replay: GEOBLOCK_WALK_SEED=%llu)\n", GetParam().c_str(),
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(steps),
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  in_fresh_netns([seed, steps] { Walker(seed, GetParam()).run(steps); },
                 std::chrono::seconds(120 + 6 * steps));
}

TEST_P(Walk, DataChangesAlwaysConverge)
{
  GEOBLOCK_REQUIRE_NETNS();
  const std::uint64_t seed = env_number("GEOBLOCK_WALK_SEED", std::random_device{}());
  const std::uint64_t steps = env_number("GEOBLOCK_WALK_STEPS", 20);
  std::printf("data walk on %s: seed %llu, %llu steps (replay: GEOBLOCK_WALK_SEED=%llu)\n",
              GetParam().c_str(), static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(steps), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  in_fresh_netns([seed, steps] { Walker(seed, GetParam()).run_data(steps); },
                 std::chrono::seconds(120 + 6 * steps));
}

INSTANTIATE_TEST_SUITE_P(Backends, Walk, ::testing::Values("iptables", "nftables"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

} // namespace
} // namespace geoblock::test
