// One behaviour suite for every firewall backend: the same configurations,
// the same packets, the same answers from status, check, update --dry-run,
// remove and restore, run with `backend = iptables` and `backend =
// nftables` (TEST_P over k_backends below). A feature added later gets
// tested on every backend by being added here; a backend that lacks it
// fails here.
//
// Each test runs the real binary in a network namespace of its own, with a
// client namespace on a veth pair and a file:// mirror. What is specific to
// a backend is only how the test pokes at it from outside (delete one of
// geoblock's rules or elements, tell whether anything of geoblock's is
// there, print its ruleset) and, for iptables, the exact rule layout the
// steps also check (layout()).
#include "support/geoblock_binary.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"
#include "util/file.hpp"
#include "util/json.hpp"
#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

namespace geoblock::test {
namespace {

constexpr const char* k_host = "198.51.100.1";
constexpr const char* k_listed = "198.51.100.10";    // in cn's 198.51.100.0/25
constexpr const char* k_unlisted = "198.51.100.200"; // in no zone
constexpr const char* k_host6 = "2001:db8:ffff::1";
constexpr const char* k_listed6 = "2001:db8:1::10";   // in cn's 2001:db8:1::/48
constexpr const char* k_unlisted6 = "2001:db8:2::10"; // in no zone

std::vector<std::string>
lines_with(const std::string& text, const std::string& needle)
{
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) {
      out.push_back(line);
    }
  }
  return out;
}

std::vector<std::string>
words_of(const std::string& text)
{
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) {
    out.push_back(w);
  }
  return out;
}

// How a test reaches into one backend from outside, as an administrator
// (or another program) would.
struct BackendUnderTest {
  std::string name; // the `backend` value
  // geoblock's part of the live ruleset, for messages.
  std::function<std::string()> ruleset;
  // Someone deletes geoblock's rule that matches the IPv4 set.
  std::function<void()> delete_a_rule;
  // Someone deletes `net` from geoblock's IPv4 set.
  std::function<void(const std::string& net)> delete_element;
  // Anything of geoblock's (set name `set_name`) in this backend.
  std::function<bool(const std::string& set_name)> holds_state;
  // Someone (an older run, a hand) leaves a set of geoblock's behind.
  std::function<void()> plant_leftover;
  // The exact layout after the walk's step `step` (its configuration),
  // where the backend's tests pin one; may be empty.
  std::function<void(const std::string& step)> layout;
};

std::string
iptables_rules()
{
  return saved_rules({"iptables-save"}) + saved_rules({"ip6tables-save"});
}

// geoblock's rules in iptables-save output.
std::vector<std::string>
ours(const std::string& save)
{
  return lines_with(save, "--comment geoblock");
}

bool
first_is_ours(const std::string& save, const std::string& chain)
{
  const auto rules = lines_with(save, "-A " + chain + " ");
  return !rules.empty() && rules.front().find("--comment geoblock") != std::string::npos;
}

void
iptables_layout(const std::string& step)
{
  const std::string v4 = saved_rules({"iptables-save"});
  const std::string v6 = saved_rules({"ip6tables-save"});
  const std::string sets = run_checked({"ipset", "list", "-n"});
  if (step == "") {
    EXPECT_EQ(ours(v4),
              std::vector<std::string>{"-A PREROUTING ! -i lo -m set --match-set geoblock-v4 src -m comment "
                                       "--comment geoblock -j DROP"});
    // IPv6 jumps to the drop chain, where neighbour discovery returns first.
    std::vector<std::string> want6 = {"-A PREROUTING ! -i lo -m set --match-set geoblock-v6 src -m comment "
                                      "--comment geoblock -j geoblock-drop"};
    for (int type = 133; type <= 137; ++type) {
      want6.push_back("-A geoblock-drop -p ipv6-icmp -m icmp6 --icmpv6-type " + std::to_string(type) +
                      " -m hl --hl-eq 255 -m comment --comment geoblock -j RETURN");
    }
    want6.push_back("-A geoblock-drop -m comment --comment geoblock -j DROP");
    EXPECT_EQ(ours(v6), want6) << v6;
    EXPECT_EQ(sets, "geoblock-v4\ngeoblock-v6\n");
  } else if (step == "chain = INPUT\n") {
    EXPECT_EQ(ours(v4),
              std::vector<std::string>{"-A INPUT ! -i lo -m set --match-set geoblock-v4 src -m comment "
                                       "--comment geoblock -j DROP"});
  } else if (step == "chain = FORWARD\n") {
    ASSERT_EQ(ours(v4).size(), 1u) << v4;
    EXPECT_EQ(ours(v4)[0].rfind("-A FORWARD ", 0), 0u) << v4;
  } else if (step == "chain = INPUT\npolicy = allow-only\nallow = 192.0.2.0/24\n") {
    EXPECT_TRUE(first_is_ours(v4, "INPUT")) << v4;
    EXPECT_EQ(lines_with(v4, "-A geoblock-allow -s 192.0.2.0/24").size(), 1u) << v4;
  } else if (step == "chain = INPUT\npolicy = allow-only\nallow = 198.51.100.192/26\n") {
    EXPECT_TRUE(lines_with(v4, "192.0.2.0/24").empty()) << v4;
    EXPECT_EQ(lines_with(v4, "-A geoblock-allow -s 198.51.100.192/26").size(), 1u) << v4;
  } else if (step == "chain = INPUT\nfamily = v4\n") {
    EXPECT_TRUE(ours(v6).empty()) << v6;
    EXPECT_EQ(sets, "geoblock-v4\n");
  } else if (step == "chain = INPUT\nfamily = v4\ninterface = gbh\n") {
    EXPECT_EQ(lines_with(v4, "-A INPUT -i gbh ").size(), 1u) << v4;
  } else if (step == "family = v4\nmatch = new\n") {
    EXPECT_EQ(lines_with(v4, "-A PREROUTING ! -i lo -m conntrack --ctstate NEW").size(), 1u) << v4;
  } else if (step == "family = v4\nchain = INPUT\ndirection = both\n") {
    EXPECT_TRUE(first_is_ours(v4, "OUTPUT")) << v4;
    EXPECT_TRUE(first_is_ours(v4, "FORWARD")) << v4;
  } else if (step == "family = v4\nchain = INPUT\nlog = true\n") {
    EXPECT_EQ(lines_with(v4, "-A geoblock-drop -m limit --limit 10/min").size(), 1u) << v4;
    EXPECT_TRUE(lines_with(v4, "-A OUTPUT").empty()) << v4;
  } else if (step == "family = v4\nchain = INPUT\nset-name = other\n") {
    EXPECT_EQ(sets, "other-v4\n");
    EXPECT_TRUE(lines_with(v4, "geoblock-").empty()) << v4;
    EXPECT_EQ(ours(v4),
              std::vector<std::string>{"-A INPUT ! -i lo -m set --match-set other-v4 src -m comment "
                                       "--comment geoblock -j DROP"});
  } else if (step == "family = v4\nchain = INPUT\npolicy = allow-only\nexcept-ports = tcp:80\n") {
    EXPECT_TRUE(first_is_ours(v4, "INPUT")) << v4;
    // The ports open to all come last, just before the drop.
    const auto chain = lines_with(v4, "-A geoblock-allow ");
    ASSERT_GE(chain.size(), 2u) << v4;
    EXPECT_EQ(chain[chain.size() - 2],
              "-A geoblock-allow -p tcp -m multiport --dports 80 -m comment --comment geoblock -j RETURN");
    EXPECT_EQ(chain.back(), "-A geoblock-allow -m comment --comment geoblock -j DROP");
  } else if (step ==
             "family = v4\nchain = INPUT\npolicy = allow-only\ninterface = gbh\ndirection = both\nlog = "
             "true\n") {
    EXPECT_EQ(lines_with(v4, "-A INPUT -i gbh -m comment --comment geoblock -j geoblock-allow").size(), 1u)
        << v4;
    EXPECT_EQ(lines_with(v4, "-A OUTPUT -o gbh -m comment --comment geoblock -j geoblock-allow-out").size(),
              1u)
        << v4;
    EXPECT_EQ(lines_with(v4, "-j LOG --log-prefix").size(), 2u) << v4; // in front of each chain's verdict
  }
}

