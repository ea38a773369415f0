// Which firewall backend the commands use: the `backend` setting (auto,
// iptables, nftables) and, for auto, a rule over facts about the host.
// The rule is one pure function (decide_backend) so that every branch is
// tested without a kernel; gathering the facts is a thin layer in the
// commands (state file, each backend's read()) and in the host's probe
// (HostFacts, filled by run_configured from the nftables backend's probe).
//
// The rule `auto` follows, first match wins:
//   0. nftables while firewalld is active and nf_tables works: firewalld's
//      reload, restart and stop delete iptables rules (cli/managers.hpp),
//      its nftables backend leaves geoblock's table alone;
//   1. the backend recorded in state.json by the last update or restore
//      (a state file from before backends were recorded: iptables, the only
//      backend then);
//   2. the one backend in which geoblock's live state is found;
//   3. nftables where the nf_tables kernel interface works and the host's
//      ruleset is native nftables (a table other than iptables-nft's
//      compatibility tables and geoblock's own) or `iptables` is absent;
//   4. iptables.
#pragma once

#include "apply/state.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace geoblock::flow {

inline constexpr const char* k_iptables = "iptables";
inline constexpr const char* k_nftables = "nftables";

// The `backend` setting.
enum class BackendSetting { Auto, Iptables, Nftables };
// "auto", "iptables", "nftables"; nothing for anything else.
std::optional<BackendSetting> parse_backend_setting(const std::string& text);

// What the host says, probed where `auto` needs it and where a backend
// cannot be read (backend_absent).
struct HostFacts {
  bool nft_usable = false;         // the nf_tables netlink interface answers
  std::string nft_error;           // why not, when not
  std::vector<std::string> tables; // every nftables table, "inet filter", "ip nat", ...
  bool iptables_installed = false; // an `iptables` program is on PATH
  bool ipset_usable = false;       // the kernel's ip_set interface answers (the iptables backend's sets)
};

struct BackendFacts {
  std::string state_path;    // for the reason text
  std::string recorded;      // "backend" of state.json; "" when none
  bool legacy_state = false; // a state.json without "backend" (written before there was a choice)
  // Backends in which geoblock's live state was found, with what
  // (describe_state); backends holding nothing of geoblock's are absent.
  std::vector<std::pair<std::string, std::string>> live;
  HostFacts host;
  // firewalld's evidence where nf_tables works ("table inet firewalld (its
  // nftables backend)"); "" when it is not active (cli/managers.hpp).
  std::string firewalld;
  std::vector<std::string> own_tables; // geoblock's own nftables tables ("inet geoblock"), not the host's
};

struct BackendChoice {
  std::string name;   // k_iptables or k_nftables
  std::string reason; // "configured", "auto: ..."
  // "nftables (auto: nf_tables works and ...)", for the log and reports.
  std::string describe() const { return name + " (" + reason + ")"; }
};

// The rule above, for `setting` (explicit settings win, whatever the facts).
BackendChoice decide_backend(BackendSetting setting, const BackendFacts& facts);

// True when the backend named `name` (k_iptables, k_nftables) is absent
// from the host: the kernel interface geoblock's state would live in does
// not answer (ip_set, nf_tables), so it holds nothing of geoblock's. A
// backend that is there but cannot be read is not absent: what it holds
// is unknown, never "nothing".
bool backend_absent(const std::string& name, const HostFacts& host);

// True for the tables iptables-nft, ip6tables-nft, arptables-nft and
// ebtables-nft create ("ip filter", "ip6 nat", "bridge broute", ...): they
// say that the host runs iptables over nf_tables, not native nftables.
bool is_compat_table(const std::string& table);
// The host's native nftables tables: `tables` without the compatibility
// tables and without `own` (geoblock's).
std::vector<std::string> native_tables(const std::vector<std::string>& tables,
                                       const std::vector<std::string>& own);

// What of geoblock's a live state holds, in words ("sets geoblock-v4,
// geoblock-v6 and 2 rules"); "" when nothing.
std::string describe_state(const apply::FirewallState& state);

} // namespace geoblock::flow
