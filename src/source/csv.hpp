// A streaming reader of RFC 4180 CSV, as MaxMind publishes its GeoLite2
// CSV files.
//
// Fields are separated by ',' and records end with LF or CRLF. A field in
// double quotes may hold ',', CR, LF and "" (one quote character): e.g.
// "Bonaire, Sint Eustatius, and Saba" is one field. Empty lines are
// skipped. A quote inside an unquoted field, text after a closing quote or
// an unterminated quote throw ParseError naming the source and line.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::source {

class CsvReader {
public:
  // Fills up to n bytes of the buffer; returns 0 at the end of the input.
  using Source = std::function<std::size_t(char* buf, std::size_t n)>;

  CsvReader(Source source, std::string name);
  // Reads from a string that must outlive the reader.
  static CsvReader from_string(std::string_view text, std::string name);

  // Reads the next record into `fields`; the views stay valid until the
  // next call. Returns false at the end of the input.
  bool next(std::vector<std::string_view>& fields);

  // The line on which the last record started (1-based).
  std::size_t line() const { return m_line; }
  // The raw text of the last record's first line, for error messages.
  std::string_view raw() const { return m_raw; }
  const std::string& name() const { return m_name; }

  // The index of `column` in a header record; throws ParseError naming the
  // source when it is missing.
  std::size_t column(const std::vector<std::string_view>& header, std::string_view column) const;

  // Records longer than this are refused (garbage without newlines).
  static constexpr std::size_t k_max_record = std::size_t{1} << 20;

private:
  bool refill();
  // Parses a record with quotes starting at m_pos; returns false when it
  // continues past the buffered data (and more may come).
  bool parse_quoted(std::vector<std::string_view>& fields);

  Source m_source;
  std::string m_name;
  std::string m_buf;
  std::size_t m_pos = 0;
  std::size_t m_end = 0;
  bool m_eof = false;
  std::size_t m_line = 0;      // line of the last record
  std::size_t m_next_line = 1; // line of the next record
  std::string_view m_raw;
  std::string m_scratch; // unquoted copies of quoted records
  std::vector<std::size_t> m_bounds;
};

} // namespace geoblock::source
