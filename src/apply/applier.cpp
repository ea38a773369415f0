#include "apply/applier.hpp"

#include "core/error.hpp"
#include "core/log.hpp"

#include <cstdlib>

namespace geoblock::apply {

namespace {

template <class A>
bool
covers(const std::vector<net::Prefix<A>>& nets, A addr)
{
  for (const auto& p : nets) {
    if (p.contains(addr)) {
      return true;
    }
  }
  return false;
}

} // namespace

void
report_stage(const ApplyOptions& options, const std::string& what)
{
  log::verbose(what);
  if (options.on_stage) {
    options.on_stage(what);
  }
}

void
check_ssh_lockout(const net::NetList& aggregated, const ApplyOptions& options)
{
  if (options.force) {
    return;
  }
  std::string conn;
  if (options.ssh_connection) {
    conn = *options.ssh_connection;
  } else if (const char* env = std::getenv("SSH_CONNECTION")) {
    conn = env;
  }
  const std::string client = conn.substr(0, conn.find(' '));
  if (client.empty()) {
    return;
  }
  std::optional<std::uint32_t> v4 = net::parse_v4(client);
  std::optional<net::u128> v6;
  if (!v4) {
    v6 = net::parse_v6(client);
    if (!v6) {
      log::warning("cannot read the client address in SSH_CONNECTION ('" + conn +
                   "'); lock-out check skipped");
      return;
    }
    // An IPv4 client seen through an IPv6 socket: ::ffff:a.b.c.d.
    if ((*v6 >> 32) == 0xffff) {
      v4 = static_cast<std::uint32_t>(*v6);
      v6.reset();
    }
  }
  bool blocked = false;
  if (v4 && net::includes(options.families, net::Family::V4)) {
    const bool listed = covers(aggregated.v4, *v4);
    blocked = options.policy == Policy::Block ? listed : !listed && !covers(options.allowlist.v4, *v4);
  } else if (v6 && net::includes(options.families, net::Family::V6)) {
    const bool listed = covers(aggregated.v6, *v6);
    blocked = options.policy == Policy::Block ? listed : !listed && !covers(options.allowlist.v6, *v6);
  }
  if (blocked) {
    throw SafetyError("refusing to apply: the SSH session's client address " + client +
                      " would be blocked (add it to the allowlist, or use --force)");
  }
}

} // namespace geoblock::apply
