#include "cli/options.hpp"

#include "core/country.hpp"
#include "core/error.hpp"
#include "net/zone.hpp"

#include <boost/program_options.hpp>
#include <boost/version.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace po = boost::program_options;

namespace geoblock::cli {

namespace {

const char* const k_usage = R"(Usage: geoblock [OPTIONS] COMMAND [OPTIONS]

Keeps a Linux firewall's country blocklist current.

Commands:
  update      fetch the zones, aggregate them and apply them (root);
              --dry-run shows what would change and needs no root
  status      what the kernel enforces now and the last update
  restore     re-apply from the cache alone, no network (boot)
  remove      take the block away (rules, then sets)
  check       is an address blocked, by which country and network
  stats       packets and bytes per country, list and AS, from the kernel
  export      write the cached zones into a zip bundle
  mirror      write the zones as an ipdeny-style tree for a fleet's base-url
  aggregate   merge and collapse CIDR lists into the minimal equivalent set

Configuration: /etc/geoblock/geoblock.conf (--config FILE); every key is
also an option of the same name. Exit codes: 0 ok, 1 runtime failure,
2 usage or configuration error, 3 refused for safety, 4 partial,
5 status: the live firewall differs from the configuration.

Options go before or after the command: 'geoblock --config FILE update'
is 'geoblock update --config FILE'. Run 'geoblock COMMAND --help' for a
command's options.
)";

// The message of a Boost.Program_options error. Boost's
// error_with_option_name::what() fills in its template by replacing each
// placeholder ("%value%", "%original_token%", ...) until none is left, which
// never ends when the input holds the placeholder itself: "retries =
// %value%" hung geoblock (found by fuzz_config). So when the input the
// error is about holds a '%', the message is made here from the error's
// type and option, and what() is not called.
std::string
message_of(const po::error& e, bool input_has_percent)
{
  if (!input_has_percent) {
    return e.what();
  }
  const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
  const std::string name = named ? named->get_option_name() : "";
  const std::string option = name.empty() ? "an option" : "option '" + name + "'";
  if (dynamic_cast<const po::unknown_option*>(&e)) {
    return "unrecognised " + option;
  }
  if (dynamic_cast<const po::multiple_occurrences*>(&e)) {
    return option + " cannot be specified more than once";
  }
  if (dynamic_cast<const po::validation_error*>(&e)) {
    return "the argument for " + option + " is invalid";
  }
  if (dynamic_cast<const po::invalid_syntax*>(&e)) {
    return name.empty() ? "invalid syntax" : "invalid syntax for " + option;
  }
  return "invalid " + option;
}

po::options_description
common_options()
{
  po::options_description d("Common options");
  d.add_options()("help,h", "show this help and exit")("quiet,q", "print errors only")(
      "verbose,v", "print details of every step");
  return d;
}

std::string
help_of(const std::string& usage, const po::options_description& d)
{
  std::ostringstream s;
  s << usage << "\n" << d;
  return s.str();
}

po::options_description
aggregate_options(AggregateArgs& a, std::string& family)
{
  po::options_description d("Options");
  d.add_options()("family", po::value(&family)->value_name("v4|v6|both"), "families to print (default both)")(
      "allow", po::value(&a.allow)->value_name("CIDR"), "subtract this network (repeatable)")(
      "allow-file", po::value(&a.allow_files)->value_name("FILE"),
      "subtract the networks of FILE (repeatable)")("stats", po::bool_switch(&a.stats),
                                                    "print statistics per source to stderr")(
      "guard", po::bool_switch(&a.guard), "refuse /0 and prefixes shorter than the minimums")(
      "min-prefix-v4",
      po::value(&a.min_prefix_v4)->value_name("N")->default_value(net::k_default_min_prefix_v4),
      "shortest IPv4 prefix accepted with --guard")(
      "min-prefix-v6",
      po::value(&a.min_prefix_v6)->value_name("N")->default_value(net::k_default_min_prefix_v6),
      "shortest IPv6 prefix accepted with --guard")(
      "ipset-reduce", po::value<double>()->value_name("PERCENT"),
      "use fewer distinct prefix lengths, growing the entries by at most PERCENT")(
      "ipset-reduce-entries", po::value(&a.ipset_reduce_entries)->value_name("N"),
      "with --ipset-reduce: allow at least N entries in all")("file", po::value(&a.files)->value_name("FILE"),
                                                              "input files ('-' or none: standard input)");
  return d;
}

void
parse_aggregate(const std::vector<std::string>& args, Invocation& inv)
{
  AggregateArgs& a = inv.aggregate;
  std::string family = "both";
  po::options_description d = aggregate_options(a, family);
  d.add(common_options());
  po::positional_options_description pos;
  pos.add("file", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(d).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    inv.command = Command::Help;
    inv.help_text = help_of("Usage: geoblock aggregate [OPTIONS] [FILE...]\n\n"
                            "Prints the minimal sorted list of networks covering exactly the\n"
                            "addresses of the inputs (IPv4 first, then IPv6), like iprange.\n",
                            d);
    return;
  }
  const auto fam = net::parse_families(family);
  if (!fam) {
    throw UsageError("--family: expected v4, v6 or both, got '" + family + "'");
  }
  a.family = *fam;
  if (a.min_prefix_v4 < 0 || a.min_prefix_v4 > 32) {
    throw UsageError("--min-prefix-v4: expected 0..32");
  }
  if (a.min_prefix_v6 < 0 || a.min_prefix_v6 > 128) {
    throw UsageError("--min-prefix-v6: expected 0..128");
  }
  if (vm.count("ipset-reduce")) {
    const double pct = vm["ipset-reduce"].as<double>();
    if (!(pct >= 0 && pct <= 100000)) {
      throw UsageError("--ipset-reduce: expected a percentage >= 0");
    }
    a.ipset_reduce = pct;
  }
  inv.quiet = vm.count("quiet") > 0;
  inv.verbose = vm.count("verbose") > 0;
}

po::options_description
config_options(Config& c)
{
  po::options_description d("Configuration (also keys of the config file)");
  d.add_options()("countries", po::value(&c.countries)->value_name("CODES"),
                  "countries to block, e.g. \"cn ru\" (overrides countries-file)")(
      "countries-file", po::value(&c.countries_file)->value_name("FILE")->default_value(c.countries_file),
      "one ISO 3166-1 code per line")(
      "source", po::value(&c.source)->value_name("SOURCE")->default_value(c.source),
      "http, rir, bundle:/path.zip or maxmind:/path.zip; a comma-separated list is tried in order")(
      "base-url", po::value(&c.base_url)->value_name("URL")->default_value(c.base_url),
      "ipdeny-style mirror (http, https, file)")(
      "family", po::value(&c.family)->value_name("v4|v6|both")->default_value(c.family),
      "address families to block")("set-name",
                                   po::value(&c.set_name)->value_name("NAME")->default_value(c.set_name),
                                   "ipset base name (<name>-v4, <name>-v6)")(
      "chain", po::value(&c.chain)->value_name("[TABLE:]CHAIN"),
      "where the DROP rule goes (repeatable; default raw:PREROUTING)")(
      "policy", po::value(&c.policy)->value_name("block|allow-only")->default_value(c.policy),
      "block the listed countries, or allow only them")(
      "baseline", po::value(&c.baseline)->value_name("FILE"),
      "iptables-save ruleset restored with the rule in one step")(
      "baseline6", po::value(&c.baseline6)->value_name("FILE"),
      "the same for ip6tables")("keep-chain", po::value(&c.keep_chain)->value_name("PATTERN"),
                                "chains kept across a baseline restore (repeatable; default f2b-*, DOCKER*)")(
      "allow", po::value(&c.allow)->value_name("CIDR"), "never block this network (repeatable)")(
      "allowlist-file", po::value(&c.allowlist_file)->value_name("FILE"),
      "never block the networks listed in FILE")(
      "cache-dir", po::value(&c.cache_dir)->value_name("DIR")->default_value(c.cache_dir),
      "downloaded zones (last good copies)")(
      "state-dir", po::value(&c.state_dir)->value_name("DIR")->default_value(c.state_dir),
      "state of the last successful update")(
      "lock-file", po::value(&c.lock_file)->value_name("FILE")->default_value(c.lock_file),
      "process lock")("lock-wait", po::value(&c.lock_wait)->value_name("SECONDS")->default_value(c.lock_wait),
                      "how long to wait for another run")(
      "metrics-file", po::value(&c.metrics_file)->value_name("FILE"),
      "Prometheus textfile-collector output")("ca-bundle", po::value(&c.ca_bundle)->value_name("FILE"),
                                              "CA certificates for https (verification is always on)")(
      "max-shrink", po::value(&c.max_shrink)->value_name("FRACTION")->default_value(c.max_shrink, "0.5"),
      "refuse a zone whose new data covers this much fewer addresses than its last good copy")(
      "min-prefix-v4", po::value(&c.min_prefix_v4)->value_name("N")->default_value(c.min_prefix_v4),
      "refuse IPv4 prefixes shorter than /N")(
      "min-prefix-v6", po::value(&c.min_prefix_v6)->value_name("N")->default_value(c.min_prefix_v6),
      "refuse IPv6 prefixes shorter than /N")(
      "block-local", po::value(&c.block_local)->value_name("BOOL")->default_value(c.block_local),
      "allow zones to block private/local ranges")(
      "count-by-source", po::value(&c.count_by_source)->value_name("BOOL")->default_value(c.count_by_source),
      "count every country, list and AS on its own (nftables; docs/accounting.md)")(
      "parallel", po::value(&c.parallel)->value_name("N")->default_value(c.parallel),
      "downloads at once")("timeout", po::value(&c.timeout)->value_name("SECONDS")->default_value(c.timeout),
                           "total time per download")(
      "connect-timeout",
      po::value(&c.connect_timeout)->value_name("SECONDS")->default_value(c.connect_timeout),
      "time to connect")("retries", po::value(&c.retries)->value_name("N")->default_value(c.retries),
                         "retries on timeouts and 5xx")(
      "stale-days", po::value(&c.stale_days)->value_name("DAYS")->default_value(c.stale_days),
      "warn when data is older than this")("interface", po::value(&c.interface)->value_name("NAME"),
                                           "block only packets arriving on this interface (repeatable)")(
      "ports", po::value(&c.ports)->value_name("PROTO:PORT[-PORT]"),
      "block only these destination ports (repeatable, comma lists; tcp, udp, sctp)")(
      "except-ports", po::value(&c.except_ports)->value_name("PROTO:PORT[-PORT]"),
      "block all but these destination ports")(
      "match", po::value(&c.match)->value_name("all|new")->default_value(c.match),
      "drop every packet, or only those opening connections")(
      "direction", po::value(&c.direction)->value_name("in|out|both")->default_value(c.direction),
      "block incoming, outgoing (reject) or both")(
      "log", po::value(&c.log)->value_name("BOOL")->default_value(c.log),
      "log dropped packets (rate-limited)")(
      "log-prefix", po::value(&c.log_prefix)->value_name("TEXT")->default_value(c.log_prefix),
      "prefix of the kernel log line")(
      "log-rate", po::value(&c.log_rate)->value_name("N/UNIT")->default_value(c.log_rate),
      "at most this many log lines (second, minute, hour, day)")(
      "geoname-fallback",
      po::value(&c.geoname_fallback)->value_name("none|registered")->default_value(c.geoname_fallback),
      "MaxMind: use registered_country_geoname_id when geoname_id is empty")(
      "blocklist", po::value(&c.blocklist)->value_name("URL|FILE"),
      "also block the networks of this list (repeatable; '#' and ';' comments)")(
      "fetch-user", po::value(&c.fetch_user)->value_name("USER")->default_value(c.fetch_user),
      "run as root, download and parse as this unprivileged user (docs/security.md)")(
      "rir-url", po::value(&c.rir_url)->value_name("URL"),
      "a registry's delegated-extended statistics file for source rir (repeatable; default the five "
      "registries')")("rir-max-bytes",
                      po::value(&c.rir_max_bytes)->value_name("BYTES")->default_value(c.rir_max_bytes),
                      "size limit of each delegation file")(
      "zone-url-v4", po::value(&c.zone_url_v4)->value_name("TEMPLATE"),
      "URL of a country's IPv4 zone, {cc} or {CC} for the code (default: ipdeny's layout under base-url)")(
      "zone-url-v6", po::value(&c.zone_url_v6)->value_name("TEMPLATE"), "the same for IPv6 zones")(
      "backend", po::value(&c.backend)->value_name("auto|iptables|nftables")->default_value(c.backend),
      "firewall backend; auto keeps the one in use, else picks by the host");
  // MaxMind-format databases and autonomous systems (issue 21).
  d.add_options()("mmdb-file", po::value(&c.mmdb_file)->value_name("FILE"),
                  "source mmdb: a MaxMind-format country database (repeatable; default "
                  "/var/lib/GeoIP/GeoLite2-Country.mmdb)")(
      "mmdb-registered-fallback",
      po::value(&c.mmdb_registered_fallback)->value_name("BOOL")->default_value(c.mmdb_registered_fallback),
      "source mmdb: count a network without country.iso_code by registered_country.iso_code")(
      "mmdb-field", po::value(&c.mmdb_field)->value_name("PATH"),
      "source mmdb: the record field naming the country, e.g. country.iso_code (default: detected)")(
      "asn", po::value(&c.asn)->value_name("AS[,AS...]"),
      "block the networks of these autonomous systems, AS13335 or 13335 (repeatable)")(
      "allow-asn", po::value(&c.allow_asn)->value_name("AS[,AS...]"),
      "never block the networks of these autonomous systems (repeatable)")(
      "asn-file", po::value(&c.asn_file)->value_name("FILE"),
      "ASN data: .mmdb, iptoasn TSV or start,end,asn,org CSV, .gz accepted (repeatable)")(
      "mmdb-url", po::value(&c.mmdb_url)->value_name("URL"),
      "source mmdb: a database to download (http, https, file; .gz accepted; {yyyy} and {mm} for the "
      "month; repeatable)")("asn-url", po::value(&c.asn_url)->value_name("URL"),
                            "ASN data to download, like asn-file (repeatable)");
  return d;
}

// Line of the first use of each key in a config file, so that errors can
// name it (Boost's parser does not report lines).
std::map<std::string, int>
index_keys(const std::string& text)
{
  std::map<std::string, int> lines;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#' || line[start] == '[') {
      continue;
    }
    const auto eq = line.find('=');
    std::string key = line.substr(start, eq == std::string::npos ? std::string::npos : eq - start);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t' || key.back() == '\r')) {
      key.pop_back();
    }
    lines.emplace(key, n);
  }
  return lines;
}

