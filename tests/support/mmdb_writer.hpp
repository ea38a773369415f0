// A small writer of MaxMind DB files (.mmdb, format 2.0), for tests, fuzz
// seeds and the bench: libmaxminddb only reads. Follows the MaxMind DB
// File Format Specification: a binary search tree of 24, 28 or 32-bit
// records (a record is a node number, node_count for "no data", or
// node_count + 16 + an offset into the data section), 16 zero bytes, the
// data section (maps, UTF-8 strings, unsigned integers, arrays), then
// "\xAB\xCD\xEFMaxMind.com" and the metadata map.
//
// Header-only (the fuzz targets include it without the test library).
#pragma once

#include "net/cidr.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace geoblock::test {

// A data section value: a map, a UTF-8 string, an unsigned integer, an
// array of values.
struct MmdbValue;
// An unsigned integer of a given type: 5 uint16, 6 uint32, 9 uint64.
struct MmdbUint {
  std::uint64_t value = 0;
  int type = 6;
};
inline MmdbUint
u16(std::uint64_t v)
{
  return {v, 5};
}
inline MmdbUint
u32(std::uint64_t v)
{
  return {v, 6};
}
inline MmdbUint
u64(std::uint64_t v)
{
  return {v, 9};
}
using MmdbMap = std::vector<std::pair<std::string, MmdbValue>>;
using MmdbArray = std::vector<MmdbValue>;
struct MmdbValue {
  std::variant<std::string, MmdbUint, std::shared_ptr<MmdbMap>, std::shared_ptr<MmdbArray>> v;
  MmdbValue(const char* s) : v(std::string(s)) {}
  MmdbValue(std::string s) : v(std::move(s)) {}
  MmdbValue(MmdbUint n) : v(n) {}
  MmdbValue(int n) : v(u32(static_cast<std::uint64_t>(n))) {} // uint32
  MmdbValue(MmdbMap m) : v(std::make_shared<MmdbMap>(std::move(m))) {}
  MmdbValue(MmdbArray a) : v(std::make_shared<MmdbArray>(std::move(a))) {}
};

// {"country": {"iso_code": CC}} as MaxMind and DB-IP write it.
inline MmdbValue
maxmind_country(const std::string& cc)
{
  return MmdbMap{{"country", MmdbMap{{"iso_code", cc}, {"geoname_id", 1}}}};
}
// {"country_code": CC} as ip-location-db writes it.
inline MmdbValue
flat_country(const std::string& cc)
{
  return MmdbMap{{"country_code", cc}};
}

class MmdbWriter {
public:
  // ip_version 4 or 6; record_size 24, 28 or 32.
  MmdbWriter(int ip_version, int record_size, std::string database_type = "Test-Country",
             std::uint64_t build_epoch = 1764000000)
      : m_ip_version(ip_version), m_record_size(record_size), m_type(std::move(database_type)),
        m_epoch(build_epoch)
  {
    m_nodes.emplace_back();
  }

  // The network addr/len in the tree's own bits (32 for IPv4 databases,
  // 128 for IPv6 ones) gets `value`; a later, more specific network
  // inside an earlier one overrides that part.
  void insert(net::u128 addr, int len, const MmdbValue& value)
  {
    set(addr, len, Rec{Kind::Data, data(value)});
  }
  void insert(const net::Prefix4& p, const MmdbValue& value)
  {
    if (m_ip_version == 4) {
      insert(p.addr, p.len, value);
    } else {
      insert(net::u128{p.addr}, p.len + 96, value); // ::a.b.c.d, the IPv4 subtree
    }
  }
  void insert(const net::Prefix6& p, const MmdbValue& value) { insert(p.addr, p.len, value); }

  // MaxMind's aliases: ::ffff:0:0/96, 2001::/32 and 2002::/16 point at
  // the IPv4 subtree (::/96). IPv6 databases only; call after the inserts.
  void add_ipv4_aliases()
  {
    const std::uint32_t v4 = node_at(0, 96);
    set((net::u128{0xffff} << 32), 96, Rec{Kind::Node, v4});
    set(net::u128{0x2001} << 112, 32, Rec{Kind::Node, v4});
    set(net::u128{0x2002} << 112, 16, Rec{Kind::Node, v4});
  }

  // The file's bytes.
  std::string bytes() const
  {
    const auto count = static_cast<std::uint64_t>(m_nodes.size());
    std::string out;
    for (const Node& n : m_nodes) {
      const std::uint64_t l = value_of(n.rec[0], count);
      const std::uint64_t r = value_of(n.rec[1], count);
      if (m_record_size == 24) {
        put_be(out, l, 3);
        put_be(out, r, 3);
      } else if (m_record_size == 28) {
        put_be(out, l & 0xffffff, 3);
        out += static_cast<char>((((l >> 24) & 0xf) << 4) | ((r >> 24) & 0xf));
        put_be(out, r & 0xffffff, 3);
      } else {
        put_be(out, l, 4);
        put_be(out, r, 4);
      }
    }
    out.append(16, '\0');
    out += m_data;
    out += "\xAB\xCD\xEFMaxMind.com";
    std::string meta;
    encode(meta, MmdbMap{
                     {"binary_format_major_version", u16(2)},
                     {"binary_format_minor_version", u16(0)},
                     {"build_epoch", u64(m_epoch)},
                     {"database_type", m_type},
                     {"description", MmdbMap{{"en", "geoblock test database"}}},
                     {"ip_version", u16(static_cast<std::uint64_t>(m_ip_version))},
                     {"languages", MmdbArray{"en"}},
                     {"node_count", u32(count)},
                     {"record_size", u16(static_cast<std::uint64_t>(m_record_size))},
                 });
    out += meta;
    return out;
  }

