// Fuzzes the bundle manifest (source/bundle.hpp parse_bundle_manifest) and
// the JSON reader under it (util::Json::parse). The input is manifest.json.
// Checked on every input:
//  - both throw nothing but Error, whose message names the file;
//  - a parsed document, written compact or pretty, reads back to the same
//    document (dump is parse's inverse);
//  - every manifest entry is checked: a lower-case country code and family
//    listed once; unless absent, a safe relative member name and a SHA-256
//    of 64 lower-case hex digits.
#include "core/error.hpp"
#include "fuzz/fuzz_util.hpp"
#include "source/bundle.hpp"
#include "source/zip_archive.hpp"
#include "util/json.hpp"

#include <set>
#include <string>
#include <utility>

namespace {

using namespace geoblock;
using fuzz::check;

void
check_json(const std::string& text)
{
  util::Json doc;
  try {
    doc = util::Json::parse(text, "fuzz.json");
  } catch (const Error& e) {
    check(std::string_view(e.what()).starts_with("fuzz.json:"), "JSON errors name the file");
    return;
  }
  const std::string compact = doc.dump(-1);
  const std::string pretty = doc.dump(2);
  for (const std::string* written : {&compact, &pretty}) {
    util::Json again;
    try {
      again = util::Json::parse(*written, "written.json");
    } catch (const Error&) {
      fuzz::fail("what dump() writes parses");
    }
    check(again.dump(-1) == compact, "dump() then parse() gives the same document");
  }
}

void
check_manifest(const std::string& text)
{
  std::vector<source::BundleEntry> entries;
  try {
    entries = source::parse_bundle_manifest(text, "fuzz.zip");
  } catch (const Error& e) {
    check(std::string_view(e.what()).starts_with("fuzz.zip:manifest.json"), "manifest errors name it");
    return;
  }
  std::set<std::pair<std::string, net::Family>> seen;
  for (const source::BundleEntry& e : entries) {
    check(fuzz::is_lower_code(e.country), "entries have a lower-case country code");
    check(seen.emplace(e.country, e.family).second, "a country and family is listed once");
    if (e.absent) {
      continue;
    }
    check(!e.file.empty() && source::is_safe_member_name(e.file), "member names are safe");
    check(e.file.front() != '/' && e.file.find('\\') == std::string::npos, "member names are relative");
    check(e.file != ".." && !e.file.starts_with("../") && e.file.find("/../") == std::string::npos &&
              !e.file.ends_with("/.."),
          "member names do not climb");
    check(fuzz::is_lower_hex(e.sha256, 64), "SHA-256 is 64 lower-case hex digits");
  }
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size)
{
  const std::string text(reinterpret_cast<const char*>(data), size);
  check_json(text);
  check_manifest(text);
  return 0;
}
