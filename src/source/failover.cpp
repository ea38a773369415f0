#include "source/failover.hpp"

#include "core/error.hpp"
#include "core/log.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>

namespace geoblock::source {

namespace {

using net::Origin;
using net::ZoneResult;
using Mode = net::ZoneSource::Mode;

bool
serves(Origin o)
{
  return o == Origin::Downloaded || o == Origin::NotModified || o == Origin::Local;
}

// When the source last confirmed the copy: a local file is read as it is
// now, so it counts as current.
std::int64_t
confirmed_at(const ZoneResult& r)
{
  return r.origin == Origin::Local ? std::numeric_limits<std::int64_t>::max() : r.fetched_at;
}

// A source that refused a zone's new data (max-shrink) settles it: the
// refusal is the administrator's to decide (--force), not a failure another
// source may paper over.
bool
settles(Origin o)
{
  return serves(o) || o == Origin::Refused;
}

// Whether a zone needs no further source.
bool
settled(const std::vector<ZoneResult>& candidates, Mode mode)
{
  if (mode == Mode::CacheOnly) {
    return false; // every source's cache is compared
  }
  for (const ZoneResult& r : candidates) {
    if (settles(r.origin)) {
      return true;
    }
  }
  return false;
}

// The contract of failover.hpp, for one zone's results in source order.
ZoneResult
choose(std::vector<ZoneResult>& candidates, Mode mode, const std::string& country, net::Family family)
{
  if (mode == Mode::Refresh) {
    for (ZoneResult& r : candidates) {
      if (settles(r.origin)) {
        return std::move(r);
      }
    }
  }
  ZoneResult* best = nullptr;
  for (ZoneResult& r : candidates) {
    if ((serves(r.origin) || r.origin == Origin::StaleCache) &&
        (!best || confirmed_at(r) > confirmed_at(*best))) {
      best = &r;
    }
  }
  if (best) {
    return std::move(*best);
  }
  for (ZoneResult& r : candidates) {
    if (r.origin == Origin::Absent) {
      return std::move(r);
    }
  }
  ZoneResult failed;
  failed.country = country;
  failed.family = family;
  failed.origin = Origin::Failed;
  for (const ZoneResult& r : candidates) {
    failed.error += (failed.error.empty() ? "" : "; ") + r.source + ": " + r.error;
    if (failed.location.empty()) {
      failed.location = r.location;
    }
  }
  if (candidates.empty()) {
    failed.error = "no source returned this zone";
  }
  return failed;
}

} // namespace

FailoverSource::FailoverSource(std::vector<NamedSource> sources) : m_sources(std::move(sources))
{
  if (m_sources.empty()) {
    throw std::invalid_argument("FailoverSource needs at least one source");
  }
}

std::string
FailoverSource::describe() const
{
  std::string out;
  for (const NamedSource& s : m_sources) {
    out += (out.empty() ? "" : ", then ") + s.source->describe();
  }
  return out;
}

std::optional<net::CacheReport>
FailoverSource::cache(std::int64_t now) const
{
  std::vector<std::optional<net::CacheReport>> reports;
  for (const NamedSource& s : m_sources) {
    reports.push_back(s.source->cache(now));
  }
  return net::merge(std::move(reports));
}

std::vector<std::string>
FailoverSource::cache_folders() const
{
  std::vector<std::string> out;
  for (const NamedSource& s : m_sources) {
    for (const std::string& f : s.source->cache_folders()) {
      if (std::find(out.begin(), out.end(), f) == out.end()) {
        out.push_back(f);
      }
    }
  }
  return out;
}

std::vector<std::string>
FailoverSource::files() const
{
  std::vector<std::string> out;
  for (const NamedSource& s : m_sources) {
    for (const std::string& f : s.source->files()) {
      if (std::find(out.begin(), out.end(), f) == out.end()) {
        out.push_back(f);
      }
    }
  }
  return out;
}

void
FailoverSource::look_up(const std::vector<net::Address>& addresses, std::vector<net::AddressFact>& out) const
{
  for (const NamedSource& s : m_sources) {
    s.source->look_up(addresses, out);
  }
}

bool
FailoverSource::load_cache_here(const net::LoadRequest& request, net::SourceData& out) const
{
  return m_sources.size() == 1 && m_sources[0].source->load_cache_here(request, out);
}

std::vector<ZoneResult>
FailoverSource::load(const std::vector<std::string>& countries, net::Families families, Mode mode)
{
  if (m_sources.size() == 1) {
    std::vector<ZoneResult> results = m_sources[0].source->load(countries, families, mode);
    for (ZoneResult& r : results) {
      r.source = m_sources[0].name;
    }
    return results;
  }

  std::vector<net::Family> fams;
  for (const net::Family f : {net::Family::V4, net::Family::V6}) {
    if (net::includes(families, f)) {
      fams.push_back(f);
    }
  }
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < countries.size(); ++i) {
    index.emplace(countries[i], i);
  }
  // candidates[family][country]: each asked source's result, in order.
  std::vector<std::vector<ZoneResult>> candidates[2];
  candidates[0].resize(countries.size());
  candidates[1].resize(countries.size());

