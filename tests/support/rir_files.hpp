// Five generated delegated-extended statistics files (one per registry, as
// the RIRs publish them: version line, summaries, asn, available, reserved
// and non-country records, IPv4 counts that are not powers of two) over
// the test networks, and the ipdeny-style mirror the same data gives: the
// rir source and the http source must agree on them entry for entry.
//
// Countries and their networks (addresses only from the documentation
// ranges):
//   cn (apnic)   198.51.100.0 +96     2001:db8:1::/48    (blocked in the e2e tests)
//   jp (apnic)   198.51.100.96 +32    2001:db8:2::/48
//   ru (ripencc) 203.0.113.0 +200     no IPv6            (blocked in the e2e tests)
//   de (ripencc) 203.0.113.200 +56    2001:db8:d::/48
//   us (arin)    192.0.2.0 +128       2001:db8:3::/48
//   br (lacnic)  192.0.2.128 +64      2001:db8:4::/48
//   za (afrinic) 192.0.2.192 +64      no IPv6
// plus AP/EU/ZZ records (not countries), available and reserved space.
// Checksums: apnic and ripencc publish "MD5 (file) = hash", arin
// "hash  file", lacnic a bare hash, afrinic none.
#pragma once

#include "net/aggregate.hpp"
#include "net/cidr.hpp"
#include "util/digest.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace geoblock::test {

struct RirRecord {
  std::string registry, cc, type, start, value, status;
};

inline const std::vector<std::string> k_registries = {"afrinic", "apnic", "arin", "lacnic", "ripencc"};
inline const std::vector<std::string> k_rir_countries = {"br", "cn", "de", "jp", "ru", "us", "za"};

inline std::vector<RirRecord>
rir_records()
{
  return {
      {"apnic", "CN", "ipv4", "198.51.100.0", "96", "allocated"},
      {"apnic", "CN", "ipv6", "2001:db8:1::", "48", "allocated"},
      {"apnic", "JP", "ipv4", "198.51.100.96", "32", "assigned"},
      {"apnic", "JP", "ipv6", "2001:db8:2::", "48", "assigned"},
      {"apnic", "AP", "ipv4", "198.51.100.128", "16", "allocated"},
      {"apnic", "", "ipv4", "198.51.100.144", "16", "available"},
      {"ripencc", "RU", "ipv4", "203.0.113.0", "200", "allocated"},
      {"ripencc", "DE", "ipv4", "203.0.113.200", "56", "allocated"},
      {"ripencc", "DE", "ipv6", "2001:db8:d::", "48", "assigned"},
      {"ripencc", "EU", "ipv6", "2001:db8:e::", "48", "allocated"},
      {"arin", "US", "ipv4", "192.0.2.0", "128", "assigned"},
      {"arin", "US", "ipv6", "2001:db8:3::", "48", "allocated"},
      {"arin", "", "ipv6", "2001:db8:f::", "48", "reserved"},
      {"lacnic", "BR", "ipv4", "192.0.2.128", "64", "allocated"},
      {"lacnic", "BR", "ipv6", "2001:db8:4::", "48", "allocated"},
      {"afrinic", "ZA", "ipv4", "192.0.2.192", "64", "allocated"},
      {"afrinic", "ZZ", "ipv4", "198.51.100.160", "8", "assigned"},
  };
}

inline std::string
rir_path(const std::string& registry)
{
  return "/" + registry + "/delegated-" + registry + "-extended-latest";
}

