#include "coexist/scene.hpp"

#include "support/geoblock_binary.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace geoblock::test {

std::string
missing_programs(const std::vector<std::string>& programs)
{
  std::string missing;
  for (const std::string& p : programs) {
    if (!util::program_exists(p)) {
      missing += (missing.empty() ? "" : ", ") + p;
    }
  }
  return missing.empty()
             ? std::string()
             : "not installed: " + missing + " (scripts/setup installs them without starting them)";
}

Scene::Scene(SandboxSpec spec)
{
  spec.dir = dir.path();
  sandbox = std::make_unique<Sandbox>(spec);
  const std::string d4 = dir / "mirror/ipblocks/data/countries";
  const std::string d6 = dir / "mirror/ipv6/ipaddresses/blocks";
  std::filesystem::create_directories(d4);
  std::filesystem::create_directories(d6);
  std::ofstream(d4 + "/cn.zone") << "198.51.100.0/25\n";
  std::ofstream(d6 + "/cn.zone") << "2001:db8:1::/48\n";
  link_veth(nullptr, "gbh", {std::string(k_host) + "/24", std::string(k_host6) + "/32"}, &client, "gbc",
            {std::string(k_listed) + "/24", std::string(k_unlisted) + "/24", std::string(k_listed6) + "/32",
             std::string(k_unlisted6) + "/32"});
  web = std::make_unique<TcpServer>(nullptr, "0.0.0.0", 80);
  web6 = std::make_unique<TcpServer>(nullptr, "::", 80);
}

std::string
Scene::config(const std::string& backend, const std::string& extra)
{
  return dir.write("geoblock.conf", "countries = cn\nbackend = " + backend + "\nbase-url = file://" +
                                        dir / "mirror" + "\ncache-dir = " + dir / "cache" +
                                        "\nstate-dir = " + dir / "state" + "\nlock-file = " + dir / "lock" +
                                        "\nlock-wait = 10\n" + extra);
}

util::RunResult
Scene::geoblock(const std::string& command, const std::string& backend, const std::string& extra,
                const std::vector<std::string>& args)
{
  std::vector<std::string> argv{GEOBLOCK_BINARY, command, "--config", config(backend, extra)};
  argv.insert(argv.end(), args.begin(), args.end());
  return sandbox->run(argv, {}, std::chrono::seconds(90));
}

bool
Scene::blocked(const char* from, int port) const
{
  const char* to = std::string(from).find(':') == std::string::npos ? k_host : k_host6;
  return !tcp_connect(&client, from, to, port, std::chrono::milliseconds(500));
}

bool
Scene::reachable(const char* from, int port) const
{
  // Bounded by time, not by attempts: a service still starting (a
  // container after a restart) refuses at once, and a loaded machine may
  // take seconds.
  const char* to = std::string(from).find(':') == std::string::npos ? k_host : k_host6;
  return time_until([&] { return tcp_connect(&client, from, to, port, std::chrono::milliseconds(1000)); },
                    std::chrono::seconds(30))
      .has_value();
}

::testing::AssertionResult
Scene::holds(int port) const
{
  // The unlisted first: once they get through, the service is up, and a
  // failed attempt from a listed address is the block, not a service
  // still starting.
  for (const char* from : {k_unlisted, k_unlisted6}) {
    if (!reachable(from, port)) {
      return ::testing::AssertionFailure() << from << " (not listed) cannot reach port " << port;
    }
  }
  for (const char* from : {k_listed, k_listed6}) {
    if (!blocked(from, port)) {
      return ::testing::AssertionFailure() << from << " (listed) reached port " << port;
    }
  }
  return ::testing::AssertionSuccess();
}

void
Scene::through(const std::string& what, const std::function<void()>& event, int port)
{
  Prober listed(&client, k_listed, k_host, port, std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  event();
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(holds(port)) << "after " << what;
  const Prober::Counts c = listed.stop();
  std::printf("%s (%.1f s): from the listed address %d connections got through, %d did not\n", what.c_str(),
              took, c.connected, c.failed);
  std::fflush(stdout);
  EXPECT_EQ(c.connected, 0) << "the block was gone for a moment during " << what;
}

} // namespace geoblock::test
