#include "flow/backend_choice.hpp"

#include <algorithm>

namespace geoblock::flow {

std::optional<BackendSetting>
parse_backend_setting(const std::string& text)
{
  if (text == "auto") {
    return BackendSetting::Auto;
  }
  if (text == k_iptables) {
    return BackendSetting::Iptables;
  }
  if (text == k_nftables) {
    return BackendSetting::Nftables;
  }
  return std::nullopt;
}

bool
is_compat_table(const std::string& table)
{
  const auto space = table.find(' ');
  if (space == std::string::npos) {
    return false;
  }
  const std::string family = table.substr(0, space);
  const std::string name = table.substr(space + 1);
  if (family == "ip" || family == "ip6") {
    return name == "filter" || name == "nat" || name == "mangle" || name == "raw" || name == "security";
  }
  if (family == "arp") {
    return name == "filter";
  }
  if (family == "bridge") {
    return name == "filter" || name == "nat" || name == "broute";
  }
  return false;
}

std::vector<std::string>
native_tables(const std::vector<std::string>& tables, const std::vector<std::string>& own)
{
  std::vector<std::string> out;
  for (const std::string& t : tables) {
    if (!is_compat_table(t) && std::find(own.begin(), own.end(), t) == own.end()) {
      out.push_back(t);
    }
  }
  return out;
}

bool
backend_absent(const std::string& name, const HostFacts& host)
{
  if (name == k_nftables) {
    return !host.nft_usable;
  }
  if (name == k_iptables) {
    return !host.ipset_usable; // rules naming geoblock's sets need ip_set too
  }
  return false;
}

std::string
describe_state(const apply::FirewallState& state)
{
  std::string sets;
  for (const apply::SetState& s : state.sets) {
    sets += (sets.empty() ? "" : ", ") + s.name;
  }
  std::size_t rules = 0;
  for (const apply::ChainState& c : state.chains) {
    rules += c.rules.size();
  }
  std::string out;
  if (!sets.empty()) {
    out = (state.sets.size() == 1 ? "set " : "sets ") + sets;
  }
  if (rules > 0) {
    out += (out.empty() ? "" : " and ") + std::to_string(rules) + (rules == 1 ? " rule" : " rules");
  }
  return out;
}

BackendChoice
decide_backend(BackendSetting setting, const BackendFacts& f)
{
  if (setting == BackendSetting::Iptables) {
    return {k_iptables, "configured"};
  }
  if (setting == BackendSetting::Nftables) {
    return {k_nftables, "configured"};
  }
  // 0. Beside firewalld only nftables keeps the block: this moves a block
  // an earlier update put in iptables (the switch applies nftables first).
  if (!f.firewalld.empty()) {
    return {k_nftables, "auto: firewalld is active (" + f.firewalld +
                            ") and deletes iptables rules on every reload, restart and stop"};
  }
  // 1. Keep what the last apply used: a reboot (empty firewall) or a
  // failed read must not move the block elsewhere.
  if (f.recorded == k_iptables || f.recorded == k_nftables) {
    return {f.recorded, "auto: the last update used it, " + f.state_path};
  }
  if (f.legacy_state) {
    return {k_iptables, "auto: " + f.state_path + " was written by a geoblock with iptables only"};
  }
  // 2. geoblock's state in exactly one backend.
  if (f.live.size() == 1) {
    return {f.live[0].first,
            "auto: geoblock's " + f.live[0].first + " state exists (" + f.live[0].second + ")"};
  }
  const std::string both = f.live.size() > 1 ? "; geoblock's state is in both backends" : "";
  // 3. Native nftables hosts, and hosts without iptables.
  if (f.host.nft_usable) {
    const std::vector<std::string> native = native_tables(f.host.tables, f.own_tables);
    if (!native.empty()) {
      std::string list;
      for (const std::string& t : native) {
        list += (list.empty() ? "table " : ", table ") + t;
      }
      return {k_nftables,
              "auto: nf_tables works and the host's ruleset is native nftables (" + list + ")" + both};
    }
    if (!f.host.iptables_installed) {
      return {k_nftables, "auto: nf_tables works and iptables is not installed" + both};
    }
    return {k_iptables,
            "auto: the host's ruleset has no native nftables table and iptables is installed" + both};
  }
  // 4.
  return {k_iptables, "auto: nf_tables is not usable (" +
                          (f.host.nft_error.empty() ? std::string("no reason given") : f.host.nft_error) +
                          ")" + both};
}

} // namespace geoblock::flow