BackendUnderTest
iptables_backend()
{
  BackendUnderTest b;
  b.name = "iptables";
  b.ruleset = [] { return iptables_rules() + run_checked({"ipset", "list", "-n"}); };
  b.delete_a_rule = [] {
    // The first rule of geoblock's that matches the set, deleted by its
    // spec ("iptables -t raw -D PREROUTING -m set ...").
    std::istringstream in(saved_rules({"iptables-save"}));
    std::string table;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("*", 0) == 0) {
        table = line.substr(1);
      } else if (line.rfind("-A ", 0) == 0 && line.find("--match-set geoblock-v4") != std::string::npos) {
        std::vector<std::string> argv{"iptables", "-w", "-t", table, "-D"};
        const auto w = words_of(line.substr(3));
        argv.insert(argv.end(), w.begin(), w.end());
        run_checked(argv);
        return;
      }
    }
    FAIL() << "no rule of geoblock's matching geoblock-v4";
  };
  b.delete_element = [](const std::string& net) { run_checked({"ipset", "del", "geoblock-v4", net}); };
  b.holds_state = [](const std::string& set_name) {
    // Its sets, and rules matching them or in its chains (all named
    // "<set-name>-...").
    return run_checked({"ipset", "list", "-n"}).find(set_name + "-") != std::string::npos ||
           iptables_rules().find(" " + set_name + "-") != std::string::npos;
  };
  b.plant_leftover = [] { run_checked({"ipset", "create", "geoblock-v4", "hash:net", "family", "inet"}); };
  b.layout = iptables_layout;
  return b;
}

