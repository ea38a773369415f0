#include "fetch/shrink_guard.hpp"

#include "core/error.hpp"
#include "net/aggregate.hpp"
#include "util/clock.hpp"

#include <cmath>

namespace geoblock::fetch {

namespace {

std::string
percent(double fraction)
{
  return std::to_string(std::lround(fraction * 100)) + "%";
}

} // namespace

void
check_max_shrink(double fraction)
{
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    throw ConfigError("expected a fraction from 0 to 1, got " + std::to_string(fraction));
  }
}

double
Shrink::fraction() const
{
  if (!(addresses_before > 0) || addresses_after >= addresses_before) {
    return 0.0;
  }
  return static_cast<double>(1.0L - addresses_after / addresses_before);
}

long double
covered_addresses(const net::NetList& nets, net::Family family)
{
  // address_count saturates at 2^128 - 1 (::/0 has one more address), far
  // below what a ratio can tell apart.
  return family == net::Family::V4 ? static_cast<long double>(net::address_count(net::aggregate(nets.v4)))
                                   : static_cast<long double>(net::address_count(net::aggregate(nets.v6)));
}

Shrink
measure_shrink(const net::NetList& before, const net::NetList& after, net::Family family)
{
  Shrink s;
  s.networks_before = family == net::Family::V4 ? before.v4.size() : before.v6.size();
  s.networks_after = family == net::Family::V4 ? after.v4.size() : after.v6.size();
  s.addresses_before = covered_addresses(before, family);
  s.addresses_after = covered_addresses(after, family);
  return s;
}

bool
beyond(const Shrink& s, double max_shrink)
{
  return s.fraction() > max_shrink;
}

std::string
describe_shrink(const std::string& subject, const Shrink& s, double max_shrink, const std::string& against)
{
  return subject + ": " + std::to_string(s.networks_before) + " to " + std::to_string(s.networks_after) +
         " networks (-" + percent(s.fraction()) + " of the addresses, more than max-shrink " +
         percent(max_shrink) + ") against " + against;
}

std::string
last_good_copy_of(std::int64_t when)
{
  return when > 0 ? "its last good copy of " + util::format_utc(when) : std::string("its last good copy");
}

} // namespace geoblock::fetch
