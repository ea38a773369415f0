// What `check ADDRESS` says of one address: whether the configured block
// holds it and why (the allowlist, a local network, an allowed or blocked
// AS, a blocklist, a listed country), and, where such data is configured,
// its country and its AS (number and name) with what each does to it, for
// every address, not only those of configured countries or ASes.
//
// The country and AS of an address come from the sources' data as facts
// (net/lookup.hpp): the fetching process looks the addresses up in the
// ASN data and the databases it reads, and the root process checks each
// answer again (privsep/report.hpp); this file only words them.
#pragma once

#include "flow/config.hpp"
#include "net/asn.hpp"
#include "net/blocklist.hpp"
#include "net/lookup.hpp"
#include "net/zone_result.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace geoblock::flow {

struct CheckData {
  const std::vector<net::ZoneResult>& zones;
  const std::vector<net::BlocklistResult>& lists;
  const std::vector<net::AsnResult>& asns; // asn and allow-asn, as loaded
  const std::vector<net::AddressFact>& facts;
  const Settings& settings;
  bool country_data = false; // source mmdb: a country for every address it holds
  bool as_data = false;      // asn-file or asn-url: an AS for every address it holds
};

// "203.0.113.10: blocked by AS64496 Example Hosting (203.0.113.0/25, asn);
// country: ru (203.0.113.0/24): not listed; AS: AS64496 Example Hosting
// (203.0.113.0/25): asn, blocks it". `index` is the address's index among
// those looked up (CheckData::facts refer to it).
std::string check_address(const std::string& text, const net::Address& address, std::size_t index,
                          const CheckData& data);

} // namespace geoblock::flow
