// nf_tables through netlink (libnftnl + libmnl): no `nft` process, no nft
// syntax to parse. The only file that includes libnftnl and libmnl is
// nft_netlink.cpp; this header is plain data.
//
// A Batch is one transaction: the kernel applies all of its messages or
// none (NFNL_MSG_BATCH_BEGIN .. END). World-sized sets fit because element
// lists are split into messages below the 64 KiB netlink attribute limit and
// the socket's send buffer is raised to the batch's size before sending.
// Errors name the object of the message that failed ("nftables: set
// geoblock-v4 (elements 2048..4095) in inet geoblock: File exists").
#pragma once

#include "net/cidr.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

struct mnl_socket;

namespace geoblock::apply::nft {

// Table families (the kernel's NFPROTO_* numbers).
enum class Family : std::uint8_t { Inet = 1, Ip = 2, Arp = 3, Netdev = 5, Bridge = 7, Ip6 = 10 };
std::string family_name(Family family); // "inet", "netdev", ...

struct Table {
  Family family = Family::Inet;
  std::string name;
};

// nft's data types of a set key (what `nft list` uses to print it).
enum class KeyType : std::uint32_t { Ipv4Addr = 7, Ipv6Addr = 8, InetService = 13 };

// One kernel element of a set. In an interval set, a network is a start
// element at its first address and an end element at the first address
// after it.
struct Element {
  std::array<std::uint8_t, 16> key{}; // network byte order, key_len bytes used
  bool interval_end = false;
  // A verdict map's element: the chain it jumps to (a start element; ""
  // in plain sets and on end elements).
  std::string jump;
  friend bool operator==(const Element&, const Element&) = default;
};

struct Set {
  Family family = Family::Inet;
  std::string table;
  std::string name; // "__set%d" for an anonymous set in a batch
  KeyType key_type = KeyType::Ipv4Addr;
  std::uint32_t key_len = 4;
  bool interval = true;
  bool anonymous = false;   // anonymous + constant: bound to one rule
  bool verdict_map = false; // a map from keys to verdicts (jump CHAIN): `vmap`
  std::uint32_t id = 0;     // batch-local id (rules refer to new sets by it)
  bool elements_known = true;
  std::vector<Element> elements;
};

// Interval elements for sorted, disjoint networks (no end element after a
// network reaching the top of the address space), and back.
std::vector<Element> interval_elements(const std::vector<net::Prefix4>& nets);
std::vector<Element> interval_elements(const std::vector<net::Prefix6>& nets);
// Decodes interval elements (any order) into sorted networks: each
// interval as the fewest networks covering it, so what interval_elements()
// wrote from sorted, disjoint networks comes back exactly (adjacent ones
// included). Throws RulesError when they are not a valid interval encoding.
void decode_intervals(const std::vector<Element>& elements, std::vector<net::Prefix4>& out);
void decode_intervals(const std::vector<Element>& elements, std::vector<net::Prefix6>& out);
// A verdict map's interval elements: each source's sorted, disjoint
// networks (disjoint from every other source's too) as intervals that
// jump to the source's chain, all in key order. Adjacent networks of two
// sources stay two intervals, each with its own chain.
using MapSources4 = std::vector<std::pair<std::string, std::vector<net::Prefix4>>>;
using MapSources6 = std::vector<std::pair<std::string, std::vector<net::Prefix6>>>;
std::vector<Element> map_elements(const MapSources4& sources);
std::vector<Element> map_elements(const MapSources6& sources);
// And back: the networks of each chain the elements jump to, sorted by
// chain name, each chain's networks sorted (every interval as the fewest
// networks covering it). Throws RulesError like decode_intervals.
void decode_map(const std::vector<Element>& elements, MapSources4& out);
void decode_map(const std::vector<Element>& elements, MapSources6& out);
// What turns a live interval set's elements into `want` (the
// interval_elements() of the desired networks) inside one transaction.
// The kernel takes interval elements one by one and checks each against
// the set as it stands at that moment, so a delta of single elements is
// not enough: an added end that falls inside a live interval is refused as
// an overlap ("File exists") even where the elements after it would make
// the result valid, and Linux 6.18 refuses ("No such file or directory")
// to delete a start unless the next end deleted is that start's own. So
// the delta is made of whole intervals, ascending: each live interval that
// is not wanted deleted as its start and then its end, each wanted one that
// is not live added the same way. In a verdict map an interval is also
// its chain: one whose chain changed is deleted and added again. `replace` (flush the set, then add
// `want` whole) is chosen where the live elements are no clean interval
// encoding (two starts in a row, an end without its start, such as nft's
// leading end at 0) or where it sends fewer elements than the delta.
struct IntervalDelta {
  bool replace = false;
  std::vector<Element> remove; // start, end, start, end, ... (the last interval may have no end)
  std::vector<Element> add;    // the same, or all of `want` when replace
};
IntervalDelta interval_delta(const std::vector<Element>& live, const std::vector<Element>& want);
// Port intervals [first, last] for an inet_service interval set.
std::vector<Element> port_elements(const std::vector<std::pair<int, int>>& ranges);

struct BaseHook {
  std::uint32_t hooknum = 0; // NF_INET_* (NF_NETDEV_INGRESS = 0 in netdev tables)
  std::int32_t priority = 0;
  std::string type = "filter";
  std::string device; // netdev ingress only
  bool policy_accept = true;
  friend bool operator==(const BaseHook&, const BaseHook&) = default;
};

struct Chain {
  Family family = Family::Inet;
  std::string table;
  std::string name;
  std::optional<BaseHook> hook; // unset: a regular chain
};

// One expression of a rule as the kernel holds it. Only the fields of its
// kind are used; the counter's values are kept in Rule, so that two rules
// compare equal whatever they counted.
struct Expr {
  enum class Kind { Meta, Cmp, Payload, Bitwise, Lookup, Ct, Counter, Limit, Log, Reject, Verdict, Other };
  Kind kind = Kind::Other;
  std::uint32_t key = 0;          // meta/ct key, payload base, reject type, verdict code
  std::uint32_t reg = 0;          // register loaded (meta, ct, payload) or compared (cmp, lookup, bitwise)
  std::uint32_t op = 0;           // cmp op, lookup flags, reject code
  std::uint32_t offset = 0;       // payload offset
  std::uint32_t len = 0;          // payload / bitwise length
  std::vector<std::uint8_t> data; // cmp data, bitwise mask
  std::vector<std::uint8_t> xor_; // bitwise xor
  std::string name;               // lookup set, log prefix, jump target, Other: the kernel's name
  std::uint64_t rate = 0, unit = 0;
  std::uint32_t burst = 0;
  bool verdict_map = false; // lookup: into a verdict map (its result is the verdict)
  friend bool operator==(const Expr&, const Expr&) = default;
};

// Builders for the expressions geoblock writes.
enum class MetaKey : std::uint32_t { L4Proto = 16, NfProto = 15, IifName = 6, OifName = 7 };
Expr meta_load(MetaKey key);
Expr cmp_eq(std::vector<std::uint8_t> data);
Expr cmp_neq(std::vector<std::uint8_t> data);
enum class PayloadBase : std::uint32_t { Network = 1, Transport = 2 };
Expr payload_load(PayloadBase base, std::uint32_t offset, std::uint32_t len);
Expr bitwise_mask(std::vector<std::uint8_t> mask);
Expr lookup(const std::string& set, std::uint32_t set_id = 0);
// `vmap @set`: the verdict of the element the register's key falls in.
Expr vmap_lookup(const std::string& set, std::uint32_t set_id = 0);
Expr ct_state_load();
Expr counter();
Expr limit(std::uint64_t rate, std::uint64_t unit_seconds, std::uint32_t burst);
Expr log(const std::string& prefix);
Expr reject_port_unreachable(); // icmpx: the family's port-unreachable
Expr reject_tcp_reset();        // a TCP reset (the rule matches TCP)
enum class Verdict : std::int32_t { Accept = 1, Drop = 0, Return = -5, Jump = -3 };
Expr verdict(Verdict v, const std::string& chain = {});

struct Rule {
  Family family = Family::Inet;
  std::string table;
  std::string chain;
  std::vector<Expr> exprs;
  std::string comment; // userdata comment (nft shows it as `comment "..."`)
  // Anonymous sets the rule's lookups name (batch: created with the rule;
  // read: filled by the caller from the table's sets).
  std::vector<Set> anonymous;
  std::uint64_t handle = 0;
  std::uint64_t packets = 0, bytes = 0; // read: the counter expression's values
};

// A transaction under construction.
class Batch {
public:
  Batch();
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  void add_table(const Table& table); // creates it unless it exists
  void delete_table(const Table& table);
  // Creates the set unless it exists (with its elements).
  void add_set(const Set& set);
  void add_elements(const Set& set, const std::vector<Element>& elements);
  void delete_elements(const Set& set, const std::vector<Element>& elements);
  void flush_set(const Set& set);
  void delete_set(const Set& set);
  void add_chain(const Chain& chain); // creates it unless it exists
  void flush_chain(const Chain& chain);
  void delete_chain(const Chain& chain);
  void add_rule(const Rule& rule); // appends; creates its anonymous sets first

