#include "source/csv.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

namespace geoblock::source {

namespace {

constexpr std::size_t k_chunk = std::size_t{1} << 16;

std::string_view
first_line(std::string_view text)
{
  const std::size_t nl = text.find('\n');
  text = text.substr(0, nl);
  if (!text.empty() && text.back() == '\r') {
    text.remove_suffix(1);
  }
  return text;
}

} // namespace

CsvReader::CsvReader(Source source, std::string name) : m_source(std::move(source)), m_name(std::move(name))
{
  m_buf.resize(k_chunk * 4);
}

CsvReader
CsvReader::from_string(std::string_view text, std::string name)
{
  auto offset = std::make_shared<std::size_t>(0);
  return CsvReader(
      [text, offset](char* buf, std::size_t n) {
        const std::size_t k = std::min(n, text.size() - *offset);
        std::memcpy(buf, text.data() + *offset, k);
        *offset += k;
        return k;
      },
      std::move(name));
}

bool
CsvReader::refill()
{
  if (m_eof) {
    return false;
  }
  // Keep the unfinished record, at the front, and grow only for records
  // longer than the buffer.
  if (m_pos > 0) {
    std::memmove(m_buf.data(), m_buf.data() + m_pos, m_end - m_pos);
    m_end -= m_pos;
    m_pos = 0;
  }
  if (m_end == m_buf.size()) {
    if (m_buf.size() >= k_max_record) {
      throw ParseError(m_name, m_next_line, std::string(first_line({m_buf.data(), 80})),
                       "record longer than " + std::to_string(k_max_record) + " bytes");
    }
    m_buf.resize(m_buf.size() * 2);
  }
  const std::size_t n = m_source(m_buf.data() + m_end, m_buf.size() - m_end);
  if (n == 0) {
    m_eof = true;
    return false;
  }
  m_end += n;
  return true;
}

bool
CsvReader::next(std::vector<std::string_view>& fields)
{
  for (;;) {
    fields.clear();
    const char* const begin = m_buf.data() + m_pos;
    const std::size_t avail = m_end - m_pos;
    const char* nl = static_cast<const char*>(std::memchr(begin, '\n', avail));
    if (!nl && !m_eof) {
      refill();
      continue;
    }
    if (avail == 0 && m_eof) {
      return false;
    }
    const std::size_t len = nl ? static_cast<std::size_t>(nl - begin) : avail;
    std::string_view line(begin, len);
    if (line.find('"') != std::string_view::npos) {
      if (!parse_quoted(fields)) {
        refill();
        continue;
      }
      return true;
    }
    // The common case, no quotes: fields are views into the buffer.
    m_line = m_next_line++;
    m_pos += nl ? len + 1 : len;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    m_raw = line;
    if (line.empty()) {
      continue;
    }
    std::size_t start = 0;
    for (;;) {
      const std::size_t comma = line.find(',', start);
      if (comma == std::string_view::npos) {
        fields.push_back(line.substr(start));
        break;
      }
      fields.push_back(line.substr(start, comma - start));
      start = comma + 1;
    }
    return true;
  }
}

bool
CsvReader::parse_quoted(std::vector<std::string_view>& fields)
{
  enum class State { Start, Unquoted, Quoted, AfterQuote };
  const char* const b = m_buf.data();
  std::size_t i = m_pos;
  const std::size_t end = m_end;
  State state = State::Start;
  std::size_t newlines = 0;
  m_scratch.clear();
  m_bounds.clear();
  auto fail = [&](const char* problem, bool at_start = false) {
    throw ParseError(m_name, m_next_line + (at_start ? 0 : newlines),
                     std::string(first_line({b + m_pos, end - m_pos})), problem);
  };
  bool done = false;
  while (!done) {
    if (i == end) {
      if (!m_eof) {
        return false;
      }
      if (state == State::Quoted) {
        fail("unterminated quoted field", true);
      }
      m_bounds.push_back(m_scratch.size());
      break;
    }
    const char c = b[i];
    // CRLF ends a record like LF; a lone CR is data.
    const bool crlf = c == '\r' && i + 1 < end && b[i + 1] == '\n';
    if (c == '\r' && i + 1 == end && !m_eof && state != State::Quoted) {
      return false;
    }
    switch (state) {
    case State::Start:
      if (c == '"') {
        state = State::Quoted;
        ++i;
      } else {
        state = State::Unquoted;
      }
      break;
    case State::Unquoted:
    case State::AfterQuote:
      if (c == ',') {
        m_bounds.push_back(m_scratch.size());
        state = State::Start;
        ++i;
      } else if (c == '\n' || crlf) {
        m_bounds.push_back(m_scratch.size());
        i += crlf ? 2 : 1;
        done = true;
      } else if (state == State::AfterQuote) {
        fail("text after a closing quote");
      } else if (c == '"') {
        fail("quote inside an unquoted field");
      } else {
        m_scratch += c;
        ++i;
      }
      break;
    case State::Quoted:
      if (c == '"') {
        if (i + 1 == end && !m_eof) {
          return false;
        }
        if (i + 1 < end && b[i + 1] == '"') {
          m_scratch += '"';
          i += 2;
        } else {
          state = State::AfterQuote;
          ++i;
        }
      } else {
        newlines += c == '\n' ? 1 : 0;
        m_scratch += c;
        ++i;
      }
      break;
    }
  }
  m_raw = first_line({b + m_pos, i - m_pos});
  m_line = m_next_line;
  m_next_line += newlines + 1;
  m_pos = i;
  std::size_t start = 0;
  for (const std::size_t bound : m_bounds) {
    fields.emplace_back(m_scratch.data() + start, bound - start);
    start = bound;
  }
  return true;
}

std::size_t
CsvReader::column(const std::vector<std::string_view>& header, std::string_view column) const
{
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == column) {
      return i;
    }
  }
  std::string text;
  for (std::size_t i = 0; i < header.size(); ++i) {
    text += (i ? "," : "");
    text += header[i];
  }
  throw ParseError(m_name, m_line, text, "no column '" + std::string(column) + "' in the header");
}

} // namespace geoblock::source