// Stores the configuration file's `text` (read from `path`) into `vm`;
// values already there, from the command line, win.
void
store_config_text(const std::string& text, const std::string& path, const po::options_description& conf,
                  po::variables_map& vm, KeyOrigins& origins)
{
  origins.config_path = path;
  origins.lines = index_keys(text);
  std::istringstream in(text);
  try {
    po::store(po::parse_config_file(in, conf, false), vm);
  } catch (const po::error_with_option_name& e) {
    std::string key = e.get_option_name();
    while (!key.empty() && key.front() == '-') {
      key.erase(0, 1);
    }
    const auto it = origins.lines.find(key);
    const std::string where = path + (it != origins.lines.end() ? ":" + std::to_string(it->second) : "");
    const bool percent = text.find('%') != std::string::npos;
    const std::string what =
        dynamic_cast<const po::unknown_option*>(&e) ? "unknown key '" + key + "'" : message_of(e, percent);
    throw ConfigError(where + ": " + what);
  } catch (const po::error& e) {
    throw ConfigError(path + ": " + message_of(e, text.find('%') != std::string::npos));
  }
}

po::options_description
general_options(std::string& config_file)
{
  po::options_description d("General");
  d.add_options()("config,c", po::value(&config_file)->value_name("FILE"),
                  "configuration file (default /etc/geoblock/geoblock.conf)");
  return d;
}