  bool empty() const { return m_messages == 0; }
  std::size_t bytes() const { return m_buf.size(); }

private:
  friend class Socket;
  struct Pending;
  char* reserve(std::size_t max);
  void commit_message(const std::string& what);
  void elements(int type, const Set& set, const std::vector<Element>& elements, const std::string& verb);
  std::uint32_t next_seq() { return m_seq++; }

  std::vector<char> m_buf;
  std::size_t m_used = 0;
  std::uint32_t m_seq = 0;
  std::uint32_t m_first_seq = 0;
  std::size_t m_messages = 0;
  std::uint32_t m_next_anon = 0;
  std::vector<std::pair<std::uint32_t, std::string>> m_what; // seq -> "set x in inet geoblock"
};

// A netlink socket to nf_tables.
class Socket {
public:
  Socket(); // throws RulesError when nf_tables cannot be reached
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Sends the batch as one transaction; throws RulesError naming the
  // first object the kernel refused (nothing was changed then).
  void commit(Batch& batch);

  std::vector<Table> tables();
  std::vector<Set> sets(const Table& table, bool with_elements);
  std::vector<Element> elements(const Set& set);
  std::vector<Chain> chains(const Table& table);
  std::vector<Rule> rules(const Table& table);

private:
  void dump(int type, Family family, const std::string& table, const std::string& set,
            const std::function<void(const void* nlh)>& each);
  ::mnl_socket* m_nl = nullptr;
  std::uint32_t m_portid = 0;
  std::uint32_t m_seq = 0;
  std::vector<char> m_rbuf;
};

} // namespace geoblock::apply::nft
