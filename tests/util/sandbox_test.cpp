// The fetcher's confinement, observed from inside a forked child: each call
// the filter forbids fails, the calls libcurl needs still work, and (as
// root) the drop to the geoblock user leaves no capability behind.
#include "core/error.hpp"
#include "support/temp_dir.hpp"
#include "util/file.hpp"
#include "util/sandbox.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <map>
#include <sched.h>
#include <sstream>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace geoblock::util {
namespace {

// Runs `body` in a forked child and returns what it wrote to `out`
// ("name errno" lines), or "child died" text.
std::string
in_child(const std::function<void(std::ostringstream& out)>& body)
{
  int p[2];
  if (::pipe(p) != 0) {
    return "pipe failed";
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    std::ostringstream out;
    try {
      body(out);
    } catch (const std::exception& e) {
      out << "exception " << e.what() << "\n";
    }
    const std::string s = out.str();
    [[maybe_unused]] const ssize_t n = ::write(p[1], s.data(), s.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) {
    text += "child died with signal " + std::to_string(WTERMSIG(status)) + "\n";
  }
  return text;
}

std::map<std::string, std::string>
parse(const std::string& text)
{
  std::map<std::string, std::string> m;
  std::istringstream in(text);
  for (std::string name, value; in >> name >> value;) {
    m[name] = value;
  }
  return m;
}

// errno of a raw system call that is expected to fail ("0" when it worked).
std::string
err(long rc)
{
  return rc == -1 ? std::to_string(errno) : "0";
}

const std::string k_eperm = std::to_string(EPERM);

// Every call the fetcher's filter denies, made raw (no glibc wrapper in
// between). The arguments are such that without the filter the kernel
// would fail them differently (ENOENT, EINVAL, ...) or succeed harmlessly
// in this child, as root too: nothing here may touch the host if the
// filter were missing.
void
forbidden_calls(std::ostringstream& out)
{
  out << "socket_netlink " << err(::socket(AF_NETLINK, SOCK_RAW, 0)) << "\n";
  out << "socket_packet " << err(::socket(AF_PACKET, SOCK_RAW, 0)) << "\n";
  out << "socket_unspec " << err(::socket(AF_UNSPEC, SOCK_STREAM, 0)) << "\n";
  out << "socket_vsock " << err(::socket(40 /* AF_VSOCK */, SOCK_STREAM, 0)) << "\n";
  out << "ptrace " << err(::syscall(SYS_ptrace, PTRACE_PEEKDATA, ::getppid(), 0, 0)) << "\n";
  out << "mount " << err(::syscall(SYS_mount, "none", "/nonexistent-geoblock", "tmpfs", 0, nullptr)) << "\n";
  out << "umount2 " << err(::syscall(SYS_umount2, "/nonexistent-geoblock", 0)) << "\n";
  out << "pivot_root " << err(::syscall(SYS_pivot_root, "/nonexistent-geoblock", "/nonexistent-geoblock"))
      << "\n";
  out << "init_module " << err(::syscall(SYS_init_module, nullptr, 0, "")) << "\n";
  out << "finit_module " << err(::syscall(SYS_finit_module, -1, "", 0)) << "\n";
  out << "delete_module " << err(::syscall(SYS_delete_module, "geoblock_none", 0)) << "\n";
  out << "bpf " << err(::syscall(SYS_bpf, BPF_PROG_LOAD, nullptr, 0)) << "\n";
  out << "keyctl " << err(::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)) << "\n";
  out << "add_key "
      << err(::syscall(SYS_add_key, "geoblock-no-such-type", "geoblock", "x", 1, KEY_SPEC_SESSION_KEYRING))
      << "\n";
  out << "request_key " << err(::syscall(SYS_request_key, "user", "geoblock", nullptr, 0)) << "\n";
  out << "kexec_load "
      << err(::syscall(SYS_kexec_load, 0, 0, nullptr, 0xffff0000ul /* no such architecture */)) << "\n";
  out << "reboot " << err(::syscall(SYS_reboot, 0, 0, 0, nullptr)) << "\n"; // bad magic: EINVAL
  // To the ids the process has already: the kernel would allow it.
  out << "setuid " << err(::syscall(SYS_setuid, ::getuid())) << "\n";
  out << "setgid " << err(::syscall(SYS_setgid, ::getgid())) << "\n";
  out << "setresuid " << err(::syscall(SYS_setresuid, -1, -1, -1)) << "\n";
  out << "setgroups " << err(::syscall(SYS_setgroups, 0, nullptr)) << "\n";
  out << "personality " << err(::syscall(SYS_personality, 0xffffffff)) << "\n";
  out << "userfaultfd " << err(::syscall(SYS_userfaultfd, 0)) << "\n";
  out << "perf_event_open " << err(::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0)) << "\n";
  out << "unshare " << err(::syscall(SYS_unshare, CLONE_NEWUSER)) << "\n";
  out << "execve " << err(::syscall(SYS_execve, "/nonexistent-geoblock", nullptr, nullptr)) << "\n";
  // CLONE_SIGHAND without CLONE_VM: EINVAL without the filter.
  out << "fork " << err(::syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, nullptr, nullptr, 0)) << "\n";
  out << "clone3 " << err(::syscall(SYS_clone3, nullptr, 0)) << "\n";
  char c = 'x';
  out << "tiocsti " << err(::syscall(SYS_ioctl, STDIN_FILENO, TIOCSTI, &c)) << "\n";
}

