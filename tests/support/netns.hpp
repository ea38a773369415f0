// Test helpers for code that touches the firewall: every such test runs in
// network namespaces it creates, so the host's own firewall is never
// changed. Addresses used: 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32.
//
//   TEST(Apply, Something) {
//     GEOBLOCK_REQUIRE_NETNS();
//     geoblock::test::in_fresh_netns([] {
//       geoblock::test::NamedNetns client;
//       geoblock::test::link_veth(nullptr, "gb0", {"198.51.100.1/24"}, &client, "gb1", {"198.51.100.10/24"});
//       geoblock::test::TcpServer server(nullptr, "0.0.0.0", 80);
//       EXPECT_TRUE(geoblock::test::tcp_connect(&client, "198.51.100.10", "198.51.100.1", 80));
//     });
//   }
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace geoblock::test {

// Empty when this process can create network namespaces (root, unshare
// works); otherwise the reason, for GTEST_SKIP.
std::string netns_unavailable();

#define GEOBLOCK_REQUIRE_NETNS()                                                                             \
  do {                                                                                                       \
    if (const std::string why_ = ::geoblock::test::netns_unavailable(); !why_.empty()) {                     \
      GTEST_SKIP() << why_;                                                                                  \
    }                                                                                                        \
  } while (0)

// Runs `body` in a forked child inside a new, empty network namespace
// (unshare(CLONE_NEWNET), loopback up). libipset, iptables-restore and every
// process the body starts see a private firewall. Failed expectations and
// exceptions in the child fail the calling test; the child is killed after
// `timeout`.
void in_fresh_netns(const std::function<void()>& body,
                    std::chrono::seconds timeout = std::chrono::seconds(150));

// Runs argv (no shell), returns its standard output; throws
// std::runtime_error with its standard error when it fails.
std::string run_checked(const std::vector<std::string>& argv, const std::string& input = {});

// A named namespace ("ip netns add gbt-<pid>-<n>") with loopback up,
// deleted by the destructor (which also kills the processes inside).
class NamedNetns {
public:
  NamedNetns();
  ~NamedNetns();
  NamedNetns(const NamedNetns&) = delete;
  NamedNetns& operator=(const NamedNetns&) = delete;

  const std::string& name() const { return m_name; }
  // Runs argv inside the namespace ("ip netns exec NAME ..."); see run_checked.
  std::string exec(const std::vector<std::string>& argv) const;

private:
  std::string m_name;
};

// Runs `fn` in a forked child that entered `ns` (nullptr: stays in the
// current namespace); returns fn's result as the exit code, or -1 when the
// child died or was killed after `timeout`.
int run_in(const NamedNetns* ns, const std::function<int()>& fn, std::chrono::milliseconds timeout);

// Joins two namespaces (nullptr: the current one) with a veth pair and
// gives each end its addresses ("198.51.100.1/24", "2001:db8:1::1/64";
// IPv6 addresses are added with nodad so they work at once).
void link_veth(const NamedNetns* a, const std::string& a_if, const std::vector<std::string>& a_addrs,
               const NamedNetns* b, const std::string& b_if, const std::vector<std::string>& b_addrs);

// One TCP connection attempt from `ns` (nullptr: current namespace), bound
// to source address `from`, to `to`:`port`. True when the handshake
// completes within `timeout`.
bool tcp_connect(const NamedNetns* ns, const std::string& from, const std::string& to, int port,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

// A positive check that survives load: up to `attempts` tcp_connect tries
// of a second each (a fresh layout needs a moment for neighbour discovery,
// and one retransmitted SYN must not fail a test). Negative checks use one
// tcp_connect: a blocked connection fails every time.
bool eventually_connects(const NamedNetns* ns, const std::string& from, const std::string& to, int port,
                         int attempts = 10);

// What one TCP connection attempt saw: the handshake completed, it was
// refused (a reset or an ICMP error such as a reject), or nothing came
// back within the time limit (a drop).
enum class TcpOutcome { Connected = 0, Refused = 1, NoReply = 2, Error = 3 };
struct TcpAttempt {
  const NamedNetns* ns = nullptr; // where the connecting socket lives (nullptr: here)
  std::string from;               // its source address
  std::string to;
  int port = 0;
};
// All attempts at once, each in a process of its own, each waiting at
// most `timeout`; the outcomes in the order of `attempts`.
std::vector<TcpOutcome> tcp_attempts(const std::vector<TcpAttempt>& attempts,
                                     std::chrono::milliseconds timeout);

// The output of an iptables-save style command (argv) without its comment
// lines ("# Generated by ... on <time>", "# Completed on <time>"), which
// change every second: what a test compares.
std::string saved_rules(const std::vector<std::string>& argv);

// A TCP server in `ns` (nullptr: current namespace) listening on
// addr:port ("0.0.0.0", "::" for IPv6 only) that accepts and closes every
// connection. Ready when constructed, stopped by the destructor.
class TcpServer {
public:
  TcpServer(const NamedNetns* ns, const std::string& addr, int port);
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

private:
  int m_pid = -1;
};

// Connects again and again (from, to, port as tcp_connect) in a background
// process until stop() or `max_duration`, counting outcomes.
class Prober {
public:
  struct Counts {
    int connected = 0;
    int failed = 0;
  };
  Prober(const NamedNetns* ns, const std::string& from, const std::string& to, int port,
         std::chrono::milliseconds attempt_timeout = std::chrono::milliseconds(500),
         std::chrono::seconds max_duration = std::chrono::seconds(120));
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;
  Counts stop();

private:
  int m_pid = -1;
  int m_stop_fd = -1;
  int m_result_fd = -1;
};

} // namespace geoblock::test