// Parses the command line of a command that reads the configuration.
void
parse_configured(const std::string& usage, po::options_description& specific,
                 const po::positional_options_description& pos, const std::vector<std::string>& args,
                 Invocation& inv)
{
  Config& c = inv.config;
  std::string config_file = k_default_config;
  po::options_description conf = config_options(c);
  po::options_description all;
  all.add(specific).add(general_options(config_file)).add(common_options()).add(conf);

  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
  if (vm.count("help")) {
    inv.command = Command::Help;
    inv.help_text = help_of(usage, all);
    return;
  }
  for (const auto& [key, value] : vm) {
    if (!value.defaulted()) {
      c.origins.from_command_line.push_back(key);
    }
  }
  c.config_given = vm.count("config") > 0;
  config_file = c.config_given ? vm["config"].as<std::string>() : std::string(k_default_config);
  c.config_file = config_file;

  struct stat st {};
  const bool exists = ::stat(config_file.c_str(), &st) == 0;
  if (!exists && c.config_given) {
    throw ConfigError(config_file + ": configuration file not found");
  }
  if (exists) {
    if (!S_ISREG(st.st_mode)) {
      throw ConfigError(config_file + ": not a regular file");
    }
    std::ifstream in(config_file);
    if (!in) {
      throw ConfigError(config_file + ": cannot read the configuration file");
    }
    std::ostringstream text;
    text << in.rdbuf();
    store_config_text(text.str(), config_file, conf, vm, c.origins);
  }
  po::notify(vm);
  inv.quiet = vm.count("quiet") > 0;
  inv.verbose = vm.count("verbose") > 0;
}

