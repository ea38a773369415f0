// Per-source actions and counters on nftables (RulesConfig::by_source),
// with real packets in namespaces: four sources with the four actions and
// an unlisted sender each send exactly N UDP datagrams. The receiver gets
// 0 from the dropping source, N from the counted one, 0 from the rejecting
// one (whose sender sees ICMP errors), fewer than half from the limited
// one, N from the unlisted sender; each source's counter grows by exactly
// N, the unlisted sender moves none, two adjacent sources are counted
// apart, and updates that change the data (another source's, or the
// source's own) keep every counter.
#include "apply/nft_backend.hpp"
#include "apply/state.hpp"
#include "flow/stats.hpp"

#include "apply_test_util.hpp"
#include <arpa/inet.h>
#include <cerrno>
#include <gtest/gtest.h>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace geoblock;
using namespace geoblock::apply;
using namespace geoblock::test;

namespace {

constexpr int k_n = 20;
constexpr int k_port = 9000;
const char* const k_host = "198.51.100.1";

SourceBlock
source(const std::string& name, SourceAction::Kind kind, std::initializer_list<const char*> networks,
       const std::string& rate = {})
{
  SourceBlock s;
  s.source = name;
  s.action.kind = kind;
  s.action.rate = rate;
  s.nets = nets(networks);
  return s;
}

sockaddr_in
address(const std::string& ip, int port)
{
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// Sends k_n datagrams from `from` (in `ns`) to the host at once (the limit
// of 5/second then lets its burst through and hardly more, however slow
// the machine), on a connected socket; returns 1 when an ICMP error came back (the socket
// then reports ECONNREFUSED), 0 when none did, -1 on a setup error. Where
// an error is expected it is waited for (up to 3 s, bounded); where none
// is, one look suffices: a late error could only hide a failure, never
// make one.
int
send_datagrams(const NamedNetns* ns, const std::string& from, bool expect_refusal = false)
{
  return run_in(
      ns,
      [from, expect_refusal] {
        const int fd = socket(AF_INET, SOCK_DGRAM, 0);
        const sockaddr_in me = address(from, 0);
        const sockaddr_in host = address(k_host, k_port);
        if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&me), sizeof me) != 0 ||
            connect(fd, reinterpret_cast<const sockaddr*>(&host), sizeof host) != 0) {
          return -1;
        }
        bool refused = false;
        for (int i = 0; i < k_n; ++i) {
          // A pending ICMP error fails the next send once: sent again, so
          // exactly k_n datagrams leave.
          while (send(fd, "x", 1, 0) < 0) {
            if (errno != ECONNREFUSED) {
              return -1;
            }
            refused = true;
          }
        }
        char b = 0;
        for (int tries = 0; !refused && tries < (expect_refusal ? 300 : 1); ++tries) {
          if (recv(fd, &b, 1, MSG_DONTWAIT) < 0 && errno == ECONNREFUSED) {
            refused = true;
          } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          }
        }
        close(fd);
        return refused ? 1 : 0;
      },
      std::chrono::seconds(20));
}