std::string
nft(const std::vector<std::string>& args)
{
  std::vector<std::string> argv{"nft"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_checked(argv);
}

BackendUnderTest
nftables_backend()
{
  BackendUnderTest b;
  b.name = "nftables";
  b.ruleset = [] { return nft({"list", "ruleset"}); };
  b.delete_a_rule = [] {
    // The first rule that looks the address up in the IPv4 set, by handle.
    std::istringstream in(nft({"-a", "list", "table", "inet", "geoblock"}));
    std::string chain;
    for (std::string line; std::getline(in, line);) {
      const auto w = words_of(line);
      if (w.size() >= 2 && w[0] == "chain") {
        chain = w[1];
      } else if (line.find("@geoblock-v4") != std::string::npos && w.size() >= 2 &&
                 w[w.size() - 2] == "handle") {
        nft({"delete", "rule", "inet", "geoblock", chain, "handle", w.back()});
        return;
      }
    }
    FAIL() << "no rule of geoblock's looking up @geoblock-v4";
  };
  b.delete_element = [](const std::string& net) {
    nft({"delete", "element", "inet", "geoblock", "geoblock-v4", "{", net, "}"});
  };
  b.holds_state = [](const std::string& set_name) {
    const std::string tables = nft({"list", "tables"});
    return tables.find("table inet " + set_name + "\n") != std::string::npos ||
           tables.find("table netdev " + set_name + "\n") != std::string::npos;
  };
  b.plant_leftover = [] {
    nft({"add", "table", "inet", "geoblock"});
    nft({"add", "set", "inet", "geoblock", "geoblock-v4", "{", "type", "ipv4_addr;", "flags", "interval;",
         "}"});
  };
  return b;
}

// gtest prints a parameter by its name, not its bytes.
void
PrintTo(const BackendUnderTest& b, std::ostream* os)
{
  *os << b.name;
}

// Every backend the suite runs against.
const std::vector<BackendUnderTest> k_backends = {iptables_backend(), nftables_backend()};

// The host (the test's namespace, serving 22 and 80 on both families) and
// a client namespace with a listed and an unlisted address per family.
struct Host {
  const BackendUnderTest& backend;
  TempDir dir;
  std::string countries = "cn";
  NamedNetns client;
  std::unique_ptr<TcpServer> web;
  std::unique_ptr<TcpServer> ssh;
  std::unique_ptr<TcpServer> web6;

  explicit Host(const BackendUnderTest& b) : backend(b)
  {
    zone("cn", "198.51.100.0/25\n", "2001:db8:1::/48\n");
    link_veth(nullptr, "gbh", {std::string(k_host) + "/24", std::string(k_host6) + "/32"}, &client, "gbc",
              {std::string(k_listed) + "/24", std::string(k_unlisted) + "/24", std::string(k_listed6) + "/32",
               std::string(k_unlisted6) + "/32"});
    web = std::make_unique<TcpServer>(nullptr, "0.0.0.0", 80);
    ssh = std::make_unique<TcpServer>(nullptr, "0.0.0.0", 22);
    web6 = std::make_unique<TcpServer>(nullptr, "::", 80);
  }

  void zone(const std::string& cc, const std::string& v4, const std::string& v6)
  {
    const std::string d4 = dir / "mirror/ipblocks/data/countries";
    const std::string d6 = dir / "mirror/ipv6/ipaddresses/blocks";
    std::filesystem::create_directories(d4);
    std::filesystem::create_directories(d6);
    std::ofstream(d4 + "/" + cc + ".zone", std::ios::trunc) << v4;
    std::ofstream(d6 + "/" + cc + ".zone", std::ios::trunc) << v6;
  }

  std::string config(const std::string& extra, const std::string& backend_name = "")
  {
    return dir.write(
        "geoblock.conf",
        "countries = " + countries + "\nbackend = " + (backend_name.empty() ? backend.name : backend_name) +
            "\nbase-url = file://" + dir / "mirror" + "\ncache-dir = " + dir / "cache" +
            "\nstate-dir = " + dir / "state" + "\nlock-file = " + dir / "lock" + "\nlock-wait = 1\n" + extra);
  }

  util::RunResult geoblock(const std::string& command, const std::string& extra,
                           std::vector<std::string> more = {})
  {
    std::vector<std::string> args{command, "--config", config(extra)};
    args.insert(args.end(), more.begin(), more.end());
    return run_geoblock(args);
  }

  // update, then status must say "in sync" with exit 0, and the layout
  // of the step must be the backend's.
  void update(const std::string& extra)
  {
    const auto r = geoblock("update", extra);
    ASSERT_EQ(r.exit_code, 0) << extra << "\n" << r.err;
    EXPECT_NE(r.err.find("geoblock: backend " + backend.name + " (configured)"), std::string::npos) << r.err;
    const auto st = geoblock("status", extra);
    EXPECT_EQ(st.exit_code, 0) << extra << "\n" << st.out << st.err << backend.ruleset();
    EXPECT_NE(st.out.find("backend: " + backend.name + " (configured)\n"), std::string::npos) << st.out;
    EXPECT_NE(st.out.find("live firewall: in sync"), std::string::npos) << extra << "\n" << st.out;
    if (backend.layout) {
      backend.layout(extra);
    }
  }

  bool blocked(const char* from, int port = 80) const
  {
    const char* to = std::string(from).find(':') == std::string::npos ? k_host : k_host6;
    return !tcp_connect(&client, from, to, port, std::chrono::milliseconds(500));
  }
  bool reachable(const char* from, int port = 80) const
  {
    const char* to = std::string(from).find(':') == std::string::npos ? k_host : k_host6;
    return eventually_connects(&client, from, to, port);
  }
};

// IPv6 neighbour discovery between the host and the client, as the kernel
// runs it (no static entries anywhere).

// Empties the host's and/or the client's neighbour cache on the link, so
// that the next packet that way needs a solicitation and an advertisement
// again.
void
forget_neighbours(const Host& h, bool host_side, bool client_side)
{
  if (host_side) {
    run_checked({"ip", "-6", "neigh", "flush", "dev", "gbh"});
  }
  if (client_side) {
    h.client.exec({"ip", "-6", "neigh", "flush", "dev", "gbc"});
  }
}

// How the neighbour entry of `ns` (nullptr: the host) for `addr` ends once
// discovery for it has run: REACHABLE, STALE, DELAY or PROBE when the
// neighbour answered (answered()), FAILED when the kernel gave up after its
// three solicitations a second apart. Polled every 50 ms for at most 10 s;
// "INCOMPLETE" or "none" (no entry) if still undecided then.
std::string
neighbour_state(const NamedNetns* ns, const std::string& dev, const std::string& addr)
{
  const std::vector<std::string> argv{"ip", "-6", "neigh", "show", "to", addr, "dev", dev};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    const auto w = words_of(ns == nullptr ? run_checked(argv) : ns->exec(argv));
    const std::string state = w.empty() ? "none" : w.back();
    if ((state != "INCOMPLETE" && state != "none") || std::chrono::steady_clock::now() > deadline) {
      return state;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool
answered(const std::string& state)
{
  return state == "REACHABLE" || state == "STALE" || state == "DELAY" || state == "PROBE";
}

// The client's connection from `from` to the host's `port` over IPv6
// completes with both caches empty (the client solicits the host, the host
// advertises), then with only the host's empty (the host, answering,
// solicits the client, the client advertises).
bool
reaches_host_with_fresh_neighbours(Host& h, const char* from, int port)
{
  forget_neighbours(h, true, true);
  if (!h.reachable(from, port)) {
    return false;
  }
  forget_neighbours(h, true, false);
  return h.reachable(from, port);
}

// The host's connection to `to`:8080 over IPv6 completes with both caches
// empty (the host solicits), then with only the client's empty (the
// client, answering, solicits the host).
bool
host_reaches_with_fresh_neighbours(Host& h, const char* to)
{
  forget_neighbours(h, true, true);
  if (!eventually_connects(nullptr, k_host6, to, 8080)) {
    return false;
  }
  forget_neighbours(h, false, true);
  return eventually_connects(nullptr, k_host6, to, 8080);
}

// The client's connection from `from` to the host's `port`, both caches
// empty, is dropped; how the client's entry for the host ends ("connected"
// if the connection was not dropped).
std::string
client_resolves_host_though_dropped(Host& h, const char* from, int port)
{
  forget_neighbours(h, true, true);
  if (!h.blocked(from, port)) {
    return "connected";
  }
  return neighbour_state(&h.client, "gbc", k_host6);
}

// The host's connection to `to`:8080, both caches empty, gets no answer
// (geoblock drops the replies); how the host's entry for `to` ends
// ("connected" if the connection completed).
std::string
host_resolves_though_dropped(Host& h, const char* to)
{
  forget_neighbours(h, true, true);
  if (tcp_connect(nullptr, k_host6, to, 8080, std::chrono::milliseconds(500))) {
    return "connected";
  }
  return neighbour_state(nullptr, "gbh", to);
}

class BackendSuite : public ::testing::TestWithParam<BackendUnderTest> {};

TEST_P(BackendSuite, EveryConfigurationChangeEndsInExactlyTheConfiguredFirewall)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns(
      [] {
        Host h(GetParam());
        ASSERT_TRUE(h.reachable(k_listed));

        // The default: raw:PREROUTING, both families.
        h.update("");
        EXPECT_TRUE(h.blocked(k_listed));
        EXPECT_TRUE(h.blocked(k_listed6));
        EXPECT_TRUE(h.reachable(k_unlisted));
        EXPECT_TRUE(h.reachable(k_unlisted6));

        // chain INPUT: the raw rule goes.
        h.update("chain = INPUT\n");
        EXPECT_TRUE(h.blocked(k_listed));
        // chain FORWARD: nothing in INPUT any more, so local services are open.
        h.update("chain = FORWARD\n");
        EXPECT_TRUE(h.reachable(k_listed));

        // allow-only with an allowlist, then a changed allowlist.
        h.update("chain = INPUT\npolicy = allow-only\nallow = 192.0.2.0/24\n");
        EXPECT_TRUE(h.reachable(k_listed));
        EXPECT_TRUE(h.blocked(k_unlisted));
        EXPECT_TRUE(h.reachable(k_listed6));
        EXPECT_TRUE(h.blocked(k_unlisted6));
        h.update("chain = INPUT\npolicy = allow-only\nallow = 198.51.100.192/26\n");
        EXPECT_TRUE(h.reachable(k_unlisted));
        EXPECT_TRUE(h.blocked(k_unlisted6));
        // Local networks are never blocked: loopback gets through allow-only.
        EXPECT_TRUE(eventually_connects(nullptr, "127.0.0.1", "127.0.0.1", 80));

        // Back to block: the allow-only rules go.
        h.update("chain = INPUT\n");
        EXPECT_TRUE(h.blocked(k_listed));
        EXPECT_TRUE(h.reachable(k_unlisted));

        // family v4: the IPv6 rule and set go.
        h.update("chain = INPUT\nfamily = v4\n");
        EXPECT_TRUE(h.reachable(k_listed6));

        // interface: the block holds on the interface named, not on another.
        h.update("chain = INPUT\nfamily = v4\ninterface = gbh\n");
        EXPECT_TRUE(h.blocked(k_listed));
        h.update("chain = INPUT\nfamily = v4\ninterface = gbx\n");
        EXPECT_TRUE(h.reachable(k_listed));

        // ports: only SSH is closed to the listed country.
        h.update("chain = INPUT\nfamily = v4\nports = tcp:22\n");
        EXPECT_TRUE(h.blocked(k_listed, 22));
        EXPECT_TRUE(h.reachable(k_listed, 80));

        // except-ports: everything but the web is closed.
        h.update("chain = INPUT\nfamily = v4\nexcept-ports = tcp:80\n");
        EXPECT_TRUE(h.blocked(k_listed, 22));
        EXPECT_TRUE(h.reachable(k_listed, 80));
        EXPECT_TRUE(h.reachable(k_unlisted, 22));

        // match new: the host's own connection to a listed address gets its
        // replies; with match all it does not.
        TcpServer remote(&h.client, k_listed, 8080);
        h.update("family = v4\nmatch = new\n");
        EXPECT_TRUE(h.blocked(k_listed));
        EXPECT_TRUE(eventually_connects(nullptr, k_host, k_listed, 8080));
        h.update("family = v4\n");
        EXPECT_FALSE(tcp_connect(nullptr, k_host, k_listed, 8080, std::chrono::milliseconds(500)));

        // direction both: the host cannot open connections to the listed
        // country either (rejected), but can elsewhere.
        TcpServer other(&h.client, k_unlisted, 8080);
        h.update("family = v4\nchain = INPUT\ndirection = both\n");
        EXPECT_FALSE(tcp_connect(nullptr, k_host, k_listed, 8080, std::chrono::milliseconds(500)));
        EXPECT_TRUE(eventually_connects(nullptr, k_host, k_unlisted, 8080));

        // direction out: connections to the listed country are rejected,
        // others not; a connection the listed country opens still
        // completes (its replies are not connections to it).
        h.update("family = v4\ndirection = out\n");
        EXPECT_FALSE(tcp_connect(nullptr, k_host, k_listed, 8080, std::chrono::milliseconds(500)));
        EXPECT_TRUE(eventually_connects(nullptr, k_host, k_unlisted, 8080));
        EXPECT_TRUE(h.reachable(k_unlisted));
        EXPECT_TRUE(h.reachable(k_listed));

        // log: a rate-limited log line in front of the drop.
        h.update("family = v4\nchain = INPUT\nlog = true\n");
        EXPECT_TRUE(h.blocked(k_listed));

        // set-name: the old set, chain and rules go.
        h.update("family = v4\nchain = INPUT\nset-name = other\n");
        EXPECT_TRUE(h.blocked(k_listed));
        EXPECT_FALSE(h.backend.holds_state("geoblock")) << h.backend.ruleset();

        // remove: nothing of geoblock's is left, traffic flows again.
        const auto r = h.geoblock("remove", "set-name = other\n");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_FALSE(h.backend.holds_state("other")) << h.backend.ruleset();
        EXPECT_TRUE(h.reachable(k_listed));
      },
      std::chrono::seconds(280));
}

// "out rejects connections": the host's own connection to a listed
// address fails at once, on both families and whatever the inbound rules
// do. Before, with direction = both its ICMP error came back on loopback
// from the listed address and the inbound rule dropped it (no reply at
// all), and an IPv6 reject only counted as a soft error inside connect()
// (the attempt waited for the next SYN, a second later).
TEST_P(BackendSuite, DirectionOutRefusesTheHostsOwnConnectionsAtOnce)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    Host h(GetParam());
    for (const NamedNetns* ns :
         {static_cast<const NamedNetns*>(nullptr), static_cast<const NamedNetns*>(&h.client)}) {
      for (const char* s : {"net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0"}) {
        if (ns == nullptr) {
          run_checked({"sysctl", "-q", "-w", s});
        } else {
          ns->exec({"sysctl", "-q", "-w", s});
        }
      }
    }
    TcpServer v4(&h.client, "0.0.0.0", 8080);
    TcpServer v6(&h.client, "::", 8080);
    for (const char* extra :
         {"direction = out\n", "direction = both\n", "direction = both\nchain = INPUT\nlog = true\n",
          "direction = both\npolicy = allow-only\n"}) {
      h.update(extra);
      // Several rounds: a soft error would show as no reply in some.
      for (int round = 0; round < 5; ++round) {
        const auto got = tcp_attempts({{nullptr, k_host, k_listed, 8080},
                                       {nullptr, k_host6, k_listed6, 8080},
                                       {nullptr, k_host, k_unlisted, 8080},
                                       {nullptr, k_host6, k_unlisted6, 8080}},
                                      std::chrono::milliseconds(700));
        const bool allow_only = std::string(extra).find("allow-only") != std::string::npos;
        const TcpOutcome listed = allow_only ? TcpOutcome::Connected : TcpOutcome::Refused;
        const TcpOutcome unlisted = allow_only ? TcpOutcome::Refused : TcpOutcome::Connected;
        EXPECT_EQ(got[0], listed) << extra << "round " << round;
        EXPECT_EQ(got[1], listed) << extra << "round " << round;
        EXPECT_EQ(got[2], unlisted) << extra << "round " << round;
        EXPECT_EQ(got[3], unlisted) << extra << "round " << round;
      }
    }
  });
}