// The usage text, own options and positional arguments of a command that
// reads the configuration; sets inv.command. False for other words.
bool
run_command_options(const std::string& command, Invocation& inv, std::string& usage,
                    po::options_description& d, po::positional_options_description& pos)
{
  RunArgs& r = inv.run;
  if (command == "update") {
    inv.command = Command::Update;
    usage = "Usage: geoblock update [--dry-run [--json]] [--offline] [--force] [OPTIONS]\n\n"
            "Fetches the configured countries' zones, aggregates them and makes the\n"
            "firewall enforce them (needs root). With --dry-run, shows per country\n"
            "what was read and what would change, and needs no root.\n";
    d.add_options()("dry-run,n", po::bool_switch(&r.dry_run), "do everything but apply")(
        "json", po::bool_switch(&r.json), "with --dry-run: print one JSON document")(
        "offline", po::bool_switch(&r.offline), "use the cache only, no network")(
        "force", po::bool_switch(&r.force), "apply past the safety refusals");
  } else if (command == "status") {
    inv.command = Command::Status;
    usage = "Usage: geoblock status [--json] [OPTIONS]\n\n"
            "Shows what the kernel enforces now, the last update and the cache.\n";
    d.add_options()("json", po::bool_switch(&r.json), "print one JSON document");
  } else if (command == "restore") {
    inv.command = Command::Restore;
    usage = "Usage: geoblock restore [--offline] [--force] [OPTIONS]\n\n"
            "Re-applies the last good data from the cache alone, with no network:\n"
            "what the boot unit runs before saved firewall rules are loaded.\n";
    // Always offline; --offline, one of the common flags, is taken too.
    d.add_options()("offline", po::bool_switch(&r.offline), "the cache only, no network (always so)")(
        "force", po::bool_switch(&r.force), "apply past the safety refusals");
  } else if (command == "remove") {
    inv.command = Command::Remove;
    usage = "Usage: geoblock remove [OPTIONS]\n\nDeletes geoblock's rules, then its sets.\n";
  } else if (command == "check") {
    inv.command = Command::Check;
    usage = "Usage: geoblock check [OPTIONS] ADDRESS...\n\n"
            "Tells whether each address is blocked, by which country's list and\n"
            "network, or allowed (allowlist, local network). Reads the cache.\n";
    d.add_options()("address", po::value(&r.addresses)->value_name("ADDRESS"), "addresses to check");
    pos.add("address", -1);
  } else if (command == "export") {
    inv.command = Command::Export;
    usage = "Usage: geoblock export --output FILE.zip [OPTIONS]\n\n"
            "Writes the cached zones of the configured countries into a zip bundle\n"
            "for air-gapped hosts (source = bundle:/path/FILE.zip).\n";
    d.add_options()("output,o", po::value(&r.output)->value_name("FILE"), "the zip to write");
  } else if (command == "stats") {
    inv.command = Command::Stats;
    usage = "Usage: geoblock stats [--json] [--top N] [OPTIONS]\n\n"
            "Packets and bytes per source (country, list:NAME, as:NUMBER) that\n"
            "geoblock dropped, rejected, counted or limited, read from the kernel\n"
            "(as root): most packets first, with a bar scaled to the largest.\n";
    d.add_options()("json", po::bool_switch(&r.json), "print one JSON document")(
        "top", po::value(&r.top)->value_name("N"), "only the N sources with the most packets");
  } else if (command == "mirror") {
    inv.command = Command::Mirror;
    usage = "Usage: geoblock mirror --output DIR [--offline] [OPTIONS]\n\n"
            "Writes the configured countries' last good zones as an ipdeny-style\n"
            "tree (zones and MD5SUM per family) for a web server, so that other\n"
            "hosts can set base-url to it. Fetches first when the cache is\n"
            "writable; needs no root.\n";
    d.add_options()("output,o", po::value(&r.output)->value_name("DIR"), "the directory to write")(
        "offline", po::bool_switch(&r.offline), "use the cache only, no network");
  } else {
    return false;
  }
  return true;
}

