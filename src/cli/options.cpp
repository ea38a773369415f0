#include "cli/options.hpp"

#include "core/error.hpp"
#include "net/zone.hpp"

#include <boost/program_options.hpp>

#include <sstream>

namespace po = boost::program_options;

namespace geoblock::cli {

namespace {

const char* const k_usage = R"(Usage: geoblock [--quiet|--verbose] COMMAND [OPTIONS]

Keeps a Linux firewall's country blocklist current.

Commands:
  aggregate   merge and collapse CIDR lists into the minimal equivalent set

Run 'geoblock COMMAND --help' for a command's options.
)";

po::options_description common_options()
{
  po::options_description d("Common options");
  d.add_options()("help,h", "show this help and exit")("quiet,q", "print errors only")(
    "verbose,v", "print details of every step");
  return d;
}

std::string help_of(const std::string& usage, const po::options_description& d)
{
  std::ostringstream s;
  s << usage << "\n" << d;
  return s.str();
}

void parse_aggregate(const std::vector<std::string>& args, Invocation& inv)
{
  AggregateArgs& a = inv.aggregate;
  std::string family = "both";
  po::options_description d("Options");
  d.add_options()("family", po::value(&family)->value_name("v4|v6|both"), "families to print (default both)")(
    "allow", po::value(&a.allow)->value_name("CIDR"), "subtract this network (repeatable)")(
    "allow-file", po::value(&a.allow_files)->value_name("FILE"), "subtract the networks of FILE (repeatable)")(
    "stats", po::bool_switch(&a.stats), "print statistics per source to stderr")(
    "guard", po::bool_switch(&a.guard), "refuse /0 and prefixes shorter than the minimums")(
    "min-prefix-v4",
    po::value(&a.min_prefix_v4)->value_name("N")->default_value(net::k_default_min_prefix_v4),
    "shortest IPv4 prefix accepted with --guard")(
    "min-prefix-v6",
    po::value(&a.min_prefix_v6)->value_name("N")->default_value(net::k_default_min_prefix_v6),
    "shortest IPv6 prefix accepted with --guard")(
    "ipset-reduce",
    po::value<double>()->value_name("PERCENT"),
    "use fewer distinct prefix lengths, growing the entries by at most PERCENT")(
    "ipset-reduce-entries",
    po::value(&a.ipset_reduce_entries)->value_name("N"),
    "with --ipset-reduce: allow at least N entries in all")(
    "file", po::value(&a.files)->value_name("FILE"), "input files ('-' or none: standard input)");
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

} // namespace

Invocation parse_command_line(int argc, const char* const* argv)
{
  Invocation inv;
  std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  // Global flags may come before the command.
  std::size_t i = 0;
  for (; i < args.size() && args[i].rfind("-", 0) == 0; ++i) {
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
    if (a == "--quiet" || a == "-q") {
      inv.quiet = true;
    } else if (a == "--verbose" || a == "-v") {
      inv.verbose = true;
    } else {
      throw UsageError("unknown option '" + a + "' (see 'geoblock --help')");
    }
  }
  if (i == args.size()) {
    throw UsageError("no command given (see 'geoblock --help')");
  }
  const std::string command = args[i];
  const std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  const bool quiet = inv.quiet;
  const bool verbose = inv.verbose;
  try {
    if (command == "aggregate") {
      inv.command = Command::Aggregate;
      parse_aggregate(rest, inv);
    } else if (command == "help") {
      inv.command = Command::Help;
      inv.help_text = k_usage;
    } else {
      throw UsageError("unknown command '" + command + "' (see 'geoblock --help')");
    }
  } catch (const po::error& e) {
    throw UsageError(command + ": " + e.what());
  }
  inv.quiet = inv.quiet || quiet;
  inv.verbose = inv.verbose || verbose;
  if (inv.quiet && inv.verbose) {
    throw UsageError("--quiet and --verbose exclude each other");
  }
  return inv;
}

} // namespace geoblock::cli