TEST_P(BackendSuite, AllowOnlyWithPortsInterfaceDirectionBothAndLog)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    Host h(GetParam());
    // ports: only SSH is limited to the allowed country.
    h.update("family = v4\nchain = INPUT\npolicy = allow-only\nports = tcp:22\n");
    EXPECT_TRUE(h.reachable(k_listed, 22));
    EXPECT_TRUE(h.blocked(k_unlisted, 22));
    EXPECT_TRUE(h.reachable(k_unlisted, 80));
    // except-ports: everything is limited but the web.
    h.update("family = v4\nchain = INPUT\npolicy = allow-only\nexcept-ports = tcp:80\n");
    EXPECT_TRUE(h.reachable(k_unlisted, 80));
    EXPECT_TRUE(h.blocked(k_unlisted, 22));
    EXPECT_TRUE(h.reachable(k_listed, 22));

    TcpServer listed_server(&h.client, k_listed, 8080);
    TcpServer unlisted_server(&h.client, k_unlisted, 8080);
    h.update(
        "family = v4\nchain = INPUT\npolicy = allow-only\ninterface = gbh\ndirection = both\nlog = true\n");
    // In: only the allowed country gets through.
    EXPECT_TRUE(h.reachable(k_listed));
    EXPECT_TRUE(h.blocked(k_unlisted));
    // Out: the host reaches the allowed country only.
    EXPECT_TRUE(eventually_connects(nullptr, k_host, k_listed, 8080));
    EXPECT_FALSE(tcp_connect(nullptr, k_host, k_unlisted, 8080, std::chrono::milliseconds(500)));
    // Loopback is another interface: untouched.
    EXPECT_TRUE(eventually_connects(nullptr, "127.0.0.1", "127.0.0.1", 80));
  });
}

