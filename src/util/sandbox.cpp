#include "util/sandbox.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "util/file.hpp"

#include <cerrno>
#include <cstring>
#include <grp.h>
#include <linux/capability.h>
#include <memory>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace geoblock::util {

namespace {

[[noreturn]] void
fail(const std::string& what, int err)
{
  throw Error("privilege separation: " + what + ": " + std::strerror(err));
}

std::uint64_t
parse_hex(std::string_view s)
{
  std::uint64_t v = 0;
  for (const char c : s) {
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) {
      throw Error("/proc status: not a capability mask: '" + std::string(s) + "'");
    }
    v = v << 4 | static_cast<std::uint64_t>(d);
  }
  return v;
}

// The fields of a "Uid:\t0\t0\t0\t0" line.
std::vector<std::string_view>
fields_of(std::string_view value)
{
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && (value[i] == '\t' || value[i] == ' ')) {
      ++i;
    }
    const std::size_t start = i;
    while (i < value.size() && value[i] != '\t' && value[i] != ' ') {
      ++i;
    }
    if (i > start) {
      out.push_back(value.substr(start, i - start));
    }
  }
  return out;
}

unsigned long
to_id(std::string_view s)
{
  unsigned long v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') {
      throw Error("/proc status: not an id: '" + std::string(s) + "'");
    }
    v = v * 10 + static_cast<unsigned long>(c - '0');
  }
  return v;
}

// RAII over libseccomp's filter context.
struct FilterRelease {
  void operator()(void* ctx) const { seccomp_release(static_cast<scmp_filter_ctx>(ctx)); }
};
using Filter = std::unique_ptr<void, FilterRelease>;

void
add_rule(const Filter& f, std::uint32_t action, const char* name, std::vector<scmp_arg_cmp> args = {})
{
  const int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR || nr < 0) {
    return; // not a system call of this architecture
  }
  const int rc = seccomp_rule_add_array(f.get(), action, nr, static_cast<unsigned>(args.size()),
                                        args.empty() ? nullptr : args.data());
  if (rc != 0) {
    fail(std::string("seccomp rule for ") + name, -rc);
  }
}

// Calls the fetcher never needs and an attacker inside it would want:
// the kernel's attack surface beyond plain I/O, and every way back to
// privilege or out of the process.
constexpr const char* k_fetcher_denied[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "bpf",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setfsuid",
    "setfsgid",
    "setgroups",
    "capset",
    "personality",
    "userfaultfd",
    "perf_event_open",
    "execve",
    "execveat",
    "fork",
    "vfork",
    "swapon",
    "swapoff",
    "syslog",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "quotactl",
    "lookup_dcookie",
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
    "nfsservctl",
    "vhangup",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
};

void
fetcher_rules(const Filter& f)
{
  const std::uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  for (const char* name : k_fetcher_denied) {
    add_rule(f, deny, name);
  }
  // Sockets: only AF_UNIX (nscd, the resolver's helpers), AF_INET and
  // AF_INET6. libseccomp takes one comparison per argument and rule, so
  // the other families are denied by value and by range.
  for (const int domain : {AF_UNSPEC, 3, 4, 5, 6, 7, 8, 9}) {
    add_rule(f, deny, "socket", {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(domain))});
  }
  add_rule(f, deny, "socket", {SCMP_A0(SCMP_CMP_GE, static_cast<scmp_datum_t>(AF_INET6 + 1))});
  static_assert(AF_UNIX == 1 && AF_INET == 2 && AF_INET6 == 10);
  // New processes: threads (libcurl's resolver) yes, anything else no.
  // clone3 passes its flags in memory, out of seccomp's sight: ENOSYS makes
  // glibc fall back to clone, whose flags are checked here.
  add_rule(f, deny, "clone", {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)});
  add_rule(f, SCMP_ACT_ERRNO(ENOSYS), "clone3");
  // Typing into the terminal of the root shell that started us.
  for (const unsigned long request :
       {static_cast<unsigned long>(TIOCSTI), static_cast<unsigned long>(TIOCLINUX)}) {
    add_rule(f, deny, "ioctl", {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, request)});
  }
}

void
privileged_rules(const Filter& f)
{
  const std::uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  for (const int domain : {AF_INET, AF_INET6}) {
    for (const int type : {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET}) {
      add_rule(f, deny, "socket",
               {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(domain)),
                SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, static_cast<scmp_datum_t>(type))});
    }
  }
}

} // namespace

std::optional<Account>
lookup_account(const std::string& name)
{
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  const int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || !found) {
    return std::nullopt;
  }
  return Account{name, pw.pw_uid, pw.pw_gid};
}

