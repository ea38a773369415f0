#include "flow/status.hpp"

#include "net/asn.hpp"

namespace geoblock::flow {

namespace {

std::string
age_text(std::int64_t days)
{
  return days < 0 ? std::string("unknown") : std::to_string(days) + " d";
}

std::string
chain_text(const ChainStatus& c)
{
  if (c.rules == 0) {
    return "MISSING";
  }
  if (!c.in_sync) {
    return std::to_string(c.rules) + " of geoblock's";
  }
  return *c.in_sync ? "present" : "NOT AS CONFIGURED";
}

} // namespace

std::string
status_text(const StatusReport& r)
{
  std::string text;
  if (!r.backend.empty()) {
    text += "backend: " + r.backend + " (" + r.backend_reason + ")\n";
  }
  if (r.kernel_error) {
    text += "kernel: not readable: " + *r.kernel_error + "\n";
  }
  for (const FamilyStatus& f : r.families) {
    if (const auto& s = f.live_set) {
      text += f.set + ": " + std::to_string(s->entries) + " entries, " + std::to_string(s->memory / 1024) +
              " KiB, " + std::to_string(s->references) + " references, maxelem " +
              std::to_string(s->maxelem) + "\n";
    } else {
      text += f.set + ": absent\n";
    }
    text += "  dropped: " + std::to_string(f.dropped.packets) + " packets, " +
            std::to_string(f.dropped.bytes) + " bytes\n";
    if (f.rules_known) {
      for (const ChainStatus& c : f.chains) {
        text += "  rules in " + apply::to_string(c.hook) + ": " + chain_text(c) + "\n";
      }
    } else {
      text += "  rules: unknown (iptables-save could not run)\n";
    }
    for (const std::string& t : f.leftovers) {
      text += "  leftover " + t + " from an interrupted run (the next update removes it)\n";
    }
  }
  if (!r.kernel_error) {
    if (!r.in_sync) {
      text += "live firewall: not compared (no cached data for the configured countries)\n";
    } else if (*r.in_sync) {
      text += "live firewall: in sync with the configuration\n";
    } else {
      text += "live firewall: DIFFERS from the configuration ('geoblock update' repairs it):\n";
      for (const std::string& d : r.drift) {
        text += "  " + d + "\n";
      }
    }
  }
  if (!r.top_sources.empty()) {
    text += "top sources ('geoblock stats' lists them all):\n";
    std::string rows = format_stats(r.top_sources, 5);
    for (std::size_t at = 0; at < rows.size();) {
      const std::size_t end = rows.find('\n', at);
      text += "  " + rows.substr(at, end - at) + "\n";
      at = end + 1;
    }
  }
  if (r.managers) {
    text += r.managers->empty() ? "firewall managers: none seen (firewalld, Docker, ufw, fail2ban)\n"
                                : "firewall managers:\n";
    for (const Manager& m : *r.managers) {
      text += "  " + m.name + ": " + m.seen + "; block " + (m.protects ? "protected: " : "NOT PROTECTED: ") +
              m.why + "\n";
    }
  }
  if (!r.last_update.is_null()) {
    const util::Json& state = r.last_update;
    text += "last update: " + std::to_string((r.now - state.get("time").as_int()) / 86400) + " d ago (" +
            state.get("command").as_string("update") + (state.get("partial").as_bool() ? ", partial" : "") +
            ")\n";
    for (const util::Json& c : state.get("countries").items()) {
      std::string line = "  " + c.get("country").as_string();
      for (const char* f : {"v4", "v6"}) {
        const util::Json& z = c.get(f);
        if (!z.is_null()) {
          line += std::string("  ") + f + " " + std::to_string(z.get("networks").as_int()) + " networks (" +
                  z.get("source").as_string() +
                  (z.get("served_by").is_null() ? "" : " from " + z.get("served_by").as_string()) + ")";
        }
      }
      text += line + "\n";
    }
    for (const util::Json& b : state.get("blocklists").items()) {
      std::string line = "  blocklist " + b.get("name").as_string();
      for (const char* f : {"v4", "v6"}) {
        const util::Json& z = b.get(f);
        if (!z.is_null()) {
          line += std::string("  ") + f + " " + std::to_string(z.get("networks").as_int()) + " networks (" +
                  z.get("source").as_string() + ")";
        }
      }
      text += line + "\n";
    }
    for (const util::Json& a : state.get("asns").items()) {
      std::string line =
          std::string("  ") + (a.get("action").as_string() == "allow" ? "allow-asn " : "asn ") +
          net::asn_label(static_cast<std::uint32_t>(a.get("as").as_uint()), a.get("name").as_string());
      for (const char* f : {"v4", "v6"}) {
        const util::Json& z = a.get(f);
        if (!z.is_null()) {
          line += std::string("  ") + f + " " + std::to_string(z.get("networks").as_int()) + " networks (" +
                  z.get("source").as_string() + ")";
        }
      }
      text += line + "\n";
    }
  } else {
    text += "last update: none recorded (" + r.state_path + ")\n";
  }
  if (r.cache) {
    std::size_t stale = 0;
    for (const net::CachedZone& e : r.cache->zones) {
      if (e.stale || !e.body_ok) {
        ++stale;
        text += "  cache " + (e.file.empty() ? e.country + " " + net::family_key(e.family) : e.file) +
                ": data " + age_text(e.age_days) + " old, fetched " + age_text(e.fetched_days_ago) + " ago" +
                (e.body_ok ? "" : ", BODY MISSING OR CORRUPT") + "\n";
      }
    }
    text += "cache: " + std::to_string(r.cache->zones.size()) + " zones in " + r.cache->where + ", " +
            std::to_string(stale) + " stale (older than " + std::to_string(r.cache->stale_days) +
            " d) or damaged\n";
  }
  return text;
}

util::Json
status_json(const StatusReport& r)
{
  util::Json doc = util::Json::object();
  if (!r.backend.empty()) {
    doc.set("backend", r.backend);
    doc.set("backend_reason", r.backend_reason);
  }
  if (r.kernel_error) {
    doc.set("kernel", util::Json());
    doc.set("kernel_error", *r.kernel_error);
  } else {
    util::Json kernel = util::Json::object();
    for (const FamilyStatus& f : r.families) {
      util::Json j = util::Json::object();
      j.set("set", f.set);
      j.set("exists", f.live_set.has_value());
      if (const auto& s = f.live_set) {
        j.set("entries", s->entries);
        j.set("memory_bytes", s->memory);
        j.set("references", s->references);
        j.set("maxelem", s->maxelem);
      }
      j.set("dropped_packets", f.dropped.packets);
      j.set("dropped_bytes", f.dropped.bytes);
      util::Json rules = util::Json::array();
      for (const ChainStatus& c : f.chains) {
        util::Json cj = util::Json::object();
        cj.set("chain", apply::to_string(c.hook));
        cj.set("rules", c.rules);
        if (c.in_sync) {
          cj.set("in_sync", *c.in_sync);
        }
        rules.push(std::move(cj));
      }
      j.set("rules_known", f.rules_known);
      j.set("rules", std::move(rules));
      j.set("leftover_temp", !f.leftovers.empty());
      kernel.set(net::family_key(f.family), std::move(j));
    }
    doc.set("kernel", std::move(kernel));
  }
  doc.set("in_sync", r.in_sync ? util::Json(*r.in_sync) : util::Json());
  util::Json drift = util::Json::array();
  for (const std::string& d : r.drift) {
    drift.push(d);
  }
  doc.set("drift", std::move(drift));
  doc.set("top_sources", stats_json(r.top_sources, 5).get("counters"));
  if (r.managers) {
    util::Json managers = util::Json::array();
    for (const Manager& m : *r.managers) {
      util::Json j = util::Json::object();
      j.set("name", m.name);
      j.set("seen", m.seen);
      j.set("protected", m.protects);
      j.set("why", m.why);
      managers.push(std::move(j));
    }
    doc.set("managers", std::move(managers));
  }
  doc.set("last_update", r.last_update);
  if (r.cache) {
    util::Json cache = util::Json::array();
    for (const net::CachedZone& e : r.cache->zones) {
      util::Json j = util::Json::object();
      if (!e.file.empty()) {
        j.set("file", e.file); // a delegation file of source rir, not one zone
      } else {
        j.set("country", e.country);
        j.set("family", net::family_key(e.family));
      }
      j.set("networks", e.networks);
      j.set("age_days", static_cast<long long>(e.age_days));
      j.set("fetched_days_ago", static_cast<long long>(e.fetched_days_ago));
      j.set("stale", e.stale);
      j.set("body_ok", e.body_ok);
      cache.push(std::move(j));
    }
    doc.set("cache", std::move(cache));
  }
  return doc;
}

} // namespace geoblock::flow