// Datagrams at the receiver, by source address: what is waiting, and
// then, until every source in `want` has delivered that many (bounded:
// 5 s), what arrives.
std::map<std::string, int>
drain(int fd, const std::map<std::string, int>& want = {})
{
  std::map<std::string, int> got;
  const auto complete = [&] {
    return std::all_of(want.begin(), want.end(), [&](const auto& w) { return got[w.first] >= w.second; });
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  char buf[64];
  sockaddr_in from{};
  socklen_t len = sizeof from;
  while (true) {
    if (recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len) >= 0) {
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &from.sin_addr, text, sizeof text);
      ++got[text];
      len = sizeof from;
      continue;
    }
    if (complete() || std::chrono::steady_clock::now() > deadline) {
      return got;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// The packets each source's chain counted (IPv4: every rule of it is the
// source's action).
std::map<std::string, std::uint64_t>
counted(Backend& backend, const ApplyOptions& o)
{
  std::map<std::string, std::uint64_t> out;
  const LiveState live = backend.read(o, false);
  for (const ChainState& c : live.state.chains) {
    if (c.family != net::Family::V4 || c.chain.rfind("geoblock-src-", 0) != 0) {
      continue;
    }
    std::uint64_t n = 0;
    for (const Counters& k : c.counters) {
      n += k.packets;
    }
    out[c.chain.substr(std::string("geoblock-src-").size())] = n;
  }
  return out;
}

} // namespace

TEST(BySource, EachActionDoesWhatItSaysAndEachSourceIsCountedExactlyAcrossUpdates)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns(
      [] {
        TempDir dir;
        NamedNetns client;
        link_veth(nullptr, "gbh", {std::string(k_host) + "/24"}, &client, "gbc",
                  {"198.51.100.10/24", "198.51.100.20/24", "198.51.100.30/24", "198.51.100.40/24",
                   "198.51.100.50/24"});
        ApplyOptions o = options_in(dir);
        o.families = net::Families::V4;
        o.by_source = true;
        // nz and au are adjacent (.8/29, .16/29).
        o.sources = {source("nz", SourceAction::Kind::Drop, {"198.51.100.8/29"}),
                     source("au", SourceAction::Kind::Count, {"198.51.100.16/29"}),
                     source("cn", SourceAction::Kind::Reject, {"198.51.100.24/29"}),
                     source("ru", SourceAction::Kind::Limit, {"198.51.100.40/29"}, "5/sec")};
        auto backend = make_nftables_backend();
        backend->apply({}, o);
        const auto before = counted(*backend, o);
        ASSERT_EQ(before.size(), 4u);
        for (const auto& [name, n] : before) {
          EXPECT_EQ(n, 0u) << name;
        }

        const int rx = socket(AF_INET, SOCK_DGRAM, 0);
        const sockaddr_in host = address(k_host, k_port);
        ASSERT_EQ(bind(rx, reinterpret_cast<const sockaddr*>(&host), sizeof host), 0);
        // Neighbour resolution first (an unlisted sender's datagram): no
        // datagram of the test may wait on it.
        ASSERT_GE(send_datagrams(&client, "198.51.100.50"), 0);
        drain(rx, {{"198.51.100.50", k_n}});

        std::map<std::string, int> refused;
        for (const char* from :
             {"198.51.100.10", "198.51.100.20", "198.51.100.30", "198.51.100.40", "198.51.100.50"}) {
          refused[from] = send_datagrams(&client, from, std::string(from) == "198.51.100.30");
          ASSERT_GE(refused[from], 0) << from;
        }
        // The counted and the unlisted sender's datagrams all arrive; the
        // unlisted one sent last, so every earlier datagram has been
        // decided on by then (one veth, in order).
        auto got = drain(rx, {{"198.51.100.20", k_n}, {"198.51.100.50", k_n}});
        EXPECT_EQ(got["198.51.100.10"], 0) << "drop";
        EXPECT_EQ(got["198.51.100.20"], k_n) << "count: counted, never dropped";
        EXPECT_EQ(got["198.51.100.30"], 0) << "reject";
        EXPECT_EQ(refused["198.51.100.30"], 1) << "the rejected sender sees ICMP errors";
        EXPECT_EQ(refused["198.51.100.10"], 0) << "a drop sends nothing back";
        EXPECT_GT(got["198.51.100.40"], 0) << "limit: within the rate passes";
        EXPECT_LT(got["198.51.100.40"], k_n / 2) << "limit: over the rate dropped";
        EXPECT_EQ(got["198.51.100.50"], k_n) << "unlisted";

        auto after = counted(*backend, o);
        for (const char* name : {"nz", "au", "cn", "ru"}) {
          EXPECT_EQ(after[name], static_cast<std::uint64_t>(k_n)) << name << ": exactly the datagrams sent";
        }
        // What `geoblock stats` shows of them.
        const auto rows = flow::counters_of(backend->read(o, false).state, o);
        const std::map<std::string, std::string> actions = {
            {"nz", "drop"}, {"au", "count"}, {"cn", "reject"}, {"ru", "limit"}};
        ASSERT_EQ(rows.size(), 4u);
        for (const auto& r : rows) {
          EXPECT_EQ(r.packets, static_cast<std::uint64_t>(k_n)) << r.source;
          EXPECT_EQ(r.bytes, static_cast<std::uint64_t>(k_n) * 29) << r.source << ": 20 + 8 + 1 bytes each";
          EXPECT_EQ(r.action, actions.at(r.source));
          EXPECT_EQ(r.family, "v4");
          EXPECT_EQ(r.direction, "in");
          EXPECT_EQ(r.hook, "raw");
        }

        // Another source's data changes: nz's counter is untouched; then
        // nz's own data changes (a network added, one split): kept.
        o.sources[1].nets = nets({"198.51.100.16/29", "203.0.113.0/24"});
        backend->apply({}, o);
        EXPECT_EQ(counted(*backend, o), after) << "an update of au's data";
        o.sources[0].nets = nets({"198.51.100.8/30", "198.51.100.12/30", "192.0.2.0/24"});
        backend->apply({}, o);
        EXPECT_EQ(counted(*backend, o), after) << "an update of nz's own data";
        ASSERT_GE(send_datagrams(&client, "198.51.100.10"), 0);
        EXPECT_EQ(counted(*backend, o)["nz"], 2u * k_n) << "and it goes on counting";
        EXPECT_EQ(drain(rx)["198.51.100.10"], 0);
        close(rx);
      },
      std::chrono::seconds(120));
}