Account
require_account(const std::string& name)
{
  if (auto a = lookup_account(name)) {
    if (a->uid == 0 || a->gid == 0) {
      throw Error("fetch-user '" + name + "' is root (uid or gid 0): it must be an unprivileged system user");
    }
    return *a;
  }
  throw Error("user '" + name +
              "' does not exist: the downloads run as this unprivileged user; create it with "
              "'adduser --system --group --no-create-home " +
              name + "' (see /usr/share/doc/geoblock/security.md)");
}

ProcessPrivileges
process_privileges(pid_t pid)
{
  const std::string path = pid == 0 ? "/proc/self/status" : "/proc/" + std::to_string(pid) + "/status";
  const std::string text = read_file(path);
  ProcessPrivileges p;
  text::Lines lines(text);
  for (std::string_view line; lines.next(line);) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    const std::string_view key = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 1);
    const auto f = fields_of(value);
    if ((key == "Uid" || key == "Gid") && f.size() >= 2) {
      (key == "Uid" ? p.uid : p.gid) = static_cast<unsigned>(to_id(f[0]));
      (key == "Uid" ? p.euid : p.egid) = static_cast<unsigned>(to_id(f[1]));
    } else if (key == "Groups") {
      for (const auto g : f) {
        p.groups += (p.groups.empty() ? "" : " ") + std::string(g);
      }
    } else if (key == "CapInh" && f.size() == 1) {
      p.cap_inh = parse_hex(f[0]);
    } else if (key == "CapPrm" && f.size() == 1) {
      p.cap_prm = parse_hex(f[0]);
    } else if (key == "CapEff" && f.size() == 1) {
      p.cap_eff = parse_hex(f[0]);
    } else if (key == "CapAmb" && f.size() == 1) {
      p.cap_amb = parse_hex(f[0]);
    } else if (key == "NoNewPrivs" && f.size() == 1) {
      p.no_new_privs = static_cast<int>(to_id(f[0]));
    } else if (key == "Seccomp" && f.size() == 1) {
      p.seccomp = static_cast<int>(to_id(f[0]));
    }
  }
  return p;
}

void
drop_privileges(const Account& account)
{
  // The bounding set too, where this process may (CAP_SETPCAP: a root run
  // outside systemd; the units do not grant it): nothing to regain, even
  // in principle. Best effort: the checks below are what must hold.
  for (int cap = 0; cap <= 63 && ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
    ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  }
  if (::setgroups(0, nullptr) != 0) {
    fail("setgroups", errno);
  }
  if (::setresgid(account.gid, account.gid, account.gid) != 0) {
    fail("setresgid " + std::to_string(account.gid), errno);
  }
  if (::setresuid(account.uid, account.uid, account.uid) != 0) {
    fail("setresuid " + std::to_string(account.uid), errno);
  }
  // setuid away from root empties the permitted, effective and ambient
  // sets, but not the inheritable one: clear that (and ambient) explicitly.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    fail("clearing ambient capabilities", errno);
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capset, &header, data) != 0) {
    fail("capset", errno);
  }
  // Trust, but verify (OpenSSH's permanently_set_uid does the same):
  // nothing of root may be left or regained.
  if (::setuid(0) == 0 || ::setgid(0) == 0) {
    throw Error("privilege separation: could regain root after dropping to '" + account.name + "'");
  }
  const ProcessPrivileges p = process_privileges();
  if (p.uid != account.uid || p.euid != account.uid || p.gid != account.gid || p.egid != account.gid ||
      !p.groups.empty() || p.cap_inh || p.cap_prm || p.cap_eff || p.cap_amb) {
    throw Error("privilege separation: still privileged after dropping to '" + account.name + "'");
  }
}

void
confine(Confinement confinement)
{
  // Default allow (see the header for why), with the default NO_NEW_PRIVS
  // attribute: libseccomp sets it before loading.
  Filter f(seccomp_init(SCMP_ACT_ALLOW));
  if (!f) {
    throw Error("privilege separation: cannot initialise a seccomp filter");
  }
  // Another architecture's calls (the i386 ABI on x86-64) would escape
  // rules written by number for this one. libseccomp offers "kill the
  // process" only where it can ask the kernel through the seccomp() call,
  // which systemd's SystemCallFilter=@system-service refuses (the filter
  // is then loaded through prctl): kill the thread there.
  if (seccomp_attr_set(f.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0) {
    if (const int rc = seccomp_attr_set(f.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL); rc != 0) {
      fail("seccomp attribute", -rc);
    }
  }
  if (confinement == Confinement::Fetcher) {
    fetcher_rules(f);
  } else {
    privileged_rules(f);
  }
  if (const int rc = seccomp_load(f.get()); rc != 0) {
    fail("loading the seccomp filter", -rc);
  }
}

} // namespace geoblock::util
