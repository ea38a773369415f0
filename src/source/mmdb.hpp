// A MaxMind DB file (.mmdb: GeoLite2, DB-IP, IPinfo, ip-location-db) read
// whole: every network of its search tree with the data record it points
// to. The only user of libmaxminddb (src/source/mmdb.cpp); nothing of it
// appears here.
//
// The file is untrusted input (it is read in the fetching process): a
// database that libmaxminddb refuses to open, a search tree that is not a
// tree (a node reached twice, a record pointing past the tree), or a data
// record that does not decode is an Error naming the file, never a crash
// or an endless walk.
//
// Networks: an IPv4 database (ip_version 4) holds IPv4 networks. In an
// IPv6 database IPv4 lives under ::/96 and comes out as IPv4 networks; the
// aliases MaxMind's databases point at that subtree (::ffff:0:0/96,
// 2001::/32 Teredo, 2002::/16 6to4) are IPv4 networks seen again and are
// skipped, whatever they point to: they are never IPv6 members.
#pragma once

#include "net/cidr.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::source {

struct MmdbMetadata {
  std::string database_type; // "GeoLite2-Country", "DBIP-Country-Lite", "ipinfo ...", ...
  int ip_version = 0;        // 4 or 6
  int record_size = 0;       // 24, 28 or 32
  std::uint32_t node_count = 0;
  std::uint64_t build_epoch = 0; // unix time the database was built
};

// One network of the tree and its record: `record` identifies the data
// record (equal numbers, equal record), for value() and for caching what
// was read from it; many networks share one record.
struct MmdbNetwork {
  net::Family family = net::Family::V4;
  net::Prefix4 v4;
  net::Prefix6 v6;
  std::uint32_t record = 0;
};

// A key path into a record's maps: {"country", "iso_code"}.
using MmdbPath = std::vector<std::string>;
// "country.iso_code" -> {"country", "iso_code"}; nothing for an empty
// component or a path that is empty.
std::optional<MmdbPath> parse_mmdb_path(const std::string& dotted);
std::string mmdb_path_text(const MmdbPath& path); // "country.iso_code"

// What a value() found.
struct MmdbValue {
  enum class Kind { Missing, Text, Number, Other };
  Kind kind = Kind::Missing;
  std::string text;         // Text: the UTF-8 string
  std::uint64_t number = 0; // Number: an unsigned integer (uint16/32/64, or a non-negative int32)
};

class MmdbFile {
public:
  // Opens `path` (mmap, read only). Throws Error naming the file (`name`,
  // when given: the configured path of a descriptor the child reads by)
  // when it cannot be opened or is not a MaxMind DB (libmaxminddb's reason).
  explicit MmdbFile(const std::string& path, const std::string& name = {});
  ~MmdbFile();
  MmdbFile(MmdbFile&&) noexcept;
  MmdbFile& operator=(MmdbFile&&) noexcept;
  MmdbFile(const MmdbFile&) = delete;
  MmdbFile& operator=(const MmdbFile&) = delete;

  const std::string& path() const; // the name errors use
  const MmdbMetadata& metadata() const;

  // Calls `visit` for every network that has a data record, in address
  // order, IPv4 first; empty records are no network. Throws Error naming
  // the file on a corrupt tree.
  void walk(const std::function<void(const MmdbNetwork&)>& visit) const;

  // The network of the tree holding one address and its record, as walk()
  // gives it (IPv4 in an IPv6 database under ::/96; an IPv6 address in an
  // alias is no IPv6 member; a record around an alias narrowed to the CIDR
  // around it that holds the address); nothing when no data record holds
  // it. One descent of at most 128 nodes. Throws Error naming the file on
  // a corrupt tree.
  std::optional<MmdbNetwork> find(net::Family family, std::uint32_t v4, net::u128 v6) const;

  // The value at `path` in the record `record` (a number walk() gave).
  // Missing when a key is absent or a step is not a map. Throws Error
  // naming the file when the record does not decode.
  MmdbValue value(std::uint32_t record, const MmdbPath& path) const;

private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

// "libmaxminddb 1.7.1", for --version.
std::string mmdb_library_version();

} // namespace geoblock::source