  // Encodes one value as the data section holds it (for tests that
  // damage a database on purpose).
  static void encode(std::string& out, const MmdbValue& value)
  {
    if (const auto* s = std::get_if<std::string>(&value.v)) {
      control(out, 2, s->size());
      out += *s;
    } else if (const auto* n = std::get_if<MmdbUint>(&value.v)) {
      std::size_t len = 0;
      for (std::uint64_t x = n->value; x; x >>= 8) {
        ++len;
      }
      control(out, n->type, len);
      put_be(out, n->value, len);
    } else if (const auto* m = std::get_if<std::shared_ptr<MmdbMap>>(&value.v)) {
      control(out, 7, (*m)->size());
      for (const auto& [k, v] : **m) {
        encode(out, MmdbValue(k));
        encode(out, v);
      }
    } else {
      const auto& a = *std::get<std::shared_ptr<MmdbArray>>(value.v);
      control(out, 11, a.size());
      for (const MmdbValue& v : a) {
        encode(out, v);
      }
    }
  }

private:
  enum class Kind { Empty, Node, Data };
  struct Rec {
    Kind kind = Kind::Empty;
    std::uint64_t target = 0; // node number or data offset
  };
  struct Node {
    Rec rec[2];
  };

  int bits() const { return m_ip_version == 4 ? 32 : 128; }
  int bit(net::u128 addr, int depth) const { return static_cast<int>((addr >> (bits() - 1 - depth)) & 1); }

  std::uint64_t value_of(const Rec& r, std::uint64_t count) const
  {
    switch (r.kind) {
    case Kind::Empty:
      return count;
    case Kind::Node:
      return r.target;
    case Kind::Data:
      return count + 16 + r.target;
    }
    return count;
  }

  // The node at addr/len, made (with the nodes above it) when missing; a
  // data record on the way is pushed down into both halves.
  std::uint32_t node_at(net::u128 addr, int len)
  {
    std::uint32_t n = 0;
    for (int depth = 0; depth < len; ++depth) {
      Rec& r = m_nodes[n].rec[bit(addr, depth)];
      if (r.kind != Kind::Node) {
        const Rec old = r;
        const auto fresh = static_cast<std::uint32_t>(m_nodes.size());
        m_nodes.push_back(Node{{old, old}}); // invalidates r
        m_nodes[n].rec[bit(addr, depth)] = Rec{Kind::Node, fresh};
      }
      n = static_cast<std::uint32_t>(m_nodes[n].rec[bit(addr, depth)].target);
    }
    return n;
  }

  void set(net::u128 addr, int len, Rec rec)
  {
    if (len < 1 || len > bits()) {
      throw std::invalid_argument("mmdb writer: prefix length out of range");
    }
    const std::uint32_t parent = node_at(addr, len - 1);
    m_nodes[parent].rec[bit(addr, len - 1)] = rec;
  }

  std::uint64_t data(const MmdbValue& value)
  {
    std::string bytes;
    encode(bytes, value);
    const auto [it, added] = m_offsets.try_emplace(bytes, m_data.size());
    if (added) {
      m_data += bytes;
    }
    return it->second;
  }

  static void put_be(std::string& out, std::uint64_t v, std::size_t n)
  {
    for (std::size_t i = n; i-- > 0;) {
      out += static_cast<char>((v >> (8 * i)) & 0xff);
    }
  }

  static void control(std::string& out, int type, std::size_t size)
  {
    const int first = type > 7 ? 0 : type;
    std::string head;
    if (size < 29) {
      head += static_cast<char>((first << 5) | static_cast<int>(size));
    } else if (size < 285) {
      head += static_cast<char>((first << 5) | 29);
      head += static_cast<char>(size - 29);
    } else if (size < 65821) {
      head += static_cast<char>((first << 5) | 30);
      put_be(head, size - 285, 2);
    } else {
      head += static_cast<char>((first << 5) | 31);
      put_be(head, size - 65821, 3);
    }
    if (type > 7) {
      // Extended type: the type byte follows the control byte, before the size bytes.
      head.insert(1, 1, static_cast<char>(type - 7));
    }
    out += head;
  }

  int m_ip_version;
  int m_record_size;
  std::string m_type;
  std::uint64_t m_epoch;
  std::vector<Node> m_nodes;
  std::string m_data;
  std::map<std::string, std::uint64_t> m_offsets;
};

} // namespace geoblock::test
