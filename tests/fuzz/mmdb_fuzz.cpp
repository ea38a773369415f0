// Fuzzes the readers of MaxMind-format databases and ASN data, untrusted
// input the fetching process reads (source/mmdb.hpp through
// read_mmdb_countries, source/asn_source.hpp read_asn_file: .mmdb,
// gzip, iptoasn TSV, start,end,asn,org CSV).
//
// The first byte picks what reads the rest: bit 0 the ASN reader (else the
// country reader), bit 1 the registered fallback, bit 2 the min-prefix
// guard (defaults, or none). The rest is the file, written to a private
// memory file (libmaxminddb opens files only).
// Checked on every input:
//  - nothing but Error is thrown (a corrupt tree, record or value is one
//    error naming the file; no crash, no endless walk);
//  - country codes are two lower-case letters, each once;
//  - every network is a valid prefix (no host bits) passing the guard, and
//    no IPv6 network lies in ::/96, ::ffff:0:0/96, 2001::/32 or 2002::/16;
//  - the ASN reader gives only the ASes asked for;
//  - check's lookups (MmdbFile::find, also on a database whose walk
//    fails, and the ASN reader's hits) throw nothing but Error, and what
//    they find is a valid prefix of the address's family holding it (one
//    find() gives never in ::/96 or an IPv6 alias).
// Seeds (tests/fuzz/corpus/mmdb): small databases of both layouts and
// every record size, written by tests/support/mmdb_writer.hpp, and ASN
// text files.
#include "core/error.hpp"
#include "fuzz/fuzz_util.hpp"
#include "net/asn.hpp"
#include "net/lookup.hpp"
#include "source/asn_source.hpp"
#include "source/mmdb_source.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <set>
#include <string>

namespace {

using namespace geoblock;
using fuzz::check;

template <class A>
bool
valid(const std::vector<net::Prefix<A>>& nets, int min)
{
  for (const auto& p : nets) {
    if ((p.addr & static_cast<A>(~net::mask<A>(p.len))) != 0 || p.len < min || p.len > net::kBits<A>) {
      return false;
    }
  }
  return true;
}

bool
no_alias(const std::vector<net::Prefix6>& nets)
{
  const auto in = [](const net::Prefix6& p, net::u128 addr, int len) {
    return p.len >= len && (p.addr & net::mask<net::u128>(len)) == addr;
  };
  for (const auto& p : nets) {
    if (in(p, 0, 96) || in(p, net::u128{0xffff} << 32, 96) || in(p, net::u128{0x2001} << 112, 32) ||
        in(p, net::u128{0x2002} << 112, 16)) {
      return false;
    }
  }
  return true;
}

// A memory file holding `data`, closed on destruction.
class MemFile {
public:
  explicit MemFile(std::string_view data) : m_fd(::memfd_create("fuzz-mmdb", MFD_CLOEXEC))
  {
    check(m_fd >= 0, "memfd_create works");
    for (std::size_t done = 0; done < data.size();) {
      const ssize_t n = ::write(m_fd, data.data() + done, data.size() - done);
      check(n > 0, "writing the memory file works");
      done += static_cast<std::size_t>(n);
    }
  }
  ~MemFile() { ::close(m_fd); }
  std::string path() const { return "/proc/self/fd/" + std::to_string(m_fd); }

private:
  int m_fd;
};

const std::vector<net::Address>&
lookups()
{
  static const std::vector<net::Address> a = [] {
    std::vector<net::Address> out;
    for (const char* t : {"0.0.0.0", "198.51.100.7", "255.255.255.255", "::1", "2001:db8::1", "ffff::1",
                          "::ffff:1.2.3.4", "2002::1"}) {
      out.push_back(*net::parse_address(t));
    }
    return out;
  }();
  return a;
}

// A valid prefix of the address's family holding it; from a database's
// tree (`tree`), never an IPv6 one in ::/96 or an alias (ASN text may
// list 2002::/16 as any other range).
bool
holds(net::Family family, const net::Prefix4& v4, const net::Prefix6& v6, const net::Address& a, bool tree)
{
  if (family != a.family) {
    return false;
  }
  return family == net::Family::V4 ? valid(std::vector<net::Prefix4>{v4}, 0) && v4.contains(a.v4)
                                   : valid(std::vector<net::Prefix6>{v6}, 0) && v6.contains(a.v6) &&
                                         (!tree || no_alias(std::vector<net::Prefix6>{v6}));
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  if (size < 1) {
    return 0;
  }
  const std::uint8_t opt = data[0];
  const MemFile file(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  const int min4 = (opt & 4) ? 0 : net::k_default_min_prefix_v4;
  const int min6 = (opt & 4) ? 0 : net::k_default_min_prefix_v6;
  if (opt & 1) {
    const net::AsnQuery query{{13335, 64496, 0}, false, lookups()};
    net::AsnData out;
    try {
      source::read_asn_file(file.path(), "asn.data", query, out, 1 << 20);
    } catch (const Error& e) {
      check(std::string(e.what()).find("asn.data") != std::string::npos, "errors name the file");
      return 0;
    }
    for (const auto& [number, as] : out.by_number) {
      check(number == 13335 || number == 64496 || number == 0, "only the ASes asked for");
      check(valid(as.nets.v4, 0) && valid(as.nets.v6, 0), "AS networks are valid prefixes");
    }
    check(out.hits.size() == lookups().size(), "one answer or none per lookup");
    for (std::size_t i = 0; i < out.hits.size(); ++i) {
      if (const auto& hit = out.hits[i]) {
        check(holds(hit->family, hit->v4, hit->v6, lookups()[i], false), "a hit's network holds its address");
      }
    }
    return 0;
  }
  // Lookups on the database as it opens, walked or not.
  try {
    const source::MmdbFile db(file.path(), "country.mmdb");
    for (const net::Address& a : lookups()) {
      if (const auto found = db.find(a.family, a.v4, a.v6)) {
        check(holds(found->family, found->v4, found->v6, a, true), "a found network holds its address");
      }
    }
  } catch (const Error& e) {
    check(std::string(e.what()).find("country.mmdb") != std::string::npos, "errors name the file");
  }
  source::MmdbOptions o;
  o.registered_fallback = (opt & 2) != 0;
  o.zone.min_prefix_v4 = min4;
  o.zone.min_prefix_v6 = min6;
  source::MmdbCountries c;
  try {
    c = source::read_mmdb_countries(file.path(), o, "country.mmdb");
  } catch (const Error& e) {
    check(std::string(e.what()).find("country.mmdb") != std::string::npos, "errors name the file");
    return 0;
  }
  std::set<std::string> codes;
  for (const auto& country : c.countries) {
    check(country.code.size() == 2 && country.code[0] >= 'a' && country.code[0] <= 'z' &&
              country.code[1] >= 'a' && country.code[1] <= 'z',
          "codes are two lower-case letters");
    check(codes.insert(country.code).second, "each country once");
    check(valid(country.nets.v4, min4) && valid(country.nets.v6, min6),
          "networks are valid and pass the guard");
    check(no_alias(country.nets.v6), "no IPv6 network in the IPv4 subtree or its aliases");
    check(c.metadata.ip_version == 6 || country.nets.v6.empty(), "an IPv4 database has no IPv6 networks");
  }
  return 0;
}
