#include "flow/asn_plan.hpp"

#include "core/log.hpp"

namespace geoblock::flow {

namespace {

template <class A>
std::string
holding(const std::vector<net::AsnResult>& asns, A addr)
{
  std::string out;
  for (const net::AsnResult& a : asns) {
    for (const auto& p : a.nets.template of<A>()) {
      if (p.contains(addr)) {
        out += (out.empty() ? "" : ", ") + a.label() + " (" + net::to_string(p) + ", " +
               (a.allow ? "allow-asn" : "asn") + ")";
        break;
      }
    }
  }
  return out;
}

} // namespace

AsnFold
fold_asns(const std::vector<net::AsnResult>& asns, Settings& settings, std::vector<net::ZoneResult>& zones,
          std::vector<net::BlocklistResult>& lists)
{
  AsnFold fold;
  for (const net::AsnResult& a : asns) {
    if (!a.allow) {
      net::BlocklistResult b;
      b.name = a.label();
      // One location per AS (the shrink guard matches rows of the last
      // state by location): "asn:13335:/var/lib/GeoIP/GeoLite2-ASN.mmdb".
      b.location = "asn:" + std::to_string(a.number) + ":" + a.location;
      b.origin = a.origin;
      b.nets = a.nets;
      b.lines = a.lines;
      b.error = a.error;
      b.fetched_at = a.fetched_at;
      b.last_modified = a.last_modified;
      lists.push_back(std::move(b));
      if (a.origin == net::Origin::Absent) {
        fold.warnings.push_back("asn " + a.label() + ": " + a.error + "; nothing of it is blocked");
      }
      continue;
    }
    if (settings.allow_only) {
      // A row like a country's: its networks are what the set lets in.
      for (const net::Family f : {net::Family::V4, net::Family::V6}) {
        if (!net::includes(settings.families, f)) {
          continue;
        }
        net::ZoneResult z;
        z.country = "allow " + a.label();
        z.family = f;
        z.origin = a.origin;
        z.location = a.location;
        z.error = a.error;
        z.fetched_at = a.fetched_at;
        z.last_modified = a.last_modified;
        z.source = "asn";
        if (f == net::Family::V4) {
          z.nets.v4 = a.nets.v4;
        } else {
          z.nets.v6 = a.nets.v6;
        }
        z.lines = z.nets.size();
        if (z.origin != net::Origin::Failed && z.nets.empty()) {
          z.origin = net::Origin::Absent;
        }
        zones.push_back(std::move(z));
      }
    } else {
      settings.allow.v4.insert(settings.allow.v4.end(), a.nets.v4.begin(), a.nets.v4.end());
      settings.allow.v6.insert(settings.allow.v6.end(), a.nets.v6.begin(), a.nets.v6.end());
    }
    if (a.origin == net::Origin::Failed) {
      ++fold.failed;
      fold.warnings.push_back("allow-asn " + a.label() + ": no data, nothing of it is exempt: " + a.error);
    } else if (a.origin == net::Origin::StaleCache) {
      ++fold.stale;
      fold.warnings.push_back("allow-asn " + a.label() + ": using the last good cached copy: " + a.error);
    } else if (a.origin == net::Origin::Absent) {
      fold.warnings.push_back("allow-asn " + a.label() + ": " + a.error);
    }
    if (a.usable()) {
      log::info("allow-asn " + a.label() + ": " + std::to_string(a.nets.v4.size()) + " IPv4 and " +
                std::to_string(a.nets.v6.size()) + " IPv6 networks never blocked");
    }
  }
  return fold;
}

std::string
asns_holding(const std::vector<net::AsnResult>& asns, std::uint32_t addr)
{
  return holding(asns, addr);
}

std::string
asns_holding(const std::vector<net::AsnResult>& asns, net::u128 addr)
{
  return holding(asns, addr);
}

} // namespace geoblock::flow