// Issue 18: `countries = nz,au` then `countries = nz` was refused as a
// shrink of the set (exit 3), and so was every timer run after it until
// someone ran --force. Removing a country is what the administrator asked
// for: it applies.
TEST_P(BackendSuite, RemovingACountryAppliesItIsNeverAShrink)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    Host h(GetParam());
    std::string au;
    for (int i = 0; i < 100; ++i) {
      au += "20." + std::to_string(i) + ".0.0/24\n"; // apart: 100 entries
    }
    h.zone("au", au, "2001:db8:a::/48\n");
    h.countries = "cn au";
    h.update("");
    EXPECT_TRUE(h.blocked(k_listed));
    h.countries = "cn";
    const auto dry = h.geoblock("update", "", {"--dry-run"});
    EXPECT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_EQ((dry.out + dry.err).find("refus"), std::string::npos) << dry.out << dry.err;
    h.update("");
    EXPECT_TRUE(h.blocked(k_listed));
    EXPECT_TRUE(h.reachable(k_unlisted));
  });
}

// Upstream data that suddenly covers far fewer addresses (cn's IPv4 zone:
// 128 addresses to 4) is refused in one line naming the zone, and nothing
// is lost: the live block stays, the cache keeps the last good copy (so the
// next run refuses again, and restore has the good data), the dry run says
// what an update would refuse; --force takes the new data.
TEST_P(BackendSuite, AnUpstreamZoneThatShrinksIsRefusedAndNothingIsLost)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    Host h(GetParam());
    h.update("");
    const std::string cache = h.dir / "cache/v4/cn.zone";
    ASSERT_EQ(util::read_file(cache), "198.51.100.0/25\n");
    h.zone("cn", "198.51.100.0/30\n", "2001:db8:1::/48\n"); // k_listed (.10) is no longer in it
    for (int run = 0; run < 2; ++run) {
      const auto r = h.geoblock("update", "");
      EXPECT_EQ(r.exit_code, 3) << r.err;
      EXPECT_NE(r.err.find("geoblock: error: refusing cn IPv4: 1 to 1 networks (-97% of the addresses, more "
                           "than max-shrink 50%) against its last good copy of "),
                std::string::npos)
          << r.err;
      EXPECT_NE(r.err.find(" UTC; use --force if this is intended\n"), std::string::npos) << r.err;
      EXPECT_TRUE(h.blocked(k_listed)) << h.backend.ruleset();
      EXPECT_EQ(util::read_file(cache), "198.51.100.0/25\n");
    }
    const auto st = h.geoblock("status", "");
    EXPECT_EQ(st.exit_code, 0) << st.out << st.err;
    const auto dry = h.geoblock("update", "", {"--dry-run"});
    EXPECT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_NE(dry.out.find("update would refuse cn IPv4: 1 to 1 networks (-97% of the addresses"),
              std::string::npos)
        << dry.out;
    EXPECT_EQ(util::read_file(cache), "198.51.100.0/25\n");

    const auto forced = h.geoblock("update", "", {"--force"});
    ASSERT_EQ(forced.exit_code, 0) << forced.err;
    EXPECT_TRUE(h.reachable(k_listed));
    EXPECT_TRUE(h.blocked(k_listed6));
    EXPECT_EQ(util::read_file(cache), "198.51.100.0/30\n");
    h.update("");
  });
}