  for (const NamedSource& s : m_sources) {
    // The zones still open, per family; one call when both families ask
    // for the same countries (the usual first source), else one per family.
    std::vector<std::string> ask[2];
    for (const net::Family f : fams) {
      for (std::size_t i = 0; i < countries.size(); ++i) {
        if (!settled(candidates[net::family_index(f)][i], mode)) {
          ask[net::family_index(f)].push_back(countries[i]);
        }
      }
    }
    std::vector<std::pair<std::vector<std::string>, net::Families>> calls;
    if (fams.size() == 2 && ask[0] == ask[1]) {
      calls.emplace_back(ask[0], net::Families::Both);
    } else {
      for (const net::Family f : fams) {
        calls.emplace_back(ask[net::family_index(f)],
                           f == net::Family::V4 ? net::Families::V4 : net::Families::V6);
      }
    }
    for (const auto& [asked, fs] : calls) {
      if (asked.empty()) {
        continue;
      }
      std::vector<ZoneResult> got;
      try {
        got = s.source->load(asked, fs, mode);
      } catch (const Error& e) {
        log::warning(s.name + ": " + e.what() + "; trying the next source");
        for (const net::Family f : fams) {
          if (!net::includes(fs, f)) {
            continue;
          }
          for (const std::string& cc : asked) {
            ZoneResult failed;
            failed.country = cc;
            failed.family = f;
            failed.origin = Origin::Failed;
            failed.error = e.what();
            got.push_back(std::move(failed));
          }
        }
      }
      for (ZoneResult& r : got) {
        const auto it = index.find(r.country);
        if (it == index.end() || !net::includes(fs, r.family)) {
          continue; // not asked for: a source's mistake, not data
        }
        r.source = s.name;
        candidates[net::family_index(r.family)][it->second].push_back(std::move(r));
      }
    }
  }

  std::vector<ZoneResult> results;
  std::map<std::string, std::vector<std::string>> taken_over; // source -> zones it served after others failed
  for (const net::Family f : fams) {
    for (std::size_t i = 0; i < countries.size(); ++i) {
      std::vector<ZoneResult>& c = candidates[net::family_index(f)][i];
      std::string earlier;
      for (const ZoneResult& r : c) {
        if (!serves(r.origin) && !r.error.empty()) {
          earlier +=
              (earlier.empty() ? "" : "; ") + r.source + ": " + net::origin_name(r.origin) + ": " + r.error;
        }
      }
      results.push_back(choose(c, mode, countries[i], f));
      const ZoneResult& r = results.back();
      const std::string zone = countries[i] + " " + net::family_key(f);
      if (mode == Mode::Refresh && r.source != m_sources[0].name && serves(r.origin)) {
        taken_over[r.source].push_back(zone);
        log::verbose(zone + ": served by " + r.source + " (" + earlier + ")");
      }
    }
  }
  for (const auto& [name, zones] : taken_over) {
    std::string list;
    for (std::size_t i = 0; i < zones.size() && i < 10; ++i) {
      list += (i ? ", " : "") + zones[i];
    }
    if (zones.size() > 10) {
      list += ", ...";
    }
    log::info(name + " served " + std::to_string(zones.size()) +
              " zone(s) an earlier source could not: " + list);
  }
  return results;
}

} // namespace geoblock::source
