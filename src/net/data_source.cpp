#include "net/data_source.hpp"

#include "net/zone_source.hpp"

#include <algorithm>

namespace geoblock::net {

namespace {

template <typename T>
void
move_to(std::vector<T>& to, std::vector<T>&& from)
{
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

void
add_unique(std::vector<std::string>& to, const std::vector<std::string>& from)
{
  for (const std::string& s : from) {
    if (std::find(to.begin(), to.end(), s) == to.end()) {
      to.push_back(s);
    }
  }
}

} // namespace

void
append(SourceData& to, SourceData&& from)
{
  move_to(to.zones, std::move(from.zones));
  move_to(to.lists, std::move(from.lists));
  move_to(to.asns, std::move(from.asns));
  move_to(to.facts, std::move(from.facts));
}

std::optional<CacheReport>
merge(std::vector<std::optional<CacheReport>> reports)
{
  std::optional<CacheReport> all;
  for (std::optional<CacheReport>& report : reports) {
    if (!report) {
      continue;
    }
    if (!all) {
      all = std::move(report);
      continue;
    }
    all->where += ", " + report->where;
    move_to(all->zones, std::move(report->zones));
  }
  return all;
}

std::string
SourceList::describe() const
{
  std::string out;
  for (const auto& s : m_sources) {
    out += (out.empty() ? "" : ", ") + s->describe();
  }
  return out;
}

void
SourceList::load_into(const LoadRequest& request, SourceData& out)
{
  for (const auto& s : m_sources) {
    s->load_into(request, out);
  }
}

SourceData
SourceList::expected(const LoadRequest& request) const
{
  SourceData out;
  for (const auto& s : m_sources) {
    append(out, s->expected(request));
  }
  return out;
}

std::optional<CacheReport>
SourceList::cache(std::int64_t now) const
{
  std::vector<std::optional<CacheReport>> reports;
  for (const auto& s : m_sources) {
    reports.push_back(s->cache(now));
  }
  return merge(std::move(reports));
}

std::vector<std::string>
SourceList::cache_folders() const
{
  std::vector<std::string> out;
  for (const auto& s : m_sources) {
    add_unique(out, s->cache_folders());
  }
  return out;
}

std::vector<std::string>
SourceList::files() const
{
  std::vector<std::string> out;
  for (const auto& s : m_sources) {
    add_unique(out, s->files());
  }
  return out;
}

bool
SourceList::load_cache_here(const LoadRequest& request, SourceData& out) const
{
  SourceData all;
  for (const auto& s : m_sources) {
    if (!s->load_cache_here(request, all)) {
      return false;
    }
  }
  append(out, std::move(all));
  return true;
}

void
ZoneSource::load_into(const LoadRequest& request, SourceData& out)
{
  move_to(out.zones, load(request.countries, request.families, request.mode));
  if (!request.lookups.empty()) {
    look_up(request.lookups, out.facts);
  }
}

SourceData
ZoneSource::expected(const LoadRequest& request) const
{
  SourceData out;
  for (const Family f : {Family::V4, Family::V6}) {
    if (!includes(request.families, f)) {
      continue;
    }
    for (const std::string& cc : request.countries) {
      ZoneResult z;
      z.country = cc;
      z.family = f;
      out.zones.push_back(std::move(z));
    }
  }
  return out;
}

} // namespace geoblock::net