// Neighbour discovery (ICMPv6 router and neighbour solicitation and
// advertisement, redirect; hop limit 255) is never dropped or rejected
// (RFC 4890): an on-link client whose address is listed still resolves the
// host and reaches every port left open to it over IPv6, and the host
// still resolves it, in every shape of block rule. Each probe empties the
// neighbour caches first, so discovery really runs, both ways.
TEST_P(BackendSuite, NeighbourDiscoveryPassesEveryBlockRule)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns(
      [] {
        Host h(GetParam());
        TcpServer ssh6(nullptr, "::", 22);
        TcpServer listed_server(&h.client, k_listed6, 8080);

        // The default (raw:PREROUTING, one drop): the listed client reaches
        // nothing, yet discovery between it and the host completes.
        h.update("family = v6\n");
        std::string state = client_resolves_host_though_dropped(h, k_listed6, 80);
        EXPECT_TRUE(answered(state)) << state << "\n" << h.backend.ruleset();
        state = host_resolves_though_dropped(h, k_listed6);
        EXPECT_TRUE(answered(state)) << state;
        EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_unlisted6, 80));

        // except-ports: the web stays open to the listed client.
        for (const char* extra : {"family = v6\nexcept-ports = tcp:80\n",
                                  "family = v6\nchain = INPUT\nchain = FORWARD\nexcept-ports = tcp:80\nlog = "
                                  "true\n",
                                  "family = v6\nmatch = new\nexcept-ports = tcp:80\n"}) {
          SCOPED_TRACE(extra);
          h.update(extra);
          EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_listed6, 80)) << h.backend.ruleset();
          EXPECT_TRUE(h.blocked(k_listed6, 22));
        }

        // ports: only SSH is closed to the listed client.
        h.update("family = v6\nchain = mangle:PREROUTING\nports = tcp:22\n");
        EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_listed6, 80));
        EXPECT_TRUE(h.blocked(k_listed6, 22));

        // match new: the host's own connection to the listed client gets
        // its replies, the client's discovery included.
        h.update("family = v6\nmatch = new\n");
        EXPECT_TRUE(host_reaches_with_fresh_neighbours(h, k_listed6));
        EXPECT_TRUE(h.blocked(k_listed6, 80));

        if (h.backend.name == "nftables") {
          // ingress:IFACE, before everything else the host does.
          h.update("family = v6\nchain = ingress:gbh\n");
          state = client_resolves_host_though_dropped(h, k_listed6, 80);
          EXPECT_TRUE(answered(state)) << state << "\n" << h.backend.ruleset();
          state = host_resolves_though_dropped(h, k_listed6);
          EXPECT_TRUE(answered(state)) << state;
          h.update("family = v6\nchain = ingress:gbh\nexcept-ports = tcp:80\nlog = true\n");
          EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_listed6, 80)) << h.backend.ruleset();
          EXPECT_TRUE(h.blocked(k_listed6, 22));
        }
      },
      std::chrono::seconds(280));
}

// The same for allow-only, where every address but the allowed ones is
// refused: a client outside the allowed countries still completes
// discovery and reaches the ports left open to all.
TEST_P(BackendSuite, NeighbourDiscoveryPassesEveryAllowOnlyRule)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns(
      [] {
        Host h(GetParam());
        TcpServer ssh6(nullptr, "::", 22);
        TcpServer unlisted_server(&h.client, k_unlisted6, 8080);

        // Nothing open to the unallowed client, yet discovery completes, and
        // the host's own connection to it gets its replies.
        h.update("family = v6\npolicy = allow-only\n");
        const std::string state = client_resolves_host_though_dropped(h, k_unlisted6, 80);
        EXPECT_TRUE(answered(state)) << state << "\n" << h.backend.ruleset();
        EXPECT_TRUE(host_reaches_with_fresh_neighbours(h, k_unlisted6));
        EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_listed6, 80));

        // except-ports: the web stays open to all.
        for (const char* extra : {"family = v6\npolicy = allow-only\nexcept-ports = tcp:80\n",
                                  "family = v6\npolicy = allow-only\nchain = INPUT\nchain = FORWARD\n"
                                  "except-ports = tcp:80\nlog = true\n"}) {
          SCOPED_TRACE(extra);
          h.update(extra);
          EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_unlisted6, 80)) << h.backend.ruleset();
          EXPECT_TRUE(h.blocked(k_unlisted6, 22));
          EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_listed6, 22));
        }

        // ports: only SSH is limited to the allowed country.
        h.update("family = v6\npolicy = allow-only\nports = tcp:22\n");
        EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_unlisted6, 80));
        EXPECT_TRUE(h.blocked(k_unlisted6, 22));
      },
      std::chrono::seconds(280));
}

// Outbound: the host's own solicitations and advertisements are never
// rejected, whatever the destination. With direction out or both the host
// still resolves every on-link neighbour: it reaches the addresses it may
// reach, answers the clients that may reach it, and only its connections
// to the refused destinations are rejected.
TEST_P(BackendSuite, NeighbourDiscoveryPassesEveryOutboundRule)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns(
      [] {
        Host h(GetParam());
        TcpServer listed_server(&h.client, k_listed6, 8080);
        TcpServer unlisted_server(&h.client, k_unlisted6, 8080);
        const auto rejected = [](const char* to) {
          return !tcp_connect(nullptr, k_host6, to, 8080, std::chrono::milliseconds(500));
        };

        // block, direction out: connections to the listed client are
        // rejected; it still reaches the host, and the host others.
        h.update("family = v6\ndirection = out\n");
        EXPECT_TRUE(rejected(k_listed6));
        EXPECT_TRUE(host_reaches_with_fresh_neighbours(h, k_unlisted6));
        EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_listed6, 80));

        // block, direction both, except-ports: the web stays open to the
        // listed client, which the host itself may not connect to.
        h.update("family = v6\nchain = INPUT\ndirection = both\nexcept-ports = tcp:80\nlog = true\n");
        EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_listed6, 80)) << h.backend.ruleset();
        EXPECT_TRUE(h.blocked(k_listed6, 22));
        EXPECT_TRUE(rejected(k_listed6));
        EXPECT_TRUE(host_reaches_with_fresh_neighbours(h, k_unlisted6));

        // allow-only, direction out: the host reaches the allowed country,
        // and answers a client outside it (its advertisement goes to an
        // address it may not connect to); its connections there are
        // rejected.
        h.update("family = v6\npolicy = allow-only\ndirection = out\n");
        EXPECT_TRUE(host_reaches_with_fresh_neighbours(h, k_listed6)) << h.backend.ruleset();
        EXPECT_TRUE(rejected(k_unlisted6));
        EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_unlisted6, 80));

        // allow-only, direction both, except-ports: the web stays open to
        // all, both ways of discovery included.
        h.update("family = v6\npolicy = allow-only\nchain = INPUT\ndirection = both\nexcept-ports = "
                 "tcp:80\nlog = true\n");
        EXPECT_TRUE(reaches_host_with_fresh_neighbours(h, k_unlisted6, 80)) << h.backend.ruleset();
        EXPECT_TRUE(h.blocked(k_unlisted6, 22));
        EXPECT_TRUE(host_reaches_with_fresh_neighbours(h, k_listed6));
        EXPECT_TRUE(rejected(k_unlisted6));
      },
      std::chrono::seconds(280));
}

