// The commands that work on the configured countries and firewall (update,
// restore, status, remove, check, export, mirror): the update flow of
// docs/architecture.md, outside the command line. cli parses the command
// line into a Request, composes the Environment and calls run().
#pragma once

#include "apply/backend.hpp"
#include "core/error.hpp"
#include "flow/backend_choice.hpp"
#include "flow/config.hpp"
#include "flow/managers.hpp"
#include "flow/state_store.hpp"
#include "util/clock.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace geoblock::flow {

enum class Task { Update, Restore, Status, Remove, Check, Export, Mirror, Stats };

// Flags of the commands that work on the configured firewall.
struct RunArgs {
  bool dry_run = false;               // update --dry-run
  bool json = false;                  // update --dry-run --json, status --json
  bool offline = false;               // use the cache only
  bool force = false;                 // past the safety refusals
  std::vector<std::string> addresses; // check ADDRESS...
  std::string output;                 // export --output FILE, mirror --output DIR
  std::size_t top = 0;                // stats --top N (0: all)
};

struct Request {
  Task task = Task::Status;
  RunArgs run;
  Config config;
};

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
  // with (flow/backend_choice.hpp). The commands use the chosen one; what
  // geoblock left in the others (a switch of backend) is drift in status,
  // and update and remove take it away. Empty: `backend` is the only one.
  std::vector<apply::Backend*> backends = {};
  std::function<HostFacts()> probe_host = {};
  // What the host's firewall managers have loaded (flow/managers.hpp):
  // `auto` avoids iptables beside firewalld, update refuses it, status
  // names each manager. Empty: no managers are looked for.
  std::function<FirewallFacts()> probe_firewall = {};
  // The state file of a configuration; unset: state-dir/state.json and
  // metrics-file (flow/state_store.hpp).
  std::function<std::unique_ptr<StateStore>(const Settings&)> state_store = {};
};

// Runs the request's command; returns the process exit code. The first
// form runs it on this host (both backends, the system clock, root when
// euid is 0, the sources separated).
ExitCode run(const Request& request);
ExitCode run(const Request& request, Environment& env);

} // namespace geoblock::flow
