#include "flow/config.hpp"

#include "apply/applier.hpp"

#include "core/country.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "fetch/blocklist_fetch.hpp"
#include "fetch/fetcher.hpp"
#include "fetch/rir_source.hpp"
#include "net/zone.hpp"
#include "util/file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace geoblock::flow {

std::string
KeyOrigins::where(const std::string& key) const
{
  if (std::find(from_command_line.begin(), from_command_line.end(), key) != from_command_line.end()) {
    return "option '--" + key + "'";
  }
  const auto it = lines.find(key);
  if (it != lines.end()) {
    return config_path + ":" + std::to_string(it->second) + ": key '" + key + "'";
  }
  return "default of '" + key + "'";
}

namespace {

// A file that decides what root's firewall does must not be writable by
// anybody but root.
void
check_permissions(const std::string& path, const std::string& what)
{
  if (geteuid() != 0) {
    return;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return; // reported by whoever reads it
  }
  if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw ConfigError(path + ": refusing " + what + " writable by others than root (owner uid " +
                      std::to_string(st.st_uid) + ", mode " +
                      [&] {
                        char buf[8];
                        std::snprintf(buf, sizeof buf, "%04o", st.st_mode & 07777);
                        return std::string(buf);
                      }() +
                      "); fix with: chown root: " + path + " && chmod go-w " + path);
  }
}

std::vector<std::string>
split_codes(const std::string& text)
{
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t' || c == ';') {
      if (!cur.empty()) {
        out.push_back(cur);
        cur.clear();
      }
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) {
    out.push_back(cur);
  }
  return out;
}

void
check_range(const KeyOrigins& o, const std::string& key, long value, long lo, long hi)
{
  if (value < lo || value > hi) {
    throw ConfigError(o.where(key) + ": expected a number from " + std::to_string(lo) + " to " +
                      std::to_string(hi) + ", got " + std::to_string(value));
  }
}

// The typed rule configuration; each value's error names its key.
apply::RulesConfig
validate_rules(const Config& raw, const Settings& s)
{
  const KeyOrigins& o = raw.origins;
  apply::RulesConfig r;
  r.set_name = raw.set_name;
  r.families = s.families;
  r.policy = s.allow_only ? apply::Policy::AllowOnly : apply::Policy::Block;
  const auto at = [&o](const std::string& key, auto&& parse) {
    try {
      return parse();
    } catch (const ConfigError& e) {
      throw ConfigError(o.where(key) + ": " + e.what());
    }
  };
  for (const std::string& c : raw.chain) {
    r.chains.push_back(at("chain", [&] { return apply::parse_hook(c); }));
  }
  at("set-name", [&] { apply::check_set_name(raw.set_name); });
  for (const std::string& i : raw.interface) {
    at("interface", [&] { apply::check_interface(i); });
    r.interfaces.push_back(i);
  }
  for (const std::string& p : raw.ports) {
    const auto more = at("ports", [&] { return apply::parse_ports(p); });
    r.ports.insert(r.ports.end(), more.begin(), more.end());
  }
  for (const std::string& p : raw.except_ports) {
    const auto more = at("except-ports", [&] { return apply::parse_ports(p); });
    r.except_ports.insert(r.except_ports.end(), more.begin(), more.end());
  }
  at("except-ports", [&] { apply::check_ports(r); });
  if (raw.match == "all" || raw.match == "new") {
    r.match = raw.match == "new" ? apply::Match::New : apply::Match::All;
  } else {
    throw ConfigError(o.where("match") + ": expected all or new, got '" + raw.match + "'");
  }
  if (raw.direction == "in") {
    r.direction = apply::Direction::In;
  } else if (raw.direction == "out") {
    r.direction = apply::Direction::Out;
  } else if (raw.direction == "both") {
    r.direction = apply::Direction::Both;
  } else {
    throw ConfigError(o.where("direction") + ": expected in, out or both, got '" + raw.direction + "'");
  }
  r.log = raw.log;
  if (raw.log_prefix.size() > 29 || raw.log_prefix.find_first_of("\"\n\r\\") != std::string::npos) {
    throw ConfigError(o.where("log-prefix") +
                      ": at most 29 characters, without quotes, backslashes or line breaks");
  }
  r.log_prefix = raw.log_prefix;
  r.log_rate = at("log-rate", [&] { return apply::parse_rate(raw.log_rate); });
  at(r.policy == apply::Policy::AllowOnly ? "chain" : "match", [&] { apply::check_hooks(r); });
  return r;
}

