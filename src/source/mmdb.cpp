#include "source/mmdb.hpp"

#include "core/error.hpp"

#include <maxminddb.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace geoblock::source {

namespace {

using net::u128;

// The IPv6 prefixes that are not IPv6 members of the database: ::/96
// (IPv4, read as such) and the aliases MaxMind points at it.
struct Excluded {
  u128 addr;
  int len;
};

constexpr u128
v6(std::uint64_t high, std::uint64_t low)
{
  return (static_cast<u128>(high) << 64) | low;
}

constexpr std::array<Excluded, 4> k_excluded = {{
    {v6(0, 0), 96},                     // ::/96, the IPv4 subtree
    {v6(0, 0x0000ffff00000000ull), 96}, // ::ffff:0:0/96, IPv4-mapped
    {v6(0x2001000000000000ull, 0), 32}, // 2001::/32, Teredo
    {v6(0x2002000000000000ull, 0), 16}, // 2002::/16, 6to4
}};

bool
inside(u128 addr, int len, const Excluded& x)
{
  // (addr/len) lies within x
  return len >= x.len && (addr & net::mask<u128>(x.len)) == x.addr;
}

bool
strictly_contains(u128 addr, int len, const Excluded& x)
{
  return x.len > len && (x.addr & net::mask<u128>(len)) == addr;
}

} // namespace

struct MmdbFile::Impl {
  std::string path;
  MMDB_s db{};
  bool open = false;
  MmdbMetadata meta;

  ~Impl()
  {
    if (open) {
      MMDB_close(&db);
    }
  }

  [[noreturn]] void corrupt(const std::string& what) const
  {
    throw Error(path + ": corrupt MaxMind database: " + what);
  }

  MMDB_search_node_s node(std::uint64_t number) const
  {
    MMDB_search_node_s n{};
    if (number >= meta.node_count) {
      corrupt("search tree record points to node " + std::to_string(number) + " of " +
              std::to_string(meta.node_count));
    }
    const int rc = MMDB_read_node(&db, static_cast<std::uint32_t>(number), &n);
    if (rc != MMDB_SUCCESS) {
      corrupt(std::string("node ") + std::to_string(number) + ": " + MMDB_strerror(rc));
    }
    return n;
  }
};

std::optional<MmdbPath>
parse_mmdb_path(const std::string& dotted)
{
  MmdbPath out;
  std::size_t at = 0;
  for (;;) {
    const std::size_t dot = dotted.find('.', at);
    std::string part = dotted.substr(at, dot == std::string::npos ? std::string::npos : dot - at);
    if (part.empty()) {
      return std::nullopt;
    }
    out.push_back(std::move(part));
    if (dot == std::string::npos) {
      return out;
    }
    at = dot + 1;
  }
}

std::string
mmdb_path_text(const MmdbPath& path)
{
  std::string out;
  for (const std::string& p : path) {
    out += (out.empty() ? "" : ".") + p;
  }
  return out;
}

MmdbFile::MmdbFile(const std::string& path, const std::string& name) : m(std::make_unique<Impl>())
{
  m->path = name.empty() ? path : name;
  const int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &m->db);
  if (rc != MMDB_SUCCESS) {
    std::string why = MMDB_strerror(rc);
    if (rc == MMDB_IO_ERROR) {
      why += std::string(": ") + std::strerror(errno);
    }
    throw Error(m->path + ": cannot read as a MaxMind database (.mmdb): " + why);
  }
  m->open = true;
  m->meta.database_type = m->db.metadata.database_type ? m->db.metadata.database_type : "";
  m->meta.ip_version = m->db.metadata.ip_version;
  m->meta.record_size = m->db.metadata.record_size;
  m->meta.node_count = m->db.metadata.node_count;
  m->meta.build_epoch = m->db.metadata.build_epoch;
  if (m->meta.ip_version != 4 && m->meta.ip_version != 6) {
    m->corrupt("ip_version " + std::to_string(m->meta.ip_version));
  }
}

MmdbFile::~MmdbFile() = default;
MmdbFile::MmdbFile(MmdbFile&&) noexcept = default;
MmdbFile& MmdbFile::operator=(MmdbFile&&) noexcept = default;

const std::string&
MmdbFile::path() const
{
  return m->path;
}

const MmdbMetadata&
MmdbFile::metadata() const
{
  return m->meta;
}