// "dropped_packets": N of a family in status --json.
long long
dropped_packets(const std::string& json, const std::string& family)
{
  const util::Json doc = util::Json::parse(json, "status --json");
  return doc.get("kernel").get(family).get("dropped_packets").as_int(-1);
}

TEST_P(BackendSuite, CountersSurviveAnUpdateThatLeavesTheRuleAsItIs)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    Host h(GetParam());
    const std::string extra = "chain = INPUT\nmetrics-file = " + h.dir / "geoblock.prom" + "\n";
    h.update(extra);
    EXPECT_TRUE(h.blocked(k_listed));
    auto st = h.geoblock("status", extra, {"--json"});
    const long long before = dropped_packets(st.out, "v4");
    EXPECT_GT(before, 0) << st.out;
    // New data, the same rule: the count goes on.
    h.zone("cn", "198.51.100.0/25\n203.0.113.0/24\n", "2001:db8:1::/48\n");
    h.update(extra);
    st = h.geoblock("status", extra, {"--json"});
    EXPECT_EQ(util::Json::parse(st.out, "status").get("kernel").get("v4").get("entries").as_int(), 2)
        << st.out;
    EXPECT_GE(dropped_packets(st.out, "v4"), before) << st.out;
    std::ifstream in(h.dir / "geoblock.prom");
    const std::string prom((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(prom.find("geoblock_in_sync 1\n"), std::string::npos) << prom;
  });
}

// Each thing is said once: with --verbose every stage of the apply is one
// line (the backend logged it and the command logged it again), and the
// backend is named once, by the log where the command prints no report
// (update, remove), by the report where it prints one (a dry run, status,
// check: it was logged too).
TEST_P(BackendSuite, EachStageAndTheBackendAreSaidOnce)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    Host h(GetParam());
    const std::string named = "backend " + h.backend.name + " (configured)";
    const auto times = [](const std::string& text, const std::string& what) {
      std::size_t n = 0;
      for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) {
        ++n;
      }
      return n;
    };
    auto r = h.geoblock("update", "", {"--verbose"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(times(r.err, "geoblock: checked\n"), 1u) << r.err;
    const std::vector<std::string> lines = lines_of(r.err);
    for (std::size_t i = 1; i < lines.size(); ++i) {
      EXPECT_NE(lines[i], lines[i - 1]) << r.err;
    }
    EXPECT_EQ(times(r.out + r.err, named), 1u) << r.out << r.err;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"update", "--dry-run"}, {"status"}, {"check", k_listed}}) {
      r = h.geoblock(args[0], "", {args.begin() + 1, args.end()});
      EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
      EXPECT_EQ(times(r.out, "backend: " + h.backend.name + " (configured)\n"), 1u)
          << args[0] << ": " << r.out;
      EXPECT_EQ(times(r.err, named), 0u) << args[0] << ": " << r.err;
    }
    r = h.geoblock("remove", "");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(times(r.out + r.err, named), 1u) << r.out << r.err;
  });
}

TEST_P(BackendSuite, DeletedRuleOrElementIsDriftThatDryRunCheckAndUpdateSee)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    Host h(GetParam());
    const std::string extra = "chain = INPUT\n";
    h.update(extra);
    EXPECT_TRUE(h.blocked(k_listed));

    // Someone deletes an element: drift, named.
    h.backend.delete_element("198.51.100.0/25");
    auto st = h.geoblock("status", extra);
    EXPECT_EQ(st.exit_code, 5) << st.out << st.err << h.backend.ruleset();
    EXPECT_NE(st.out.find("live firewall: DIFFERS"), std::string::npos) << st.out;
    EXPECT_NE(st.out.find("set geoblock-v4: 1 entries to add"), std::string::npos) << st.out;
    EXPECT_TRUE(h.reachable(k_listed));
    // The dry run shows the backend and the same difference, applying nothing.
    auto r = h.geoblock("update", extra, {"--dry-run"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("backend: " + h.backend.name + " (configured)\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("live firewall: an update would change:\n  set geoblock-v4: 1 entries to add"),
              std::string::npos)
        << r.out;
    EXPECT_TRUE(h.reachable(k_listed));
    // check names the verdict, the backend and that it is not in force.
    r = h.geoblock("check", extra, {k_listed});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(std::string(k_listed) + ": blocked by cn (198.51.100.0/25)\nbackend: " +
                         h.backend.name + " (configured)\nlive firewall: DIFFERS"),
              std::string::npos)
        << r.out;
    h.update(extra);
    EXPECT_TRUE(h.blocked(k_listed));

    // Someone deletes the rule.
    h.backend.delete_a_rule();
    st = h.geoblock("status", extra, {"--json"});
    EXPECT_EQ(st.exit_code, 5) << st.out << h.backend.ruleset();
    EXPECT_NE(st.out.find("\"in_sync\": false"), std::string::npos) << st.out;
    EXPECT_NE(st.out.find("rule missing in INPUT (IPv4)"), std::string::npos) << st.out;
    EXPECT_TRUE(h.reachable(k_listed));
    h.update(extra);
    EXPECT_TRUE(h.blocked(k_listed));
    r = h.geoblock("check", extra, {k_listed});
    EXPECT_NE(r.out.find("live firewall: in sync with the configuration\n"), std::string::npos) << r.out;
  });
}