// What libcurl and the resolver need.
void
allowed_calls(std::ostringstream& out)
{
  const int in4 = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int in6 = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int unx = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  out << "socket_inet " << (in4 >= 0 ? "ok" : std::to_string(errno)) << "\n";
  out << "socket_inet6 " << (in6 >= 0 || errno == EAFNOSUPPORT ? "ok" : std::to_string(errno)) << "\n";
  out << "socket_unix " << (unx >= 0 ? "ok" : std::to_string(errno)) << "\n";
  bool ran = false;
  std::thread t([&ran] { ran = true; });
  t.join();
  out << "thread " << (ran ? "ok" : "no") << "\n";
  const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  out << "open " << (fd >= 0 ? "ok" : std::to_string(errno)) << "\n";
}

void
expect_forbidden(const std::map<std::string, std::string>& r)
{
  for (const char* name :
       {"socket_netlink", "socket_packet", "socket_unspec", "socket_vsock",    "ptrace",
        "mount",          "umount2",       "pivot_root",    "init_module",     "finit_module",
        "delete_module",  "bpf",           "keyctl",        "add_key",         "request_key",
        "kexec_load",     "reboot",        "setuid",        "setgid",          "setresuid",
        "setgroups",      "personality",   "userfaultfd",   "perf_event_open", "unshare",
        "execve",         "fork",          "tiocsti"}) {
    ASSERT_TRUE(r.count(name)) << name;
    EXPECT_EQ(r.at(name), k_eperm) << name << " is not refused by the filter";
  }
  EXPECT_EQ(r.at("clone3"), std::to_string(ENOSYS)) << "clone3 must fall back to clone";
}

TEST(Confinement, FetcherFilterRefusesEachForbiddenCallAndKeepsWhatLibcurlNeeds)
{
  const std::string text = in_child([](std::ostringstream& out) {
    confine(Confinement::Fetcher);
    const ProcessPrivileges p = process_privileges();
    out << "nnp " << p.no_new_privs << "\nseccomp " << p.seccomp << "\n";
    forbidden_calls(out);
    allowed_calls(out);
  });
  const auto r = parse(text);
  ASSERT_EQ(r.count("child"), 0u) << text;
  ASSERT_EQ(r.count("exception"), 0u) << text;
  EXPECT_EQ(r.at("nnp"), "1");
  EXPECT_EQ(r.at("seccomp"), "2");
  expect_forbidden(r);
  for (const char* name : {"socket_inet", "socket_inet6", "socket_unix", "thread", "open"}) {
    EXPECT_EQ(r.at(name), "ok") << name;
  }
}

// systemd's SystemCallFilter=@system-service refuses the seccomp() call
// itself (EPERM): the filters must load anyway (through prctl) and work.
TEST(Confinement, FiltersLoadWhereTheSeccompCallIsRefusedAsUnderSystemd)
{
  const std::string text = in_child([](std::ostringstream& out) {
    sock_filter program[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof program / sizeof program[0]), program};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
      out << "exception setup\n";
      return;
    }
    out << "seccomp_call " << err(::syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, nullptr)) << "\n";
    confine(Confinement::Fetcher);
    forbidden_calls(out);
    allowed_calls(out);
  });
  const auto r = parse(text);
  ASSERT_EQ(r.count("exception"), 0u) << text;
  EXPECT_EQ(r.at("seccomp_call"), k_eperm);
  expect_forbidden(r);
  EXPECT_EQ(r.at("socket_inet"), "ok");
}