void
MmdbFile::walk(const std::function<void(const MmdbNetwork&)>& visit) const
{
  const Impl& d = *m;
  const std::uint32_t count = d.meta.node_count;
  // Every node is entered at most once: a tree whose records meet again
  // (or loop) would otherwise make the walk exponential or endless.
  std::vector<bool> seen(count, false);
  const auto enter = [&](std::uint64_t number) {
    const MMDB_search_node_s n = d.node(number);
    if (seen[number]) {
      d.corrupt("search tree node " + std::to_string(number) + " is reached twice (not a tree)");
    }
    seen[number] = true;
    return n;
  };
  const auto check_type = [&](std::uint8_t type) {
    if (type == MMDB_RECORD_TYPE_INVALID) {
      d.corrupt("a search tree record points outside the data section");
    }
  };

  // IPv4: the whole tree of an IPv4 database; in an IPv6 database the node
  // at ::/96 (followed from the root through 96 zero bits).
  struct Item4 {
    std::uint64_t node;
    std::uint32_t addr;
    int depth;
  };
  std::optional<std::uint64_t> v4_root;
  if (d.meta.ip_version == 4) {
    v4_root = 0;
  } else {
    std::uint64_t number = 0;
    int depth = 0;
    for (; depth < 96; ++depth) {
      const MMDB_search_node_s n = d.node(number);
      check_type(n.left_record_type);
      if (n.left_record_type == MMDB_RECORD_TYPE_SEARCH_NODE) {
        number = n.left_record;
        continue;
      }
      if (n.left_record_type == MMDB_RECORD_TYPE_DATA) {
        // A record at ::/N (N <= 96) covers all of IPv4.
        MmdbNetwork net;
        net.family = net::Family::V4;
        net.v4 = net::Prefix4{0, 0};
        net.record = n.left_record_entry.offset;
        visit(net);
      }
      break;
    }
    if (depth == 96) {
      v4_root = number;
    }
  }
  if (v4_root) {
    std::vector<Item4> stack{{*v4_root, 0, 0}};
    while (!stack.empty()) {
      const Item4 item = stack.back();
      stack.pop_back();
      if (item.depth >= 32) {
        d.corrupt("the IPv4 search tree is deeper than 32 bits");
      }
      const MMDB_search_node_s n = enter(item.node);
      // Right first on the stack, so the left (lower) half comes out first.
      const std::uint32_t bit = std::uint32_t{1} << (31 - item.depth);
      const std::array<std::tuple<std::uint8_t, std::uint64_t, std::uint32_t, std::uint32_t>, 2> sides = {{
          {n.right_record_type, n.right_record, n.right_record_entry.offset, item.addr | bit},
          {n.left_record_type, n.left_record, n.left_record_entry.offset, item.addr},
      }};
      for (const auto& [type, record, offset, addr] : sides) {
        check_type(type);
        if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
          stack.push_back({record, addr, item.depth + 1});
        } else if (type == MMDB_RECORD_TYPE_DATA) {
          MmdbNetwork net;
          net.family = net::Family::V4;
          net.v4 = net::Prefix4{addr, static_cast<std::uint8_t>(item.depth + 1)};
          net.record = offset;
          visit(net);
        }
      }
    }
  }
  if (d.meta.ip_version == 4) {
    return;
  }

  // IPv6, without the excluded prefixes. A data record covering one of
  // them is emitted as the CIDRs around it.
  const std::function<void(u128, int, std::uint32_t)> emit = [&](u128 addr, int len, std::uint32_t offset) {
    for (const Excluded& x : k_excluded) {
      if (inside(addr, len, x)) {
        return;
      }
    }
    for (const Excluded& x : k_excluded) {
      if (strictly_contains(addr, len, x)) {
        const u128 half = u128{1} << (127 - len);
        emit(addr, len + 1, offset);
        emit(addr | half, len + 1, offset);
        return;
      }
    }
    MmdbNetwork net;
    net.family = net::Family::V6;
    net.v6 = net::Prefix6{addr, static_cast<std::uint8_t>(len)};
    net.record = offset;
    visit(net);
  };
  struct Item6 {
    std::uint64_t node;
    u128 addr;
    int depth;
  };
  std::vector<Item6> stack{{0, 0, 0}};
  while (!stack.empty()) {
    const Item6 item = stack.back();
    stack.pop_back();
    if (item.depth >= 128) {
      d.corrupt("the IPv6 search tree is deeper than 128 bits");
    }
    const MMDB_search_node_s n = enter(item.node);
    const u128 bit = u128{1} << (127 - item.depth);
    const std::array<std::tuple<std::uint8_t, std::uint64_t, std::uint32_t, u128>, 2> sides = {{
        {n.right_record_type, n.right_record, n.right_record_entry.offset, item.addr | bit},
        {n.left_record_type, n.left_record, n.left_record_entry.offset, item.addr},
    }};
    for (const auto& [type, record, offset, addr] : sides) {
      check_type(type);
      const int len = item.depth + 1;
      if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
        bool skip = false;
        for (const Excluded& x : k_excluded) {
          skip = skip || inside(addr, len, x);
        }
        if (!skip) {
          stack.push_back({record, addr, len});
        }
      } else if (type == MMDB_RECORD_TYPE_DATA) {
        emit(addr, len, offset);
      }
    }
  }
}