TEST_P(BackendSuite, FlushedRulesetComesBackWithRestoreFromTheCacheOffline)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    Host h(GetParam());
    h.update("");
    EXPECT_TRUE(h.blocked(k_listed));
    EXPECT_TRUE(h.blocked(k_listed6));
    // The host's nftables.service restarts: "flush ruleset" (on this
    // iptables-nft host that takes iptables' rules too; ipset's sets stay).
    run_checked({"nft", "flush", "ruleset"});
    EXPECT_TRUE(h.reachable(k_listed));
    EXPECT_EQ(h.geoblock("status", "").exit_code, 5);
    // No network: the mirror is gone; restore works from the cache.
    std::filesystem::remove_all(h.dir / "mirror");
    const auto r = h.geoblock("restore", "");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(h.blocked(k_listed));
    EXPECT_TRUE(h.blocked(k_listed6));
    EXPECT_TRUE(h.reachable(k_unlisted));
    const auto st = h.geoblock("status", "");
    EXPECT_EQ(st.exit_code, 0) << st.out << st.err;
    // And after remove, restore brings it back too (the boot after a remove
    // restores what the cache holds).
    ASSERT_EQ(h.geoblock("remove", "").exit_code, 0);
    EXPECT_FALSE(h.backend.holds_state("geoblock")) << h.backend.ruleset();
    EXPECT_TRUE(h.reachable(k_listed));
    ASSERT_EQ(h.geoblock("restore", "").exit_code, 0);
    EXPECT_TRUE(h.blocked(k_listed));
  });
}

// Switching to this backend from each other one, and back: the block
// holds all along (checked after each step), only the chosen backend keeps
// geoblock's state, status is in sync.
TEST_P(BackendSuite, SwitchingFromAnotherBackendLeavesOnlyThisOnesState)
{
  GEOBLOCK_REQUIRE_NETNS();
  if (k_backends.size() < 2) {
    GTEST_SKIP() << "only one backend";
  }
  in_fresh_netns([] {
    Host h(GetParam());
    for (const BackendUnderTest& other : k_backends) {
      if (other.name == h.backend.name) {
        continue;
      }
      SCOPED_TRACE("from " + other.name);
      auto r = h.geoblock("update", "", {"--backend", other.name});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      ASSERT_TRUE(other.holds_state("geoblock"));
      EXPECT_TRUE(h.blocked(k_listed));
      // The other backend's state is a leftover only the dry run lists...
      r = h.geoblock("update", "", {"--dry-run"});
      EXPECT_NE(r.out.find("leftover in backend " + other.name), std::string::npos) << r.out;
      EXPECT_TRUE(other.holds_state("geoblock"));
      // ...and update removes, after this backend holds the block.
      h.update("");
      EXPECT_FALSE(other.holds_state("geoblock")) << other.ruleset();
      EXPECT_TRUE(h.backend.holds_state("geoblock"));
      EXPECT_TRUE(h.blocked(k_listed));
      EXPECT_TRUE(h.blocked(k_listed6));
      EXPECT_TRUE(h.reachable(k_unlisted));
      // A leftover made by hand is drift in status (exit 5)...
      other.plant_leftover();
      r = h.geoblock("status", "");
      EXPECT_EQ(r.exit_code, 5) << r.out;
      EXPECT_NE(r.out.find("leftover in backend " + other.name + " (geoblock now uses " + h.backend.name +
                           "): set geoblock-v4"),
                std::string::npos)
          << r.out;
      // ...and remove takes geoblock's state from both.
      r = h.geoblock("remove", "");
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_FALSE(other.holds_state("geoblock")) << other.ruleset();
      EXPECT_FALSE(h.backend.holds_state("geoblock")) << h.backend.ruleset();
      EXPECT_TRUE(h.reachable(k_listed));
    }
  });
}

// `backend = auto` with the real probe: the host's ruleset decides while
// geoblock has nothing anywhere, then what geoblock chose stays.
TEST(BackendAuto, FollowsTheHostsRulesetThenKeepsWhatItChose)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    Host h(k_backends.at(0));
    const auto dry_run = [&h] {
      const auto r = run_geoblock({"update", "--dry-run", "--config", h.config("", "auto")});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      return r.out;
    };
    // An empty ruleset, iptables installed: iptables.
    EXPECT_NE(dry_run().find("backend: iptables (auto: the host's ruleset has no native nftables table and "
                             "iptables is installed)\n"),
              std::string::npos);
    // iptables-nft's own tables say nothing about the host.
    run_checked({"iptables", "-w", "-A", "INPUT", "-s", "203.0.113.9", "-j", "DROP"});
    EXPECT_NE(dry_run().find("backend: iptables (auto: the host's ruleset has no native"), std::string::npos);
    // A native table (Debian's /etc/nftables.conf): nftables.
    nft({"add", "table", "inet", "filter"});
    EXPECT_NE(dry_run().find("backend: nftables (auto: nf_tables works and the host's ruleset is native "
                             "nftables (table inet filter))\n"),
              std::string::npos);
    auto r = run_geoblock({"update", "--config", h.config("", "auto")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("geoblock: backend nftables (auto: nf_tables works"), std::string::npos) << r.err;
    EXPECT_TRUE(h.blocked(k_listed));
    EXPECT_EQ(util::Json::parse(util::read_file(h.dir / "state/state.json"), "state.json")
                  .get("backend")
                  .as_string(),
              "nftables");
    // The host changes its mind; geoblock keeps what it recorded.
    nft({"delete", "table", "inet", "filter"});
    r = run_geoblock({"status", "--config", h.config("", "auto")});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(
        r.out.find("backend: nftables (auto: the last update used it, " + h.dir / "state/state.json" + ")\n"),
        std::string::npos)
        << r.out;
    // Without the state file, geoblock's live table decides.
    std::filesystem::remove(h.dir / "state/state.json");
    r = run_geoblock({"status", "--config", h.config("", "auto")});
    EXPECT_NE(r.out.find("backend: nftables (auto: geoblock's nftables state exists (sets geoblock-v4, "
                         "geoblock-v6 and "),
              std::string::npos)
        << r.out;
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendSuite, ::testing::ValuesIn(k_backends),
                         [](const ::testing::TestParamInfo<BackendUnderTest>& param) {
                           return param.param.name;
                         });

} // namespace
} // namespace geoblock::test
