// Several sources tried in order for each zone (`source = http, rir`): a
// ZoneSource made of ZoneSources, so the commands do not change shape
// (ninja's DiskInterface: the caller holds one interface, whatever is
// behind it).
//
// Refresh (update): for each country and family, the first source whose
// result is fresh data (downloaded, not modified, local) serves it; a
// source is asked only for the zones no earlier source served, so a
// working first source costs the later ones nothing. A source that fails
// for a zone (network, HTTP error, validation, checksum: its result is a
// stale cache or a failure), or has no data for it (absent), hands the
// zone to the next. A source that refused a zone's new data because it
// shrank by more than max-shrink (Origin::Refused) settles it: no other
// source is asked, and the refusal reaches the commands. When no source has
// fresh data:
//   - the last good cache serves: of the sources' cached copies (stale
//     cache results), the one most recently confirmed by its source (the
//     largest fetched_at; a tie goes to the earlier source). That copy is
//     the data the firewall was last built from, so falling back never
//     steps back to an older source's older data;
//   - else, when a source said the zone is absent upstream, the first such
//     answer;
//   - else the zone failed, its error naming every source's reason.
// CacheOnly (restore, check, status): every source reads its cache; the
// copy most recently confirmed serves (local files count as current), then
// absent, then failed, as above.
//
// Every result names the source that served it (ZoneResult::source). A
// source that throws (an unreadable bundle) fails all its zones, and the
// next source is asked; with a single source the error propagates as it
// would without failover.
#pragma once

#include "net/zone_source.hpp"

#include <memory>
#include <string>
#include <vector>

namespace geoblock::source {

struct NamedSource {
  std::string name; // what reports say served a zone: "http", "rir", "bundle", "maxmind"
  std::unique_ptr<net::ZoneSource> source;
};

class FailoverSource final : public net::ZoneSource {
public:
  // At least one source; throws std::invalid_argument for none.
  explicit FailoverSource(std::vector<NamedSource> sources);
  std::string describe() const override; // "https://www.ipdeny.com, then rir (5 files)"
  std::vector<net::ZoneResult> load(const std::vector<std::string>& countries, net::Families families,
                                    Mode mode) override;
  // What every source's data says of the addresses (each source answers
  // from what its last load read; those not asked by it say nothing).
  void look_up(const std::vector<net::Address>& addresses, std::vector<net::AddressFact>& out) const override;
  // Every source's cache in one report ("where" lists their directories).
  std::optional<net::CacheReport> cache(std::int64_t now) const override;
  // Every source's folders and files.
  std::vector<std::string> cache_folders() const override;
  std::vector<std::string> files() const override;
  // With one source, that source's (its zones unnamed: read from the last
  // good copy, not served by a source in this run); with several, none
  // (only a lone mirror's zones are exactly its cache's files).
  bool load_cache_here(const net::LoadRequest& request, net::SourceData& out) const override;

private:
  std::vector<NamedSource> m_sources;
};

} // namespace geoblock::source
