// Fuzzes CsvReader, the RFC 4180 reader of MaxMind's GeoLite2 CSV files.
//
// The first byte seeds the sizes of the pieces in which the text is
// streamed; the rest is the CSV text. Checked on every input:
//  - it throws nothing but ParseError;
//  - read whole (from_string) and streamed in pieces of 1 to 16 bytes (so
//    records, quoted fields and CRLFs are cut everywhere), it gives the same
//    records, lines and raw text, or the same error (line and problem; the
//    text quoted in the streamed one's message a prefix of the whole one's);
//  - record lines increase and raw text holds no line break;
//  - the records, written back with every field quoted, read back the same.
#include "core/error.hpp"
#include "fuzz/fuzz_util.hpp"
#include "source/csv.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace geoblock;
using fuzz::check;

struct Record {
  std::vector<std::string> fields;
  std::size_t line = 0;
  std::string raw;
  bool operator==(const Record&) const = default;
};

struct Outcome {
  std::vector<Record> records;
  std::optional<ParseError> error;
};

Outcome
read_all(source::CsvReader& csv)
{
  Outcome out;
  std::vector<std::string_view> fields;
  try {
    while (csv.next(fields)) {
      out.records.push_back({{fields.begin(), fields.end()}, csv.line(), std::string(csv.raw())});
    }
  } catch (const ParseError& e) {
    out.error = e;
  }
  return out;
}

Outcome
read_whole(const std::string& text)
{
  source::CsvReader csv = source::CsvReader::from_string(text, "fuzz.csv");
  return read_all(csv);
}

Outcome
read_streamed(const std::string& text, unsigned seed)
{
  std::size_t offset = 0;
  source::CsvReader csv(
      [&](char* buf, std::size_t n) {
        seed = seed * 1103515245u + 12345u;
        const std::size_t piece = 1 + (seed >> 16) % 16;
        const std::size_t k = std::min({n, piece, text.size() - offset});
        std::memcpy(buf, text.data() + offset, k);
        offset += k;
        return k;
      },
      "fuzz.csv");
  return read_all(csv);
}

std::string
quote_all(const std::vector<Record>& records)
{
  std::string out;
  for (const Record& r : records) {
    for (std::size_t i = 0; i < r.fields.size(); ++i) {
      out += i ? ",\"" : "\"";
      for (const char c : r.fields[i]) {
        out += c == '"' ? "\"\"" : std::string(1, c);
      }
      out += '"';
    }
    out += '\n';
  }
  return out;
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size)
{
  if (size == 0) {
    return 0;
  }
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = read_whole(text);
  const Outcome streamed = read_streamed(text, data[0]);

  check(whole.records == streamed.records, "whole and streamed reads give the same records");
  check(whole.error.has_value() == streamed.error.has_value(), "whole and streamed reads agree on an error");
  if (whole.error) {
    check(whole.error->line() == streamed.error->line(), "same error line");
    check(whole.error->problem() == streamed.error->problem(), "same error problem");
    check(whole.error->text().starts_with(streamed.error->text()), "streamed error text is a prefix");
    check(whole.error->line() >= 1, "error lines count from 1");
  }
  std::size_t last = 0;
  for (const Record& r : whole.records) {
    check(r.line > last, "record lines increase");
    last = r.line;
    check(!r.fields.empty(), "a record has a field");
    check(r.raw.find_first_of("\n") == std::string::npos, "raw text is one line");
  }
  if (!whole.error) {
    const Outcome again = read_whole(quote_all(whole.records));
    check(!again.error, "quoted records read back");
    check(again.records.size() == whole.records.size(), "quoted records read back, as many");
    for (std::size_t i = 0; i < again.records.size(); ++i) {
      check(again.records[i].fields == whole.records[i].fields, "quoted records read back, same fields");
    }
  }
  return 0;
}
