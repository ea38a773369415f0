// One function per command; each returns the process exit code.
#pragma once

#include "apply/backend.hpp"
#include "cli/backend_choice.hpp"
#include "cli/managers.hpp"
#include "cli/options.hpp"
#include "core/error.hpp"
#include "util/clock.hpp"

#include <functional>
#include <vector>

namespace geoblock::cli {

ExitCode run_aggregate(const AggregateArgs& args);

// Where the sources run (docs/security.md).
enum class Isolation {
  InProcess, // in this process: tests with fakes
  Separated, // in a confined child process, as fetch-user when root (privsep/separated_source.hpp)
};

// What the configured commands act on, behind narrow interfaces so that
// the whole flow runs against fakes in tests (unprivileged, in memory).
struct Environment {
  apply::Backend& backend;
  util::UnixClock clock = util::system_unix_time;
  bool privileged = false; // may change the firewall (root)
  Isolation isolation = Isolation::InProcess;
  // Where there is a choice (this host: iptables and nftables): every
  // backend, told apart by name(), and the probe `backend = auto` decides
  // with (cli/backend_choice.hpp). The commands use the chosen one; what
  // geoblock left in the others (a switch of backend) is drift in status,
  // and update and remove take it away. Empty: `backend` is the only one.
  std::vector<apply::Backend*> backends = {};
  std::function<HostFacts()> probe_host = {};
  // What the host's firewall managers have loaded (cli/managers.hpp):
  // `auto` avoids iptables beside firewalld, update refuses it, status
  // names each manager. Empty: no managers are looked for.
  std::function<FirewallFacts()> probe_firewall = {};
};

// update, status, restore, remove, check, export: the commands that work on
// the configured countries and firewall. The first form runs them on this
// host (the iptables backend, the system clock, root when euid is 0).
ExitCode run_configured(const Invocation& inv);
ExitCode run_configured(const Invocation& inv, Environment& env);

} // namespace geoblock::cli