// `source`: a comma-separated list, tried in order for each zone.
std::vector<Settings::SourceSpec>
parse_sources(const std::string& text, const KeyOrigins& o)
{
  std::vector<Settings::SourceSpec> out;
  std::vector<std::string> seen;
  std::size_t start = 0;
  for (int n = 1;; ++n) {
    const std::size_t comma = text.find(',', start);
    const std::string item(text::trim(std::string_view(text).substr(
        start, comma == std::string::npos ? std::string::npos : comma - start)));
    const std::string where = o.where("source") + ": item " + std::to_string(n) + " '" + item + "'";
    Settings::SourceSpec spec;
    if (item == "http" || (item.empty() && text.find_first_not_of(" \t") == std::string::npos)) {
      spec.kind = Settings::SourceKind::Http;
    } else if (item == "rir") {
      spec.kind = Settings::SourceKind::Rir;
    } else if (item.rfind("bundle:", 0) == 0 && item.size() > 7) {
      spec.kind = Settings::SourceKind::Bundle;
      spec.path = item.substr(7);
    } else if (item.rfind("maxmind:", 0) == 0 && item.size() > 8) {
      spec.kind = Settings::SourceKind::Maxmind;
      spec.path = item.substr(8);
    } else if (item == "mmdb") {
      spec.kind = Settings::SourceKind::Mmdb; // the files: mmdb-file
    } else {
      throw ConfigError(where + ": expected http, rir, mmdb, bundle:/path.zip or maxmind:/path.zip (a "
                                "comma-separated list, tried in order)");
    }
    const std::string key = item.empty() ? "http" : item;
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      throw ConfigError(where + ": listed twice");
    }
    seen.push_back(key);
    out.push_back(spec);
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return out;
}

} // namespace

namespace {

bool
is_action_word(const std::string& word)
{
  return word == "drop" || word == "reject" || word == "count" || word == "limit";
}

std::string
lower(std::string text)
{
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return text;
}

} // namespace

std::vector<CountryEntry>
parse_country_entries(const std::string& text, const std::string& source, std::size_t first_line)
{
  std::vector<CountryEntry> out;
  text::Lines lines(text);
  for (std::string_view raw; lines.next(raw);) {
    const std::size_t number = first_line + lines.number() - 1;
    const std::string where = source + ":" + std::to_string(number) + ": ";
    std::string line(raw.substr(0, raw.find('#')));
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    const std::vector<std::string> words = split_codes(line);
    std::vector<CountryEntry> here; // this line's codes
    std::size_t pending = 0;        // the first of them without an action yet
    for (std::size_t i = 0; i < words.size(); ++i) {
      const std::string word = lower(words[i]);
      if (is_action_word(word)) {
        apply::SourceAction action;
        if (word == "reject") {
          action.kind = apply::SourceAction::Kind::Reject;
        } else if (word == "count") {
          action.kind = apply::SourceAction::Kind::Count;
        } else if (word == "limit") {
          action.kind = apply::SourceAction::Kind::Limit;
          if (i + 1 == words.size()) {
            throw ConfigError(where + "'limit' needs a rate after it (limit 10/second)");
          }
          try {
            action.rate = apply::parse_rate(words[++i]);
          } catch (const ConfigError& e) {
            throw ConfigError(where + "limit " + e.what());
          }
        }
        if (pending == here.size()) {
          throw ConfigError(where + "'" + words[i - (word == "limit" ? 1 : 0)] +
                            "' follows no country: an action goes after the code it applies to ('nz " + word +
                            (word == "limit" ? " " + words[i] : std::string()) + "')");
        }
        for (std::size_t k = pending; k < here.size(); ++k) {
          here[k].action = action;
        }
        pending = here.size();
        continue;
      }
      std::string normal;
      std::string problem;
      if (words[i].size() != 2) {
        throw ConfigError(where + "'" + words[i] +
                          "' is neither a country code nor an action (drop, reject, count, limit RATE)");
      }
      if (!normalize_country(words[i], normal, &problem)) {
        throw ConfigError(where + problem);
      }
      here.push_back(CountryEntry{normal, {}, number});
    }
    for (CountryEntry& e : here) {
      const auto same =
          std::find_if(out.begin(), out.end(), [&](const CountryEntry& o) { return o.code == e.code; });
      if (same == out.end()) {
        out.push_back(std::move(e));
      } else if (!(same->action == e.action)) {
        throw ConfigError(where + e.code + " is listed with two actions: " + apply::to_string(same->action) +
                          " (line " + std::to_string(same->line) + ") and " + apply::to_string(e.action));
      }
    }
  }
  return out;
}

