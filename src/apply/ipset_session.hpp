// The kernel's ipsets through libipset's session API: no `ipset` processes,
// no text parsing on the way in. The only file that includes libipset.
//
// libipset keeps its set-type list and set cache in process globals: use
// one session at a time, from one thread.
#pragma once

#include "net/cidr.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct ipset_session;

namespace geoblock::apply {

// Longest set name the kernel accepts (IPSET_MAXNAMELEN - 1).
inline constexpr std::size_t k_max_set_name = 31;

// What `ipset list -terse` shows about a set.
struct SetHeader {
  std::string name;
  std::string type;   // "hash:net"
  std::string family; // "inet" / "inet6"
  std::uint64_t hashsize = 0;
  std::uint64_t maxelem = 0;
  std::uint64_t memory = 0;     // bytes ("Size in memory")
  std::uint64_t references = 0; // rules (and list sets) using it
  std::uint64_t entries = 0;
};

// hash:net creation parameters for a set meant to hold `entries` networks:
// maxelem with 25% headroom (never below the kernel's 65536) so the next
// update can grow in place, and a hashsize of about entries/4 buckets
// (power of two, 1024..2^20) so the kernel does not rehash while filling.
struct SetSizing {
  std::uint32_t maxelem = 65536;
  std::uint32_t hashsize = 1024;
};
SetSizing size_for(std::size_t entries);

// "libipset 7.17 (protocol 7)": the libipset built against and the kernel
// protocol version it speaks (for geoblock --version). libipset has no
// version call, so the version is pkg-config's at configure time.
std::string libipset_version();

class IpsetSession {
public:
  // Opens a netlink session. Throws IpsetError.
  IpsetSession();
  ~IpsetSession();
  IpsetSession(const IpsetSession&) = delete;
  IpsetSession& operator=(const IpsetSession&) = delete;

  // Names of all sets in the current network namespace.
  std::vector<std::string> set_names();
  bool exists(const std::string& name);
  // The header of `name`, or nothing when there is no such set.
  std::optional<SetHeader> header(const std::string& name);
  // Appends the members of `name` to `out`. Throws IpsetError if missing.
  void list_members(const std::string& name, net::NetList& out);

  // Creates a hash:net set. Throws IpsetError (it exists, module missing...).
  void create(const std::string& name, net::Family family, SetSizing sizing);
  // Destroys `name`; returns false when it did not exist. Throws IpsetError
  // on any other failure (e.g. still referenced by a rule).
  bool destroy(const std::string& name);
  // Exchanges the contents (and header) of two existing sets of one family.
  void swap(const std::string& a, const std::string& b);
  void rename(const std::string& from, const std::string& to);

  // Adds networks in large netlink batches (restore mode). A /0 is added as
  // two /1 halves, since hash:net refuses /0. Throws IpsetError naming the
  // set and the first network the kernel refused. Returns the number of
  // kernel entries sent.
  std::size_t add(const std::string& name, const std::vector<net::Prefix4>& nets);
  std::size_t add(const std::string& name, const std::vector<net::Prefix6>& nets);

private:
  template <class A> std::size_t add_impl(const std::string& name, const std::vector<net::Prefix<A>>& nets);
  std::string list_text(const std::string& name, bool header_only, bool names_only);
  [[noreturn]] void fail(const std::string& what);
  static int collect_output(struct ::ipset_session* session, void* self, const char* fmt, ...);

  struct ::ipset_session* m_session = nullptr;
  std::string m_output;
};

} // namespace geoblock::apply