std::optional<MmdbNetwork>
MmdbFile::find(net::Family family, std::uint32_t v4, u128 v6) const
{
  const Impl& d = *m;
  const auto check_type = [&](std::uint8_t type) {
    if (type == MMDB_RECORD_TYPE_INVALID) {
      d.corrupt("a search tree record points outside the data section");
    }
  };
  // The address as 128 bits from the root: IPv4 under ::/96 in an IPv6
  // database; `bits` of them are followed.
  u128 addr = 0;
  int bits = 0;
  if (family == net::Family::V4) {
    addr = d.meta.ip_version == 4 ? static_cast<u128>(v4) << 96 : static_cast<u128>(v4);
    bits = d.meta.ip_version == 4 ? 32 : 128;
  } else {
    if (d.meta.ip_version == 4) {
      return std::nullopt;
    }
    for (const Excluded& x : k_excluded) {
      if (inside(v6, 128, x)) {
        return std::nullopt; // IPv4 seen again, never an IPv6 member
      }
    }
    addr = v6;
    bits = 128;
  }
  const int skip = family == net::Family::V4 && d.meta.ip_version == 6 ? 96 : 0; // bits before IPv4's
  std::uint64_t number = 0;
  for (int depth = 0; depth < bits; ++depth) {
    const MMDB_search_node_s n = d.node(number);
    const bool right = ((addr >> (127 - depth)) & 1) != 0;
    const std::uint8_t type = right ? n.right_record_type : n.left_record_type;
    check_type(type);
    if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
      number = right ? n.right_record : n.left_record;
      continue;
    }
    if (type != MMDB_RECORD_TYPE_DATA) {
      return std::nullopt; // empty
    }
    MmdbNetwork net;
    net.family = family;
    net.record = right ? n.right_record_entry.offset : n.left_record_entry.offset;
    int len = depth + 1 - skip;
    if (family == net::Family::V4) {
      len = std::max(len, 0); // a record at ::/N (N <= 96) covers all of IPv4
      net.v4 = net::Prefix4{v4 & net::mask<std::uint32_t>(len), static_cast<std::uint8_t>(len)};
      return net;
    }
    // Narrowed, like walk(), to the CIDR around any alias it covers.
    bool narrowed = true;
    while (narrowed) {
      narrowed = false;
      for (const Excluded& x : k_excluded) {
        if (strictly_contains(v6 & net::mask<u128>(len), len, x)) {
          ++len;
          narrowed = true;
        }
      }
    }
    net.v6 = net::Prefix6{v6 & net::mask<u128>(len), static_cast<std::uint8_t>(len)};
    return net;
  }
  d.corrupt(std::string("the ") + net::family_name(family) + " search tree is deeper than " +
            std::to_string(bits - skip) + " bits");
}

MmdbValue
MmdbFile::value(std::uint32_t record, const MmdbPath& path) const
{
  MMDB_entry_s entry{&m->db, record};
  std::vector<const char*> keys;
  for (const std::string& k : path) {
    keys.push_back(k.c_str());
  }
  keys.push_back(nullptr);
  MMDB_entry_data_s data{};
  const int rc = MMDB_aget_value(&entry, &data, keys.data());
  MmdbValue out;
  if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR || rc == MMDB_INVALID_LOOKUP_PATH_ERROR) {
    return out; // a step is not a map
  }
  if (rc != MMDB_SUCCESS) {
    m->corrupt("data record at offset " + std::to_string(record) + ": " + MMDB_strerror(rc));
  }
  if (!data.has_data) {
    return out;
  }
  switch (data.type) {
  case MMDB_DATA_TYPE_UTF8_STRING:
    out.kind = MmdbValue::Kind::Text;
    out.text.assign(data.utf8_string, data.data_size);
    break;
  case MMDB_DATA_TYPE_UINT16:
    out.kind = MmdbValue::Kind::Number;
    out.number = data.uint16;
    break;
  case MMDB_DATA_TYPE_UINT32:
    out.kind = MmdbValue::Kind::Number;
    out.number = data.uint32;
    break;
  case MMDB_DATA_TYPE_UINT64:
    out.kind = MmdbValue::Kind::Number;
    out.number = data.uint64;
    break;
  case MMDB_DATA_TYPE_INT32:
    out.kind = data.int32 >= 0 ? MmdbValue::Kind::Number : MmdbValue::Kind::Other;
    out.number = data.int32 >= 0 ? static_cast<std::uint64_t>(data.int32) : 0;
    break;
  default:
    out.kind = MmdbValue::Kind::Other;
    break;
  }
  return out;
}

std::string
mmdb_library_version()
{
  return std::string("libmaxminddb ") + MMDB_lib_version();
}

} // namespace geoblock::source