void
parse_run_command(const std::string& command, const std::vector<std::string>& args, Invocation& inv)
{
  const RunArgs& r = inv.run;
  po::options_description d("Options");
  po::positional_options_description pos;
  std::string usage;
  run_command_options(command, inv, usage, d, pos);
  parse_configured(usage, d, pos, args, inv);
  if (inv.command == Command::Help) {
    return;
  }
  if (r.json && !r.dry_run && inv.command == Command::Update) {
    throw UsageError("update: --json goes with --dry-run");
  }
  if (inv.command == Command::Check && r.addresses.empty()) {
    throw UsageError("check: no address given");
  }
  if (inv.command == Command::Export && r.output.empty()) {
    throw UsageError("export: --output FILE is required");
  }
  if (inv.command == Command::Mirror && r.output.empty()) {
    throw UsageError("mirror: --output DIR is required");
  }
}

// True when `arg` (before the command) names an option that takes its
// value from the next argument: "--config FILE", "-c FILE", "--chain X".
// Throws UsageError for an option no command knows.
bool
takes_separate_value(const std::string& arg)
{
  const bool is_long = arg.rfind("--", 0) == 0;
  const std::string name = is_long ? arg.substr(2, arg.find('=') - 2) : arg.substr(0, 2);
  Config scratch;
  Invocation aggregate;
  std::string file;
  const po::options_description general = general_options(file);
  // "--config=FILE" and "-cFILE" carry their value.
  const bool attached = is_long ? arg.find('=') != std::string::npos : arg.size() > 2;
  // Searched one by one: update's and aggregate's --family are different options.
  const po::options_description known[] = {
      config_options(scratch), aggregate_options(aggregate.aggregate, file), common_options(), general};
  for (const po::options_description& k : known) {
    if (const po::option_description* d = k.find_nothrow(name, false)) {
      return !attached && d->semantic()->min_tokens() > 0;
    }
  }
  throw UsageError("unknown option '" + arg + "' (see 'geoblock --help')");
}