// The body of one registry's file.
inline std::string
rir_body(const std::string& registry)
{
  std::vector<std::string> lines;
  std::size_t n4 = 0, n6 = 0;
  for (const RirRecord& r : rir_records()) {
    if (r.registry != registry) {
      continue;
    }
    (r.type == "ipv4" ? n4 : n6) += 1;
    lines.push_back(r.registry + "|" + r.cc + "|" + r.type + "|" + r.start + "|" + r.value + "|" +
                    (r.status == "available" || r.status == "reserved" ? "" : "20200101") + "|" + r.status +
                    "|id-" + std::to_string(lines.size()));
  }
  std::string body =
      "2|" + registry + "|20261201|" + std::to_string(lines.size() + 1) + "|19830101|20261130|+0000\n";
  body += "# generated for geoblock's tests\n";
  body += registry + "|*|asn|*|1|summary\n";
  body += registry + "|*|ipv4|*|" + std::to_string(n4) + "|summary\n";
  body += registry + "|*|ipv6|*|" + std::to_string(n6) + "|summary\n";
  body += registry + "|ZZ|asn|64500|1|20200101|assigned|id-asn\n";
  for (const std::string& l : lines) {
    body += l + "\n";
  }
  return body;
}

inline void
write_text(const std::string& path, const std::string& text)
{
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// The .md5 of a body in the form `registry` uses; "" for none published.
inline std::string
rir_md5_text(const std::string& registry, const std::string& body)
{
  const std::string name = "delegated-" + registry + "-extended-latest";
  const std::string md5 = util::md5_hex(body);
  if (registry == "apnic") {
    return "MD5 (delegated-apnic-extended-20261201) = " + md5 + "\n";
  }
  if (registry == "ripencc") {
    return "MD5 (" + name + ") = " + md5 + "\n";
  }
  if (registry == "arin") {
    return md5 + "  " + name + "\n";
  }
  if (registry == "lacnic") {
    return md5 + "\n";
  }
  return "";
}

// Writes one registry's file (and its .md5) under `root`.
inline void
write_rir_file(const std::string& root, const std::string& registry, const std::string& body)
{
  write_text(root + rir_path(registry), body);
  const std::string md5 = rir_md5_text(registry, body);
  if (!md5.empty()) {
    write_text(root + rir_path(registry) + ".md5", md5);
  }
}

// All five files under `root`; returns their URLs under `base_url`.
inline std::vector<std::string>
write_rir_tree(const std::string& root, const std::string& base_url)
{
  std::vector<std::string> urls;
  for (const std::string& r : k_registries) {
    write_rir_file(root, r, rir_body(r));
    urls.push_back(base_url + rir_path(r));
  }
  return urls;
}

// The networks of each country and family in the records: "cn v4" -> CIDRs.
inline std::map<std::string, std::vector<std::string>>
rir_expected_zones()
{
  std::map<std::string, std::vector<std::string>> zones;
  for (const RirRecord& r : rir_records()) {
    std::string cc = r.cc;
    for (char& c : cc) {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (r.status == "available" || r.status == "reserved" || cc == "ap" || cc == "eu" || cc == "zz") {
      continue;
    }
    if (r.type == "ipv4") {
      const std::uint32_t first = *net::parse_v4(r.start);
      std::vector<net::Prefix4> nets;
      net::split_range(
          net::Range<std::uint32_t>{first, static_cast<std::uint32_t>(first + std::stoul(r.value) - 1)},
          nets);
      for (const auto& p : nets) {
        zones[cc + " v4"].push_back(net::to_string(p));
      }
    } else {
      zones[cc + " v6"].push_back(r.start + "/" + r.value);
    }
  }
  return zones;
}

// The ipdeny-style mirror of the same data under `root` (zones and
// MD5SUM per directory); countries without IPv6 have no v6 zone (404).
inline void
write_rir_equivalent_mirror(const std::string& root)
{
  std::map<std::string, std::string> sums;
  for (const auto& [key, nets] : rir_expected_zones()) {
    const std::string cc = key.substr(0, 2);
    const std::string dir = key.substr(3) == "v4" ? "/ipblocks/data/countries" : "/ipv6/ipaddresses/blocks";
    std::string body;
    for (const std::string& n : nets) {
      body += n + "\n";
    }
    write_text(root + dir + "/" + cc + ".zone", body);
    sums[dir] += util::md5_hex(body) + "  " + cc + ".zone\n";
  }
  for (const auto& [dir, text] : sums) {
    write_text(root + dir + "/MD5SUM", text);
  }
}

} // namespace geoblock::test
