// nft syntax through libnftables, for the nftables backend's baseline
// (docs/nftables.md, "Baseline"). The only file that includes
// <nftables/libnftables.h> is nft_text.cpp; geoblock's own objects go
// through libnftnl (nft_netlink.hpp), never through nft's parser.
#pragma once

#include "apply/nft_netlink.hpp"

#include <functional>
#include <string>
#include <vector>

namespace geoblock::apply::nft {

// Runs `text` (nft -f syntax) as ONE transaction: the kernel applies all of
// it or none. `include_dir` is searched by its `include` statements (the
// baseline file's directory). On failure throws RulesError with the first
// error nft reports, its location given by `where(line)` (text line,
// 1-based; 0 when nft names none) or by "line N" / "nftables" when `where`
// returns "": "baseline /etc/geoblock/base.nft:4: syntax error, unexpected
// drop".
void run_text(const std::string& text, const std::string& include_dir,
              const std::function<std::string(int line)>& where);

// `nft --stateless list table FAMILY NAME` (no counter or quota values,
// no handles); "" when the table does not exist. Throws RulesError when
// nftables cannot be read.
std::string list_table(const Table& table);

// Parses "inet", "ip", ... (nft's names); false for anything else.
bool parse_family(const std::string& word, Family& family);

// The tables a baseline file declares (`table [FAMILY] NAME {`, `add table
// ...`, `create table ...`; FAMILY defaults to ip), in order, each once.
std::vector<Table> declared_tables(const std::string& baseline);

// The baseline's text with every `flush ruleset [FAMILY]` statement (a line
// of its own, optionally ending in `;` or a comment) replaced, on the same
// line so that line numbers stay the baseline file's, by `delete table
// FAMILY NAME` of each table of `live` (of that family) for which
// `spare(table)` is false. Throws ConfigError ("ORIGIN:LINE: ...") for a
// `flush ruleset` elsewhere (after other statements on its line) and for
// `include` (an included file's flush could not be confined), so that
// nothing can flush geoblock's or the kept tables.
std::string rewrite_flush_ruleset(const std::string& baseline, const std::vector<Table>& live,
                                  const std::function<bool(const Table&)>& spare, const std::string& origin);

} // namespace geoblock::apply::nft
