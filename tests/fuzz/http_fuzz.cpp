// Fuzzes what geoblock parses of HTTP responses itself (libcurl does the
// rest): the ETag and Last-Modified header lines (fetch/http_client.hpp
// parse_header_line) and MD5SUM files (fetch/fetcher.hpp parse_md5sum).
//
// The input is read both ways: as the header lines of a response, one per
// '\n' as libcurl delivers them, and as an MD5SUM file. Checked:
//  - both agree with plain reference readings of their rules, below;
//  - the validators kept hold no blanks at their ends and no control
//    characters (they come back in If-None-Match and If-Modified-Since);
//  - every MD5SUM entry has 32 lower-case hex digits.
#include "fetch/fetcher.hpp"
#include "fetch/http_client.hpp"
#include "fuzz/fuzz_util.hpp"

#include <cctype>
#include <sstream>
#include <string>

namespace {

using namespace geoblock;
using fuzz::check;

std::string
lower(std::string_view s)
{
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool
has_control(std::string_view s)
{
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      return true;
    }
  }
  return false;
}

// The value of "Name: value" without blanks and line end around it; empty
// when it holds a control character (a header that could break a request).
std::string
reference_value(std::string_view line, std::size_t colon)
{
  std::string_view v = line.substr(colon + 1);
  while (!v.empty() && std::string_view(" \t\r\n").find(v.back()) != std::string_view::npos) {
    v.remove_suffix(1);
  }
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  return has_control(v) ? std::string() : std::string(v);
}

void
check_headers(std::string_view text)
{
  fetch::HttpResponse got;
  std::string etag;
  std::string last_modified;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl == std::string_view::npos ? text.size() : nl + 1);
    text.remove_prefix(line.size());
    fetch::parse_header_line(line, got);
    const std::string l = lower(line);
    if (l.rfind("http/", 0) == 0) {
      etag.clear();
      last_modified.clear();
    } else if (l.rfind("etag:", 0) == 0) {
      etag = reference_value(line, 4);
    } else if (l.rfind("last-modified:", 0) == 0) {
      last_modified = reference_value(line, 13);
    }
    check(got.etag == etag, "ETag as the reference reads it");
    check(got.last_modified_http == last_modified, "Last-Modified as the reference reads it");
  }
  for (const std::string* v : {&got.etag, &got.last_modified_http}) {
    check(!has_control(*v), "validators hold no control characters");
    check(v->empty() || (v->front() != ' ' && v->front() != '\t' && v->back() != ' ' && v->back() != '\t'),
          "validators are trimmed");
  }
}

// md5sum's lines, read with getline: "<32 hex>  name" or "<32 hex> *name".
std::optional<fetch::Md5List>
reference_md5sum(const std::string& text)
{
  fetch::Md5List list;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty()) {
      continue;
    }
    if (line.size() < 34 || line[32] != ' ' || (line[33] != ' ' && line[33] != '*')) {
      return std::nullopt;
    }
    const std::string md5 = lower(line.substr(0, 32));
    if (md5.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return std::nullopt;
    }
    list[line.substr(34)] = md5;
  }
  return list;
}

void
check_md5sum(std::string_view text)
{
  const std::optional<fetch::Md5List> got = fetch::parse_md5sum(text);
  check(got == reference_md5sum(std::string(text)), "MD5SUM as the reference reads it");
  if (got) {
    for (const auto& [name, md5] : *got) {
      check(fuzz::is_lower_hex(md5, 32), "MD5s are 32 lower-case hex digits");
    }
  }
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size)
{
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_headers(text);
  check_md5sum(text);
  return 0;
}
