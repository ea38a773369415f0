// The configuration: /etc/geoblock/geoblock.conf (or --config FILE), every
// key also a command-line option of the same name; the command line wins.
// Values are validated here, with errors that name the file, line and key
// (or the command-line option).
#pragma once

#include "apply/state.hpp"
#include "fetch/http_client.hpp"
#include "fetch/rir_source.hpp"
#include "flow/backend_choice.hpp"
#include "net/cidr.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace geoblock::flow {

inline constexpr const char* k_default_config = "/etc/geoblock/geoblock.conf";
inline constexpr const char* k_default_countries_file = "/etc/geoblock/countries.cfg";

// Where each key's value came from, for error messages.
struct KeyOrigins {
  std::string config_path;          // the file read (may be empty)
  std::map<std::string, int> lines; // key -> line of its first use in the file
  std::vector<std::string> from_command_line;

  // "geoblock.conf:12: key 'family'" or "option '--family'".
  std::string where(const std::string& key) const;
};

// Raw values as the parser delivers them (strings where validation needs
// a line number).
struct Config {
  std::string config_file = k_default_config;
  bool config_given = false;

  std::string countries; // "cn ru,kp" (overrides countries-file)
  std::string countries_file = k_default_countries_file;
  std::string base_url = "https://www.ipdeny.com";
  std::string source = "http"; // a list, tried in order: http, rir, bundle:/path.zip, maxmind:/path.zip
  std::string family = "both";
  std::string set_name = "geoblock";
  std::vector<std::string> chain; // default decided by the applier
  std::string policy = "block";   // block | allow-only
  std::string baseline;
  std::string baseline6;
  std::vector<std::string> keep_chain; // default f2b-*, DOCKER*
  std::vector<std::string> allow;
  std::string allowlist_file;
  std::string cache_dir = "/var/cache/geoblock";
  std::string state_dir = "/var/lib/geoblock";
  std::string lock_file = "/run/geoblock.lock";
  std::string metrics_file;
  std::string ca_bundle;
  double max_shrink = 0.5;
  int min_prefix_v4 = 4;
  int min_prefix_v6 = 10;
  bool block_local = false;
  // Every source counted on its own where the backend and the rule shape
  // allow it (docs/accounting.md); false: the merged set, one counter per
  // family (actions other than drop then refused).
  bool count_by_source = true;
  int parallel = 4;
  int timeout = 60;
  int connect_timeout = static_cast<int>(fetch::k_default_connect_timeout_ms / 1000);
  int retries = 3;
  int stale_days = 60;
  int lock_wait = 60;
  std::string geoname_fallback = "registered"; // MaxMind: none | registered
  std::string fetch_user = "geoblock";         // the unprivileged user that downloads and parses (root runs)
  // Rule shapes.
  std::vector<std::string> interface;    // block only packets on these interfaces
  std::vector<std::string> ports;        // PROTO:PORT[-PORT] lists: only these destination ports
  std::vector<std::string> except_ports; // all but these destination ports
  std::string match = "all";             // all | new
  std::string direction = "in";          // in | out | both
  bool log = false;
  std::string log_prefix = "geoblock: ";
  std::string log_rate = "10/minute";
  std::vector<std::string> blocklist; // extra lists of networks to block: URLs or paths (repeatable)
  // Sources (issue 14).
  std::vector<std::string> rir_url; // empty: the five registries' delegated-*-extended-latest
  std::uint64_t rir_max_bytes = fetch::k_default_rir_max_bytes; // per delegation file
  std::string zone_url_v4; // "{cc}"/"{CC}" template; empty: ipdeny's layout under base-url
  std::string zone_url_v6;
  std::string backend = "auto"; // auto | iptables | nftables (flow/backend_choice.hpp)
  // MaxMind-format databases and autonomous systems (issue 21; validated
  // in cli/mmdb_asn_config.cpp).
  std::vector<std::string> mmdb_file; // source mmdb: the databases (empty: the GeoLite2 default)
  bool mmdb_registered_fallback = false;
  std::string mmdb_field;             // empty: detected per database
  std::vector<std::string> asn;       // block these ASes: "AS13335", "13335", lists
  std::vector<std::string> allow_asn; // never block these ASes
  std::vector<std::string> asn_file;  // the ASN data: .mmdb, iptoasn TSV, start,end,asn,org CSV (.gz)
  std::vector<std::string> mmdb_url;  // source mmdb: databases downloaded into the cache ({yyyy}, {mm})
  std::vector<std::string> asn_url;   // ASN data downloaded into the cache

  KeyOrigins origins;
};

// The validated, typed view the commands use.
struct Settings {
  Config raw;
  std::vector<std::string> countries; // lower-case, unique, validated
  // What each listed country's packets meet (the words after its code);
  // every country of `countries` is here, drop unless the list says else.
  std::map<std::string, apply::SourceAction> country_actions;
  net::Families families = net::Families::Both;
  net::NetList allow; // allow + allowlist-file
  bool allow_only = false;
  enum class SourceKind { Http, Rir, Bundle, Maxmind, Mmdb };
  struct SourceSpec {
    SourceKind kind = SourceKind::Http;
    std::string path; // for bundle / maxmind
  };
  std::vector<SourceSpec> sources{SourceSpec{}}; // `source`, in failover order (at least one)
  std::vector<std::string> rir_urls;             // rir-url, or the defaults
  apply::RulesConfig rules;                      // set name, chains, policy and the rule shapes, typed
  BackendSetting backend = BackendSetting::Auto;
  // Not a key: --force on a run that applies (an update, not a dry run),
  // so the sources take and cache new data max-shrink would refuse.
  bool force_shrink = false;
  // source mmdb and the ASes (flow/mmdb_asn_config.cpp).
  std::vector<std::string> mmdb_files;   // mmdb-file, or the default
  std::vector<std::uint32_t> asns;       // asn, each once, in order
  std::vector<std::uint32_t> allow_asns; // allow-asn, each once, in order
};

// The mmdb and ASN keys of `raw` into `s` (called by validate). Throws
// ConfigError naming the key.
void validate_mmdb_and_asn(const Config& raw, Settings& s);

// Validates `raw` (countries and their file, family, policy, allowlist,
// numbers, file permissions when running as root). Throws ConfigError.
// Countries::Optional for commands that work without a list.
enum class Countries {
  Required, // update, restore, check, export
  Optional, // remove, status without a list
};
Settings validate(const Config& raw, Countries countries);

// One country of a countries list, with what is done to its packets.
struct CountryEntry {
  std::string code; // lower case
  apply::SourceAction action;
  std::size_t line = 0; // 1-based, in its file (the key's line for `countries`)
  friend bool operator==(const CountryEntry&, const CountryEntry&) = default;
};

// Parses a countries list: codes separated by blanks, commas or ';', '#'
// comments, each code optionally followed by its action, which applies to
// every code before it on the line that has none yet: "nz", "nz reject",
// "cn ru count", "au limit 10/second, nz". A country listed twice keeps
// its first place; listed with two actions, it is an error. Errors are
// one line, "SOURCE:LINE: problem" (the bad word or rate quoted); `first_line`
// numbers the text's first line.
std::vector<CountryEntry> parse_country_entries(const std::string& text, const std::string& source,
                                                std::size_t first_line = 1);

// The codes alone of parse_country_entries(text, source), in order.
std::vector<std::string> parse_countries_file(const std::string& text, const std::string& source);

} // namespace geoblock::flow
