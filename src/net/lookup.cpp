#include "net/lookup.hpp"

namespace geoblock::net {

std::optional<Address>
parse_address(std::string_view text)
{
  Address a;
  if (const auto v4 = parse_v4(text)) {
    a.family = Family::V4;
    a.v4 = *v4;
    return a;
  }
  if (const auto v6 = parse_v6(text)) {
    a.family = Family::V6;
    a.v6 = *v6;
    return a;
  }
  return std::nullopt;
}

std::string
to_string(const Address& a)
{
  return a.family == Family::V4 ? address_to_string(a.v4) : address_to_string(a.v6);
}

bool
AddressFact::holds(const Address& a) const
{
  if (a.family != family) {
    return false;
  }
  return family == Family::V4 ? v4.contains(a.v4) : v6.contains(a.v6);
}

std::string
AddressFact::network() const
{
  return family == Family::V4 ? to_string(v4) : to_string(v6);
}

void
set_network(AddressFact& fact, Family family, const Prefix4& v4, const Prefix6& v6)
{
  fact.family = family;
  fact.v4 = family == Family::V4 ? v4 : Prefix4{};
  fact.v6 = family == Family::V6 ? v6 : Prefix6{};
}

} // namespace geoblock::net