std::vector<std::string>
parse_countries_file(const std::string& text, const std::string& source)
{
  std::vector<std::string> codes;
  for (const CountryEntry& e : parse_country_entries(text, source)) {
    codes.push_back(e.code);
  }
  return codes;
}

Settings
validate(const Config& raw, Countries countries)
{
  Settings s;
  s.raw = raw;
  const KeyOrigins& o = raw.origins;

  if (!raw.origins.config_path.empty()) {
    check_permissions(raw.origins.config_path, "a configuration file");
  }

  // Countries: the `countries` key wins over the file.
  std::vector<CountryEntry> entries;
  if (!raw.countries.empty()) {
    try {
      entries = parse_country_entries(raw.countries, "countries");
    } catch (const ConfigError& e) {
      // "countries:1: problem" -> "FILE:LINE: countries: problem"
      const std::string what = e.what();
      throw ConfigError(o.where("countries") + ": " + what.substr(what.find(": ") + 2));
    }
  } else if (countries == Countries::Required) {
    std::string text;
    try {
      text = util::read_file(raw.countries_file);
    } catch (const Error& e) {
      throw ConfigError(o.where("countries-file") + ": " + e.what());
    }
    check_permissions(raw.countries_file, "a countries file");
    entries = parse_country_entries(text, raw.countries_file);
  }
  for (const CountryEntry& e : entries) {
    s.countries.push_back(e.code);
    s.country_actions[e.code] = e.action;
  }
  if (countries == Countries::Required && s.countries.empty()) {
    throw ConfigError((raw.countries.empty() ? raw.countries_file : o.where("countries")) +
                      ": no countries listed; nothing to block");
  }

  const auto fam = net::parse_families(raw.family);
  if (!fam) {
    throw ConfigError(o.where("family") + ": expected v4, v6 or both, got '" + raw.family + "'");
  }
  s.families = *fam;

  if (raw.policy == "block") {
    s.allow_only = false;
  } else if (raw.policy == "allow-only") {
    s.allow_only = true;
  } else {
    throw ConfigError(o.where("policy") + ": expected block or allow-only, got '" + raw.policy + "'");
  }
  if (!raw.count_by_source) {
    for (const CountryEntry& e : entries) {
      if (e.action.kind != apply::SourceAction::Kind::Drop) {
        throw ConfigError(o.where("count-by-source") + ": false, but the countries list gives " + e.code +
                          " the action '" + apply::to_string(e.action) +
                          "', which needs each country counted on its own (set it to true)");
      }
    }
  }
  if (s.allow_only) {
    // The list is what is let in: an action has nothing to act on.
    for (const CountryEntry& e : entries) {
      if (e.action.kind != apply::SourceAction::Kind::Drop) {
        throw ConfigError((raw.countries.empty() ? raw.countries_file + ":" + std::to_string(e.line)
                                                 : o.where("countries")) +
                          ": '" + apply::to_string(e.action) + "' after " + e.code +
                          ": with policy allow-only the list names the allowed countries; actions apply with "
                          "policy block");
      }
    }
  }

  s.sources = parse_sources(raw.source, o);
  if (raw.base_url.rfind("http://", 0) != 0 && raw.base_url.rfind("https://", 0) != 0 &&
      raw.base_url.rfind("file://", 0) != 0) {
    throw ConfigError(o.where("base-url") + ": expected an http://, https:// or file:// URL, got '" +
                      raw.base_url + "'");
  }

  for (const auto& [key, t] : {std::pair<const char*, const std::string*>{"zone-url-v4", &raw.zone_url_v4},
                               std::pair<const char*, const std::string*>{"zone-url-v6", &raw.zone_url_v6}}) {
    if (!t->empty()) {
      if (const std::string problem = fetch::zone_url_template_problem(*t); !problem.empty()) {
        throw ConfigError(o.where(key) + ": " + problem);
      }
    }
  }
  s.rir_urls = raw.rir_url.empty() ? fetch::k_default_rir_urls : raw.rir_url;
  for (std::size_t i = 0; i < s.rir_urls.size(); ++i) {
    const std::string& url = s.rir_urls[i];
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0 && url.rfind("file://", 0) != 0) {
      throw ConfigError(o.where("rir-url") + ": expected an http://, https:// or file:// URL, got '" + url +
                        "'");
    }
    const std::string name = fetch::rir_file_name(url);
    if (name.empty()) {
      throw ConfigError(o.where("rir-url") + ": '" + url + "' names a directory, not a file");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (fetch::rir_file_name(s.rir_urls[j]) == name) {
        throw ConfigError(o.where("rir-url") + ": '" + s.rir_urls[j] + "' and '" + url +
                          "' have the same file name; each file is cached under its name");
      }
    }
  }
  if (raw.rir_max_bytes < 1024 || raw.rir_max_bytes > (4ull << 30)) {
    throw ConfigError(o.where("rir-max-bytes") +
                      ": expected a number of bytes from 1024 to 4294967296, got " +
                      std::to_string(raw.rir_max_bytes));
  }

  s.rules = validate_rules(raw, s);
  if (const auto backend = parse_backend_setting(raw.backend)) {
    s.backend = *backend;
  } else {
    throw ConfigError(o.where("backend") + ": expected auto, iptables or nftables, got '" + raw.backend +
                      "'");
  }

  try {
    fetch::check_max_shrink(raw.max_shrink);
  } catch (const ConfigError& e) {
    throw ConfigError(o.where("max-shrink") + ": " + e.what());
  }
  check_range(o, "min-prefix-v4", raw.min_prefix_v4, 1, 32);
  check_range(o, "min-prefix-v6", raw.min_prefix_v6, 1, 128);
  check_range(o, "parallel", raw.parallel, 1, 64);
  check_range(o, "timeout", raw.timeout, 1, 3600);
  check_range(o, "connect-timeout", raw.connect_timeout, 1, 600);
  check_range(o, "retries", raw.retries, 0, 20);
  check_range(o, "stale-days", raw.stale_days, 1, 3650);
  check_range(o, "lock-wait", raw.lock_wait, 0, 3600);
  if (raw.geoname_fallback != "none" && raw.geoname_fallback != "registered") {
    throw ConfigError(o.where("geoname-fallback") + ": expected none or registered, got '" +
                      raw.geoname_fallback + "'");
  }

  for (const std::string& cidr : raw.allow) {
    std::string problem;
    if (!net::parse_network(cidr, s.allow, &problem)) {
      throw ConfigError(o.where("allow") + ": " + problem + ": '" + cidr + "'");
    }
  }
  if (!raw.allowlist_file.empty()) {
    std::string text;
    try {
      text = util::read_file(raw.allowlist_file);
    } catch (const Error& e) {
      throw ConfigError(o.where("allowlist-file") + ": " + e.what());
    }
    check_permissions(raw.allowlist_file, "an allowlist file");
    try {
      net::parse_zone(text, raw.allowlist_file, net::ZoneOptions{}, s.allow);
    } catch (const ParseError& e) {
      throw ConfigError(e.what());
    }
  }
  s.rules.allowlist = s.allow;
  for (const std::string& list : raw.blocklist) {
    const bool url = fetch::is_blocklist_url(list);
    if (list.empty() || (!url && list.find("://") != std::string::npos)) {
      throw ConfigError(o.where("blocklist") + ": expected an http:// or https:// URL or a file, got '" +
                        list + "'");
    }
    if (!url) {
      check_permissions(list, "a blocklist file");
    }
  }
  for (const std::string* f : {&raw.baseline, &raw.baseline6}) {
    if (!f->empty() && ::access(f->c_str(), R_OK) != 0) {
      throw ConfigError(o.where(f == &raw.baseline ? "baseline" : "baseline6") + ": " + *f + ": " +
                        std::strerror(errno));
    }
  }
  validate_mmdb_and_asn(raw, s);
  return s;
}

} // namespace geoblock::flow
