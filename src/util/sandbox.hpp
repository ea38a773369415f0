// Confining a process: dropping from root to a system user with no
// capabilities left, and loading a seccomp filter (libseccomp, only in
// sandbox.cpp). docs/security.md describes what runs where.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>

namespace geoblock::util {

// A system user to run as.
struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The user `name` from the passwd database (getpwnam), or nothing when it
// does not exist.
std::optional<Account> lookup_account(const std::string& name);
// The same, but a missing user is an Error saying how to create it.
Account require_account(const std::string& name);

// Irrevocably becomes `account`: no supplementary groups, real, effective
// and saved gid and uid set to the account's. Then checks that the process
// holds no capability at all (effective, permitted, inheritable, ambient)
// and throws Error when any is left. Needs root (CAP_SETUID, CAP_SETGID).
void drop_privileges(const Account& account);

// What /proc/PID/status says about a process's privileges (for checks and
// tests). The capability sets are the kernel's bit masks.
struct ProcessPrivileges {
  uid_t uid = 0, euid = 0;
  gid_t gid = 0, egid = 0;
  std::string groups; // supplementary groups as listed ("" for none)
  std::uint64_t cap_inh = 0, cap_prm = 0, cap_eff = 0, cap_amb = 0;
  int no_new_privs = 0;
  int seccomp = 0; // 0 none, 1 strict, 2 filter
};
// Throws Error when the process does not exist or the file is unreadable.
ProcessPrivileges process_privileges(pid_t pid = 0); // 0: this process

// Sets no_new_privs and loads a seccomp filter onto the calling thread
// (call it before starting threads, so they inherit it). Throws Error when
// the filter cannot be built or loaded.
enum class Confinement {
  // The unprivileged process that reads untrusted input (HTTP, TLS, zip,
  // CSV, zones). Every other call is allowed (libcurl, OpenSSL and glibc
  // need a broad and changing set); these fail with EPERM: sockets other
  // than AF_UNIX, AF_INET, AF_INET6; ptrace and process_vm_*; mount,
  // umount2, pivot_root, chroot, unshare, setns; module loading and
  // removal; bpf; keyctl, add_key, request_key; kexec; reboot; the setuid
  // family and setgroups; personality; userfaultfd; perf_event_open;
  // execve and execveat; fork, vfork and clone without CLONE_THREAD (clone3
  // fails with ENOSYS, so glibc falls back to clone); ioctl TIOCSTI and
  // TIOCLINUX; and a few more (sandbox.cpp). Calls of another architecture
  // (i386 on x86-64) kill the process.
  Fetcher,
  // The privileged process once the fetcher is started: TCP, UDP and SCTP
  // sockets (AF_INET, AF_INET6) fail with EPERM, so it cannot talk to the
  // network; netlink and raw sockets (iptables-legacy's kernel interface)
  // stay allowed. Inherited by the programs it runs (iptables-restore).
  Privileged,
};
void confine(Confinement confinement);

} // namespace geoblock::util
