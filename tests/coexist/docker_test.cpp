// geoblock beside a real dockerd (Debian 12's docker.io 20.10, which
// programs iptables-nft) in the test's namespaces (coexist/sandbox.hpp),
// with a container publishing a port: busybox httpd from an image imported
// from Debian's busybox-static (no registry is reachable). A listed source
// cannot reach the published port and an unlisted one can, on both
// backends and with chain = DOCKER-USER, across dockerd and container
// restarts (docs/operations.md, "Docker").
#include "coexist/scene.hpp"
#include "support/geoblock_binary.hpp"
#include "util/file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

namespace geoblock::test {
namespace {

constexpr int k_published = 8080;
constexpr const char* k_docker = "/usr/bin/docker"; // docker.io's client, the daemon's version

// dockerd with everything of its own under the test's directory: data
// (vfs: no overlay module needed), exec root, pid file, socket; the bridge
// on 192.0.2.0/24; containers' cgroups under a parent of the test's, by
// the cgroupfs driver (on cgroup v2 Docker 20.10 would otherwise ask
// systemd, whose bus the sandbox hides).
class Docker {
public:
  explicit Docker(Scene& scene)
      : m_scene(scene), m_dir(scene.dir / "docker"), m_cgroup("geoblock-test-" + std::to_string(::getpid()))
  {
    std::filesystem::create_directories(m_dir + "/rootfs/bin");
    std::filesystem::create_directories(m_dir + "/rootfs/www");
  }
  ~Docker()
  {
    if (m_pid > 0) {
      m_scene.sandbox->run({k_docker, "-H", "unix://" + m_dir + "/sock", "rm", "-f", "web"});
      m_scene.sandbox->stop(m_pid, std::chrono::seconds(60));
    }
    remove_cgroup(m_cgroup);
  }