TEST(Confinement, PrivilegedFilterRefusesTcpAndUdpButNotNetlink)
{
  const std::string text = in_child([](std::ostringstream& out) {
    confine(Confinement::Privileged);
    out << "tcp4 " << err(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) << "\n";
    out << "udp4 " << err(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) << "\n";
    out << "tcp6 " << err(::socket(AF_INET6, SOCK_STREAM, 0)) << "\n";
    out << "udp6 " << err(::socket(AF_INET6, SOCK_DGRAM, 0)) << "\n";
    out << "netlink " << err(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 16 /* NETLINK_GENERIC */)) << "\n";
    out << "unix " << err(::socket(AF_UNIX, SOCK_STREAM, 0)) << "\n";
  });
  const auto r = parse(text);
  ASSERT_EQ(r.count("exception"), 0u) << text;
  for (const char* name : {"tcp4", "udp4", "tcp6", "udp6"}) {
    EXPECT_EQ(r.at(name), k_eperm) << name;
  }
  EXPECT_EQ(r.at("netlink"), "0");
  EXPECT_EQ(r.at("unix"), "0");
}

TEST(Confinement, DropToTheGeoblockUserLeavesNoCapability)
{
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root (setuid to the geoblock user)";
  }
  const auto account = lookup_account("geoblock");
  if (!account) {
    GTEST_SKIP() << "no user 'geoblock' (scripts/setup creates it)";
  }
  const std::string text = in_child([&account](std::ostringstream& out) {
    drop_privileges(*account);
    confine(Confinement::Fetcher);
    const ProcessPrivileges p = process_privileges();
    out << "uid " << p.uid << "\neuid " << p.euid << "\ngid " << p.gid << "\negid " << p.egid << "\ngroups "
        << (p.groups.empty() ? "-" : p.groups) << "\ncaps " << (p.cap_eff | p.cap_prm | p.cap_inh | p.cap_amb)
        << "\nnnp " << p.no_new_privs << "\nseccomp " << p.seccomp << "\n";
    forbidden_calls(out);
  });
  const auto r = parse(text);
  ASSERT_EQ(r.count("exception"), 0u) << text;
  EXPECT_EQ(r.at("uid"), std::to_string(account->uid));
  EXPECT_EQ(r.at("euid"), std::to_string(account->uid));
  EXPECT_EQ(r.at("gid"), std::to_string(account->gid));
  EXPECT_EQ(r.at("egid"), std::to_string(account->gid));
  EXPECT_EQ(r.at("groups"), "-");
  EXPECT_EQ(r.at("caps"), "0");
  EXPECT_EQ(r.at("nnp"), "1");
  EXPECT_EQ(r.at("seccomp"), "2");
  expect_forbidden(r);
}

TEST(Confinement, AMissingUserIsAnErrorSayingHowToCreateIt)
{
  try {
    require_account("geoblock-no-such-user");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'geoblock-no-such-user' does not exist"), std::string::npos) << what;
    EXPECT_NE(what.find("adduser --system --group --no-create-home geoblock-no-such-user"), std::string::npos)
        << what;
    EXPECT_NE(what.find("security.md"), std::string::npos) << what;
  }
  EXPECT_THROW(require_account("root"), Error);
}

TEST(UntrustedFile, OnlyARegularFileWithOneLinkAndBoundedSizeIsRead)
{
  test::TempDir dir;
  const std::string good = dir.write("cn.zone", "1.0.0.0/24\n");
  EXPECT_EQ(read_untrusted_file(good, 100), "1.0.0.0/24\n");
  EXPECT_THROW(read_untrusted_file(good, 5), Error);

  const std::string link = dir / "link.zone";
  ASSERT_EQ(::symlink(good.c_str(), link.c_str()), 0);
  EXPECT_THROW(read_untrusted_file(link, 100), Error);

  const std::string hard = dir / "hard.zone";
  ASSERT_EQ(::link(good.c_str(), hard.c_str()), 0);
  EXPECT_THROW(read_untrusted_file(hard, 100), Error);
  EXPECT_THROW(read_untrusted_file(good, 100), Error); // two links now

  // A FIFO would block a plain open for reading until a writer came.
  const std::string fifo = dir / "fifo.zone";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_THROW(read_untrusted_file(fifo, 100), Error);
  EXPECT_THROW(read_untrusted_file(dir.path(), 100), Error);
}

} // namespace
} // namespace geoblock::util
