#include "apply/nft_text.hpp"

#include "core/error.hpp"
#include "util/atomic_file.hpp"
#include "util/temp_dir.hpp"

#include <nftables/libnftables.h>

#include <memory>
#include <regex>
#include <set>
#include <sstream>

namespace geoblock::apply::nft {

namespace {

struct CtxFree {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};
using Ctx = std::unique_ptr<nft_ctx, CtxFree>;

Ctx
make_ctx()
{
  Ctx ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) {
    throw RulesError("nftables: cannot create a libnftables context");
  }
  // Both buffered: nothing of nft's goes to our stdout/stderr, and the
  // error text becomes one line of ours.
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    throw RulesError("nftables: cannot buffer libnftables' output");
  }
  return ctx;
}

std::string
trim(std::string s)
{
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

} // namespace

void
run_text(const std::string& text, const std::string& include_dir,
         const std::function<std::string(int line)>& where)
{
  // From a file, not from a buffer: libnftables reports "file:LINE:COL"
  // locations only for files (for a buffer it prints the wrong line).
  util::TempDir dir("geoblock-nft");
  const std::string path = dir / "ruleset.nft";
  util::write_file_atomic(path, text, 0600, util::AtomicFile::DirSync::Deferred);
  Ctx ctx = make_ctx();
  if (!include_dir.empty()) {
    nft_ctx_add_include_path(ctx.get(), include_dir.c_str());
  }
  if (nft_run_cmd_from_filename(ctx.get(), path.c_str()) == 0) {
    return;
  }
  const std::string err = nft_ctx_get_error_buffer(ctx.get());
  std::istringstream lines(err);
  std::string first;
  std::getline(lines, first);
  // "/tmp/geoblock-nft.X/ruleset.nft:4:45-48: Error: syntax error, ..."
  static const std::regex located(R"(^.*?:(\d+):\d+(?:-\d+)?: Error: (.*)$)");
  std::smatch m;
  if (std::regex_match(first, m, located)) {
    const int line = std::stoi(m[1].str());
    std::string at = where ? where(line) : std::string();
    if (at.empty()) {
      at = "line " + std::to_string(line);
    }
    throw RulesError(at + ": " + trim(m[2].str()));
  }
  // No location (e.g. a kernel refusal nft could not place): the whole
  // text is named.
  const auto pos = first.find("Error: ");
  const std::string message = first.empty() ? std::string("the transaction was refused")
                                            : trim(pos == std::string::npos ? first : first.substr(pos + 7));
  const std::string at = where ? where(0) : std::string();
  throw RulesError((at.empty() ? std::string("nftables") : at) + ": " + message);
}

std::string
list_table(const Table& table)
{
  Ctx ctx = make_ctx();
  nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_STATELESS);
  const std::string cmd = "list table " + family_name(table.family) + " " + table.name;
  if (nft_run_cmd_from_buffer(ctx.get(), cmd.c_str()) != 0) {
    const std::string err = nft_ctx_get_error_buffer(ctx.get());
    if (err.find("No such file or directory") != std::string::npos) {
      return {};
    }
    std::istringstream lines(err);
    std::string first;
    std::getline(lines, first);
    throw RulesError("nftables: cannot list table " + family_name(table.family) + " " + table.name + ": " +
                     trim(first));
  }
  return nft_ctx_get_output_buffer(ctx.get());
}

bool
parse_family(const std::string& word, Family& family)
{
  static const std::pair<const char*, Family> names[] = {
      {"inet", Family::Inet}, {"ip", Family::Ip},         {"ip6", Family::Ip6},
      {"arp", Family::Arp},   {"bridge", Family::Bridge}, {"netdev", Family::Netdev}};
  for (const auto& [name, f] : names) {
    if (word == name) {
      family = f;
      return true;
    }
  }
  return false;
}

std::vector<Table>
declared_tables(const std::string& baseline)
{
  // Statement starts only (a line's start or after ';'), so that a word
  // "table" inside a rule or a comment string is not taken.
  static const std::regex decl(
      R"((?:^|;)[ \t]*(?:(?:add|create)[ \t]+)?table[ \t]+([A-Za-z0-9_.-]+)(?:[ \t]+([A-Za-z0-9_.-]+))?)");
  std::vector<Table> out;
  std::set<std::pair<int, std::string>> seen;
  std::istringstream in(baseline);
  std::string line;
  while (std::getline(in, line)) {
    const std::string code = line.substr(0, line.find('#'));
    for (auto it = std::sregex_iterator(code.begin(), code.end(), decl); it != std::sregex_iterator(); ++it) {
      Table t;
      const std::string a = (*it)[1].str();
      const std::string b = (*it)[2].str();
      if (!b.empty() && b != "{" && parse_family(a, t.family)) {
        t.name = b;
      } else {
        t.family = Family::Ip;
        t.name = a;
      }
      if (seen.insert({static_cast<int>(t.family), t.name}).second) {
        out.push_back(t);
      }
    }
  }
  return out;
}

std::string
rewrite_flush_ruleset(const std::string& baseline, const std::vector<Table>& live,
                      const std::function<bool(const Table&)>& spare, const std::string& origin)
{
  static const std::regex any_flush(R"((?:^|[;{}\s])flush\s+ruleset\b)");
  static const std::regex include(R"((?:^|[;{}\s])include\s+")");
  int lineno = 0;
  static const std::regex flush(R"(^[ \t]*flush[ \t]+ruleset(?:[ \t]+([a-z0-9]+))?[ \t]*;?[ \t]*(?:#.*)?$)");
  std::string out;
  std::istringstream in(baseline);
  std::string line;
  while (std::getline(in, line)) {
    ++lineno;
    std::smatch m;
    const std::string code = line.substr(0, line.find('#'));
    if (std::regex_search(code, include)) {
      throw ConfigError(origin + ":" + std::to_string(lineno) +
                        ": include is not supported in an nftables baseline (a flush ruleset in the included "
                        "file would delete geoblock's and the kept tables); put its text in the baseline");
    }
    if (!std::regex_match(line, m, flush) && std::regex_search(code, any_flush)) {
      throw ConfigError(origin + ":" + std::to_string(lineno) +
                        ": flush ruleset must be a statement on a line of its own in an nftables baseline");
    }
    if (std::regex_match(line, m, flush)) {
      Family only = Family::Inet;
      const bool one_family = m[1].matched && parse_family(m[1].str(), only);
      std::string repl;
      for (const auto& t : live) {
        if ((one_family && t.family != only) || spare(t)) {
          continue;
        }
        repl +=
            (repl.empty() ? "" : "; ") + std::string("delete table ") + family_name(t.family) + " " + t.name;
      }
      out += repl.empty() ? "# flush ruleset: nothing to delete" : repl;
    } else {
      out += line;
    }
    out += '\n';
  }
  return out;
}

} // namespace geoblock::apply::nft