// The command words, as k_usage lists them, and help.
const char* const k_commands[] = {"update", "status", "restore", "remove",    "check",
                                  "stats",  "export", "mirror",  "aggregate", "help"};

// How shell completion completes an option's value, from its value name:
// "flag" (takes none), "file", "dir", "words W..." (one of the words),
// "list W..." (a comma-separated list of the words) or "value" (anything).
std::string
completion_kind(const po::option_description& o)
{
  const po::value_semantic& s = *o.semantic();
  if (s.max_tokens() == 0) {
    return "flag";
  }
  std::string name = s.name();
  name.erase(std::min(name.find(" (="), name.size())); // Boost appends the default: "v4|v6|both (=both)"
  if (name == "FILE" || name == "URL|FILE") {
    return "file";
  }
  if (name == "DIR") {
    return "dir";
  }
  if (name == "BOOL") {
    return "words true false";
  }
  if (name == "CODES") {
    std::string kind = "list";
    for (const std::string& code : all_countries()) {
      kind += " " + code;
    }
    return kind;
  }
  if (name.find('|') != std::string::npos) {
    std::replace(name.begin(), name.end(), '|', ' ');
    return "words " + name;
  }
  return "value";
}

// geoblock --complete-words: the words of the bash completion script
// (completion/geoblock), made from the descriptions the parser uses so
// that the two cannot drift apart.
//   commands           the command words, one per line
//   options [COMMAND]  COMMAND's options (without COMMAND: those that may
//                      come before a command), one per line: "--NAME KIND",
//                      "-N KIND" for a short name, "ARGS KIND" for the
//                      positional arguments; KIND as completion_kind()
std::string
completion_words(const std::vector<std::string>& args)
{
  std::string out;
  if (args.size() == 1 && args[0] == "commands") {
    for (const char* command : k_commands) {
      out += std::string(command) + "\n";
    }
    return out;
  }
  if (args.empty() || args[0] != "options" || args.size() > 2) {
    throw UsageError("--complete-words: expected 'commands' or 'options [COMMAND]'");
  }
  const std::string command = args.size() == 2 ? args[1] : "";
  Invocation scratch;
  std::string value;
  std::string usage;
  po::options_description all;
  po::options_description specific;
  po::positional_options_description pos;
  if (command == "aggregate") {
    all.add(aggregate_options(scratch.aggregate, value)).add(common_options());
    pos.add("file", -1);
  } else if (command == "help") {
    return out;
  } else if (command.empty() || run_command_options(command, scratch, usage, specific, pos)) {
    all.add(specific).add(general_options(value)).add(common_options()).add(config_options(scratch.config));
  } else {
    throw UsageError("--complete-words: unknown command '" + command + "'");
  }
  if (command.empty()) {
    out += "--version flag\n";
  }
  const std::string positional = pos.max_total_count() > 0 ? pos.name_for_position(0) : "";
  for (const auto& option : all.options()) {
    const std::string kind = completion_kind(*option);
    if (option->long_name() == positional) {
      out += "ARGS " + kind + "\n";
      continue;
    }
    out += "--" + option->long_name() + " " + kind + "\n";
    const std::string short_name =
        option->canonical_display_name(po::command_line_style::allow_dash_for_short);
    if (short_name.size() == 2 && short_name[0] == '-') {
      out += short_name + " " + kind + "\n";
    }
  }
  return out;
}

} // namespace

