// The scene of every coexistence test: the host is the test's network
// namespace (TCP 80 served on both families), a client namespace on a veth
// pair has a listed and an unlisted address per family, a file:// mirror
// lists cn as 198.51.100.0/25 and 2001:db8:1::/48, and geoblock runs in the
// sandbox beside the manager under test, as root on a host would.
#pragma once

#include "coexist/sandbox.hpp"
#include "support/netns.hpp"
#include "support/temp_dir.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace geoblock::test {

inline constexpr const char* k_host = "198.51.100.1";
inline constexpr const char* k_listed = "198.51.100.10";    // in cn's 198.51.100.0/25
inline constexpr const char* k_unlisted = "198.51.100.200"; // in no zone
inline constexpr const char* k_host6 = "2001:db8:ffff::1";
inline constexpr const char* k_listed6 = "2001:db8:1::10";   // in cn's 2001:db8:1::/48
inline constexpr const char* k_unlisted6 = "2001:db8:2::10"; // in no zone

// Empty when `programs` are all installed; otherwise what is missing, for
// GTEST_SKIP.
std::string missing_programs(const std::vector<std::string>& programs);

// GTEST_SKIP unless namespaces work and the manager's programs exist.
#define GEOBLOCK_REQUIRE_MANAGER(...)                                                                        \
  do {                                                                                                       \
    GEOBLOCK_REQUIRE_NETNS();                                                                                \
    if (const std::string why_ = ::geoblock::test::missing_programs({__VA_ARGS__}); !why_.empty()) {         \
      GTEST_SKIP() << why_;                                                                                  \
    }                                                                                                        \
  } while (0)

struct Scene {
  TempDir dir;
  NamedNetns client;
  std::unique_ptr<Sandbox> sandbox;
  std::unique_ptr<TcpServer> web;
  std::unique_ptr<TcpServer> web6;

  // `spec`'s dir is set to the scene's directory.
  explicit Scene(SandboxSpec spec);

  // geoblock.conf for `backend` with `extra` lines; its path.
  std::string config(const std::string& backend, const std::string& extra = "");
  // geoblock COMMAND --config (config(backend, extra)) ARGS... in the sandbox.
  util::RunResult geoblock(const std::string& command, const std::string& backend,
                           const std::string& extra = "", const std::vector<std::string>& args = {});

  // One attempt from `from` to the host's `port` fails (a drop or reject).
  bool blocked(const char* from, int port = 80) const;
  // An attempt from `from` succeeds within 30 s.
  bool reachable(const char* from, int port = 80) const;
  // The listed addresses are blocked and the unlisted ones reach `port`.
  ::testing::AssertionResult holds(int port = 80) const;

  // Runs `event` (named `what`) while a prober connects again and again
  // from the listed IPv4 address to `port`, then checks holds(port).
  // Prints how long the event took and what the prober saw; fails the test
  // when a connection from the listed address got through at any moment.
  void through(const std::string& what, const std::function<void()>& event, int port = 80);
};

} // namespace geoblock::test
