// Fuzzes the configuration: the file's text through Boost.Program_options
// (cli/options.hpp parse_config_text, what --config FILE does), then
// flow::validate, and the countries file (flow::parse_countries_file).
//
// The input is the configuration file, then optionally a "---" line and a
// countries file. Files the configuration names (countries-file,
// allowlist-file, baseline, baseline6) are redirected to fixed files in a
// private directory made once (mkdtemp), so nothing else is read. Checked
// on every input:
//  - parsing and validating throw nothing but ConfigError, naming the file;
//  - the line recorded for each key is a line of the file;
//  - a valid configuration lists known, lower-case countries once each,
//    the policy and source it was given, and rules apply::validate accepts;
//  - a countries file yields known lower-case codes, and those codes
//    written one per line read back the same.
#include "apply/state.hpp"
#include "cli/options.hpp"
#include "core/country.hpp"
#include "core/error.hpp"
#include "flow/config.hpp"
#include "fuzz/fuzz_util.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <sys/stat.h>

namespace {

using namespace geoblock;
using fuzz::check;

struct Files {
  std::string dir;
  std::string config;    // an empty file: what the configuration's own permission check looks at
  std::string countries; // "cn ru"
  std::string allowlist; // two networks
  std::string baseline;  // an empty ruleset
};

void
write(const std::string& path, const std::string& text)
{
  std::ofstream out(path);
  out << text;
  out.close();
  // Not writable by others: validate() refuses such files when run as root.
  check(out.good() && ::chmod(path.c_str(), 0600) == 0, "writing a fixed file");
}

// Made once per process under $TMPDIR (or /tmp) and left there: libFuzzer
// ends without running atexit handlers. scripts/fuzz points TMPDIR at its
// scratch directory, which it removes.
const Files&
files()
{
  static const Files f = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/geoblock-fuzz-config.XXXXXX";
    check(::mkdtemp(pattern.data()) != nullptr, "making the private directory");
    Files made{pattern, pattern + "/geoblock.conf", pattern + "/countries.cfg", pattern + "/allow.txt",
               pattern + "/baseline.rules"};
    write(made.config, "");
    write(made.countries, "cn ru\n");
    write(made.allowlist, "192.0.2.0/24\n2001:db8::/32\n");
    write(made.baseline, "");
    return made;
  }();
  return f;
}

std::size_t
line_count(std::string_view text)
{
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

void
check_config(const std::string& text)
{
  const Files& f = files();
  flow::Config raw;
  try {
    cli::parse_config_text(text, f.config, raw);
  } catch (const ConfigError& e) {
    check(std::string_view(e.what()).starts_with(f.config), "configuration errors name the file");
    return;
  }
  check(raw.origins.config_path == f.config, "the file is recorded");
  for (const auto& [key, line] : raw.origins.lines) {
    check(line >= 1 && static_cast<std::size_t>(line) <= line_count(text), "key lines are lines of the file");
  }
  raw.countries_file = f.countries;
  if (!raw.allowlist_file.empty()) {
    raw.allowlist_file = f.allowlist;
  }
  for (std::string* baseline : {&raw.baseline, &raw.baseline6}) {
    if (!baseline->empty()) {
      *baseline = f.baseline;
    }
  }
  flow::Settings s;
  try {
    s = flow::validate(raw, flow::Countries::Required);
  } catch (const ConfigError&) {
    return;
  }
  check(!s.countries.empty(), "a valid configuration lists countries");
  std::set<std::string> seen;
  for (const std::string& c : s.countries) {
    check(fuzz::is_lower_code(c) && is_country_code(c), "countries are known lower-case codes");
    check(seen.insert(c).second, "each country is listed once");
  }
  check(s.allow_only == (raw.policy == "allow-only"), "the policy is the one given");
  check(!s.sources.empty(), "a valid configuration has a source");
  for (const auto& spec : s.sources) {
    if (spec.kind == flow::Settings::SourceKind::Bundle || spec.kind == flow::Settings::SourceKind::Maxmind) {
      check(!spec.path.empty() && raw.source.find(spec.path) != std::string::npos,
            "the source path is the one given");
    }
  }
  check(s.rules.set_name == raw.set_name, "the set name is the one given");
  try {
    apply::validate(s.rules);
  } catch (const ConfigError&) {
    fuzz::fail("validated rules are valid");
  }
}

void
check_countries_file(const std::string& text)
{
  std::vector<std::string> codes;
  try {
    codes = flow::parse_countries_file(text, "countries.cfg");
  } catch (const ConfigError& e) {
    check(std::string_view(e.what()).starts_with("countries.cfg:"), "countries errors name the file");
    return;
  }
  std::string again;
  for (const std::string& c : codes) {
    check(fuzz::is_lower_code(c) && is_country_code(c), "countries are known lower-case codes");
    again += c + "\n";
  }
  check(flow::parse_countries_file(again, "again.cfg") == codes, "codes read back the same");
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size)
{
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> parts = fuzz::split_parts(text, 2);
  check_config(std::string(parts[0]));
  check_countries_file(std::string(parts[1]));
  return 0;
}