  void start()
  {
    m_pid = m_scene.sandbox->start({"dockerd", "--data-root", m_dir + "/data", "--exec-root", m_dir + "/exec",
                                    "--pidfile", m_dir + "/pid", "-H", "unix://" + m_dir + "/sock", "--bip",
                                    "192.0.2.1/24", "--storage-driver", "vfs", "--exec-opt",
                                    "native.cgroupdriver=cgroupfs", "--cgroup-parent", m_cgroup},
                                   m_dir + "/dockerd.log");
    const auto ready = time_until(
        [&] {
          return m_scene.sandbox->run({k_docker, "-H", "unix://" + m_dir + "/sock", "version"}).ok();
        },
        std::chrono::seconds(60));
    ASSERT_TRUE(ready) << "dockerd did not start: " << util::read_file(m_dir + "/dockerd.log");
  }
  // SIGTERM, as systemctl stop does: dockerd stops the containers and exits.
  void stop()
  {
    EXPECT_TRUE(m_scene.sandbox->stop(m_pid, std::chrono::seconds(60)));
    m_pid = -1;
  }
  std::string cli(std::vector<std::string> args)
  {
    args.insert(args.begin(), {k_docker, "-H", "unix://" + m_dir + "/sock"});
    return m_scene.sandbox->run_checked(args, {}, std::chrono::seconds(120));
  }
  // The image (busybox and a page), and the container publishing its port
  // 80 as the host's 8080, restarted with dockerd.
  void run_web()
  {
    std::filesystem::copy_file("/bin/busybox", m_dir + "/rootfs/bin/busybox",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(m_dir + "/rootfs/bin/busybox", std::filesystem::perms(0755));
    m_scene.dir.write("docker/rootfs/www/index.html", "geoblock\n");
    m_scene.sandbox->run_checked({"tar", "-C", m_dir + "/rootfs", "-cf", m_dir + "/image.tar", "."});
    cli({"import", m_dir + "/image.tar", "geoblock-test:1"});
    // httpd as PID 1 ignores SIGTERM: killed after a second, not ten.
    cli({"run", "-d", "--name", "web", "--restart", "always", "--stop-timeout", "1", "-p",
         std::to_string(k_published) + ":80", "geoblock-test:1", "/bin/busybox", "httpd", "-f", "-p", "80",
         "-h", "/www"});
  }
  // The orderly end: the container, then dockerd; nothing of Docker's may
  // be left inside (no containerd-shim).
  void finish()
  {
    cli({"rm", "-f", "web"});
    stop();
    const auto left =
        time_until([&] { return m_scene.sandbox->processes().empty(); }, std::chrono::seconds(20));
    std::string list;
    for (const std::string& p : m_scene.sandbox->processes()) {
      list += p + "\n";
    }
    EXPECT_TRUE(left) << "left behind:\n" << list;
  }

private:
  Scene& m_scene;
  std::string m_dir;
  std::string m_cgroup;
  pid_t m_pid = -1;
};

SandboxSpec
docker_spec()
{
  SandboxSpec spec;
  spec.cgroups = true;
  return spec;
}

bool
contains(const std::string& text, const std::string& part)
{
  return text.find(part) != std::string::npos;
}

#define GEOBLOCK_REQUIRE_DOCKER()                                                                            \
  GEOBLOCK_REQUIRE_MANAGER("dockerd", k_docker, "containerd", "runc", "/bin/busybox", "nsenter", "tar")

struct DockerSetup {
  std::string name;
  std::string backend;
  std::string extra; // configuration lines
};

void
PrintTo(const DockerSetup& s, std::ostream* os)
{
  *os << s.name;
}

class DockerBeside : public ::testing::TestWithParam<DockerSetup> {};

TEST_P(DockerBeside, APublishedPortIsBlockedAcrossDaemonAndContainerRestarts)
{
  GEOBLOCK_REQUIRE_DOCKER();
  in_fresh_netns(
      [] {
        const DockerSetup& setup = GetParam();
        Scene s(docker_spec());
        Docker docker(s);
        // geoblock first, as at boot: DOCKER-USER does not exist yet.
        const util::RunResult up = s.geoblock("update", setup.backend, setup.extra);
        ASSERT_EQ(up.exit_code, 0) << up.err;
        docker.start();
        docker.run_web();
        ASSERT_TRUE(s.reachable(k_unlisted, k_published));
        EXPECT_TRUE(s.holds(k_published));
        EXPECT_TRUE(s.holds(80)); // the host's own service too

        const util::RunResult st = s.geoblock("status", setup.backend, setup.extra);
        EXPECT_EQ(st.exit_code, 0) << st.out << st.err;
        EXPECT_TRUE(contains(st.out, "  Docker: chains DOCKER and DOCKER-USER (iptables); block protected: "))
            << st.out;
        EXPECT_FALSE(contains(st.err, "warning")) << st.err;

        s.through(
            "dockerd restart",
            [&] {
              docker.stop();
              docker.start();
            },
            k_published);
        s.through(
            "container restart",
            [&] {
              docker.cli({"restart", "web"});
            },
            k_published);
        EXPECT_EQ(s.geoblock("status", setup.backend, setup.extra).exit_code, 0);
        docker.finish();
      },
      std::chrono::seconds(240));
}

INSTANTIATE_TEST_SUITE_P(Setups, DockerBeside,
                         ::testing::Values(DockerSetup{"iptables", "iptables", ""},
                                           DockerSetup{"nftables", "nftables", ""},
                                           DockerSetup{"iptables_DOCKER_USER", "iptables",
                                                       "chain = DOCKER-USER\nchain = INPUT\n"}),
                         [](const ::testing::TestParamInfo<DockerSetup>& p) { return p.param.name; });

TEST(Docker, DockerUserNeedsInputAndComesBackAfterDockerRecreatesItForwardIsNotEnough)
{
  GEOBLOCK_REQUIRE_DOCKER();
  in_fresh_netns(
      [] {
        Scene s(docker_spec());
        Docker docker(s);
        const std::string alone = "chain = DOCKER-USER\n";
        ASSERT_EQ(s.geoblock("update", "iptables", alone).exit_code, 0);
        docker.start();
        docker.run_web();
        ASSERT_TRUE(s.reachable(k_unlisted, k_published));
        // DOCKER-USER sees the forwarded IPv4 connection; docker-proxy
        // answers IPv6 on the host itself, past it.
        EXPECT_TRUE(s.blocked(k_listed, k_published));
        EXPECT_TRUE(s.reachable(k_listed6, k_published));
        const util::RunResult st = s.geoblock("status", "iptables", alone);
        EXPECT_TRUE(contains(st.out,
                             "  Docker: chains DOCKER and DOCKER-USER (iptables); block NOT PROTECTED: "
                             "docker-proxy answers IPv6 connections"))
            << st.out;
        EXPECT_TRUE(contains(st.err, "geoblock: warning: Docker (")) << st.err;

        const std::string with_input = "chain = DOCKER-USER\nchain = INPUT\n";
        ASSERT_EQ(s.geoblock("update", "iptables", with_input).exit_code, 0);
        EXPECT_TRUE(s.holds(k_published));

        // Somebody deletes DOCKER-USER (a saved ruleset restored without
        // it); Docker makes it again, empty, when it next starts.
        docker.stop();
        for (const std::vector<std::string>& argv :
             std::vector<std::vector<std::string>>{{"iptables", "-w", "-D", "FORWARD", "-j", "DOCKER-USER"},
                                                   {"iptables", "-w", "-F", "DOCKER-USER"},
                                                   {"iptables", "-w", "-X", "DOCKER-USER"}}) {
          s.sandbox->run_checked(argv);
        }
        docker.start();
        ASSERT_TRUE(s.reachable(k_unlisted, k_published));
        EXPECT_TRUE(s.reachable(k_listed, k_published)) << "the rule in DOCKER-USER survived its deletion";
        const util::RunResult drift = s.geoblock("status", "iptables", with_input);
        EXPECT_EQ(drift.exit_code, 5) << drift.out;
        EXPECT_TRUE(contains(drift.out, "rule missing in DOCKER-USER (IPv4)")) << drift.out;
        // restore (the cache, no network) puts it back.
        const auto start = std::chrono::steady_clock::now();
        const util::RunResult restore = s.geoblock("restore", "iptables", with_input);
        const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EXPECT_EQ(restore.exit_code, 0) << restore.err;
        std::printf("DOCKER-USER recreated by dockerd: geoblock restore put the block back in %.2f s\n",
                    took);
        EXPECT_TRUE(s.holds(k_published));

        // chain = FORWARD holds only until Docker next starts: Docker puts
        // its rules (the ACCEPT of published ports among them) above
        // geoblock's, which is what status warns about.
        const std::string forward = "chain = FORWARD\nchain = INPUT\n";
        ASSERT_EQ(s.geoblock("update", "iptables", forward).exit_code, 0);
        EXPECT_TRUE(s.holds(k_published));
        docker.stop();
        docker.start();
        ASSERT_TRUE(s.reachable(k_unlisted, k_published));
        EXPECT_TRUE(s.reachable(k_listed, k_published)) << "Docker left geoblock's rule first in FORWARD";
        const util::RunResult below = s.geoblock("status", "iptables", forward);
        EXPECT_EQ(below.exit_code, 5) << below.out;
        EXPECT_TRUE(
            contains(below.out, "block NOT PROTECTED: Docker puts its rules above geoblock's in FORWARD"))
            << below.out;
        docker.finish();
      },
      std::chrono::seconds(240));
}

} // namespace
} // namespace geoblock::test
