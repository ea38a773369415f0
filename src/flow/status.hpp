// What `status` reports, as data: gathered once by the command, rendered
// as text and as JSON by the two functions below (nothing is built twice).
#pragma once

#include "apply/state.hpp"
#include "flow/managers.hpp"
#include "flow/stats.hpp"
#include "net/zone_source.hpp"
#include "util/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::flow {

struct ChainStatus {
  apply::Hook hook;
  std::size_t rules = 0;       // geoblock's rules there now
  std::optional<bool> in_sync; // unknown without cached data to compare with
};

struct FamilyStatus {
  net::Family family = net::Family::V4;
  std::string set;
  std::optional<apply::SetState> live_set; // nothing when the set does not exist
  apply::Counters dropped;
  bool rules_known = false;
  std::vector<ChainStatus> chains;
  std::vector<std::string> leftovers; // "<set>-new" of an interrupted run
};

struct StatusReport {
  std::string backend;                     // the backend chosen ("" where there was no choice)
  std::string backend_reason;              // and why
  std::optional<std::string> kernel_error; // the firewall could not be read
  std::vector<FamilyStatus> families;
  std::optional<bool> in_sync; // unknown: no cached data for the configured countries
  std::vector<std::string> drift;
  std::string state_path;
  util::Json last_update;                // the state document, null when none
  std::optional<net::CacheReport> cache; // for sources that keep one (the HTTP cache)
  // The host's firewall managers seen, each judged (cli/managers.hpp);
  // nothing where they were not looked for.
  std::optional<std::vector<Manager>> managers;
  // Per source (an action in the countries list): the five with the most
  // packets; `geoblock stats` lists them all.
  std::vector<SourceCounter> top_sources;
  std::int64_t now = 0;
};

std::string status_text(const StatusReport& report);
util::Json status_json(const StatusReport& report);

} // namespace geoblock::flow
