// The addresses `check` asks about, and what the sources' data says of
// each: the autonomous system or the country holding it (check names both
// for every address, whether or not they are configured to block).
//
// The sources answer where they read their data: the ASN data and the
// databases in the confined fetching process, which hands its answers over
// in its report (privsep/report.hpp, "fact" records). Each answer names
// the data's network holding the address, and the root process checks it
// again (privsep::revalidate_facts): a network of the address's family
// that holds it, an AS number, a printable name, a two-letter code.
#pragma once

#include "net/cidr.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace geoblock::net {

// One address of either family.
struct Address {
  Family family = Family::V4;
  std::uint32_t v4 = 0;
  u128 v6 = 0;
};
// The strict parsers of cidr.hpp: a dotted quad or an IPv6 text form.
std::optional<Address> parse_address(std::string_view text);
std::string to_string(const Address& a);

// What one source's data says of one address.
struct AddressFact {
  enum class Kind { As, Country };
  std::size_t address = 0; // index into the addresses asked about (LoadRequest::lookups)
  Kind kind = Kind::As;
  std::uint32_t as_number = 0; // As
  std::string as_name;         // As: the organisation as the data names it (may be empty)
  std::string country;         // Country: a lower-case two-letter code
  // The data's network holding the address (one family filled).
  Family family = Family::V4;
  Prefix4 v4;
  Prefix6 v6;
  std::string source; // the data: "asn" (asn-file, asn-url) or "mmdb" (source mmdb's databases)

  bool holds(const Address& a) const;
  std::string network() const; // "203.0.113.0/25"
};

// The data's network of `family` holding `a`, as a fact's network.
void set_network(AddressFact& fact, Family family, const Prefix4& v4, const Prefix6& v6);

} // namespace geoblock::net