void
parse_config_text(const std::string& text, const std::string& path, Config& config)
{
  const po::options_description conf = config_options(config);
  po::variables_map vm;
  store_config_text(text, path, conf, vm, config.origins);
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(path + ": " + message_of(e, text.find('%') != std::string::npos));
  }
}

flow::Request
request_of(const Invocation& inv)
{
  flow::Request r;
  r.run = inv.run;
  r.config = inv.config;
  switch (inv.command) {
  case Command::Update:
    r.task = flow::Task::Update;
    break;
  case Command::Restore:
    r.task = flow::Task::Restore;
    break;
  case Command::Status:
    r.task = flow::Task::Status;
    break;
  case Command::Remove:
    r.task = flow::Task::Remove;
    break;
  case Command::Check:
    r.task = flow::Task::Check;
    break;
  case Command::Export:
    r.task = flow::Task::Export;
    break;
  case Command::Mirror:
    r.task = flow::Task::Mirror;
    break;
  case Command::Stats:
    r.task = flow::Task::Stats;
    break;
  default:
    throw UsageError("not a command on the configured firewall");
  }
  return r;
}

Invocation
parse_command_line(int argc, const char* const* argv)
{
  Invocation inv;
  std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  // Options may come before the command as well as after it ("geoblock
  // --config FILE update", as with git, systemctl and ip): they are passed
  // on to the command's parser, ahead of its own arguments.
  std::vector<std::string> leading;
  std::size_t i = 0;
  for (; i < args.size() && args[i].rfind("-", 0) == 0 && args[i] != "-" && args[i] != "--"; ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      inv.command = Command::Help;
      inv.help_text = k_usage;
      return inv;
    }
    if (a == "--version") {
      inv.command = Command::Version;
      return inv;
    }
    if (a == "--complete-words") { // hidden: for completion/geoblock
      inv.command = Command::Complete;
      inv.help_text = completion_words({args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end()});
      return inv;
    }
    leading.push_back(a);
    if (takes_separate_value(a)) {
      if (i + 1 == args.size()) {
        throw UsageError("option '" + a + "' needs a value (see 'geoblock --help')");
      }
      leading.push_back(args[++i]);
    }
  }
  if (i == args.size()) {
    throw UsageError("no command given (see 'geoblock --help')");
  }
  const std::string command = args[i];
  std::vector<std::string> rest = std::move(leading);
  rest.insert(rest.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  try {
    if (command == "aggregate") {
      inv.command = Command::Aggregate;
      parse_aggregate(rest, inv);
    } else if (command == "update" || command == "status" || command == "restore" || command == "remove" ||
               command == "check" || command == "export" || command == "mirror" || command == "stats") {
      parse_run_command(command, rest, inv);
    } else if (command == "help") {
      inv.command = Command::Help;
      inv.help_text = k_usage;
    } else {
      throw UsageError("unknown command '" + command + "' (see 'geoblock --help')");
    }
  } catch (const po::error& e) {
    const bool percent = std::any_of(rest.begin(), rest.end(),
                                     [](const std::string& a) { return a.find('%') != std::string::npos; });
    throw UsageError(command + ": " + message_of(e, percent));
  }
  if (inv.quiet && inv.verbose) {
    throw UsageError("--quiet and --verbose exclude each other");
  }
  return inv;
}

std::string
boost_version()
{
  return "Boost.Program_options " + std::to_string(BOOST_VERSION / 100000) + "." +
         std::to_string(BOOST_VERSION / 100 % 1000) + "." + std::to_string(BOOST_VERSION % 100);
}

} // namespace geoblock::cli
