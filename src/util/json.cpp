#include "util/json.hpp"

#include "core/error.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace geoblock::util {

namespace {

const Json k_null;

void escape(std::string& out, const std::string& s)
{
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += '"';
}

class Parser {
public:
  Parser(std::string_view text, const std::string& name) : m_text(text), m_name(name) {}

  Json parse_document()
  {
    Json v = value(0);
    skip();
    if (m_pos != m_text.size()) {
      fail("trailing data");
    }
    return v;
  }

private:
  [[noreturn]] void fail(const std::string& what)
  {
    throw Error(m_name + ": invalid JSON at offset " + std::to_string(m_pos) + ": " + what);
  }
  void skip()
  {
    while (m_pos < m_text.size()
           && (m_text[m_pos] == ' ' || m_text[m_pos] == '\n' || m_text[m_pos] == '\r' || m_text[m_pos] == '\t')) {
      ++m_pos;
    }
  }
  bool eat(char c)
  {
    skip();
    if (m_pos < m_text.size() && m_text[m_pos] == c) {
      ++m_pos;
      return true;
    }
    return false;
  }
  void expect(char c)
  {
    if (!eat(c)) {
      fail(std::string("expected '") + c + "'");
    }
  }
  bool literal(std::string_view word)
  {
    if (m_text.substr(m_pos, word.size()) == word) {
      m_pos += word.size();
      return true;
    }
    return false;
  }
  std::string string()
  {
    expect('"');
    std::string s;
    while (m_pos < m_text.size() && m_text[m_pos] != '"') {
      char c = m_text[m_pos++];
      if (c != '\\') {
        s += c;
        continue;
      }
      if (m_pos >= m_text.size()) {
        fail("unterminated escape");
      }
      c = m_text[m_pos++];
      switch (c) {
      case 'n':
        s += '\n';
        break;
      case 't':
        s += '\t';
        break;
      case 'r':
        s += '\r';
        break;
      case 'b':
        s += '\b';
        break;
      case 'f':
        s += '\f';
        break;
      case 'u': {
        if (m_pos + 4 > m_text.size()) {
          fail("short \\u escape");
        }
        const unsigned cp = static_cast<unsigned>(std::strtoul(std::string(m_text.substr(m_pos, 4)).c_str(), nullptr, 16));
        m_pos += 4;
        if (cp < 0x80) {
          s += static_cast<char>(cp);
        } else if (cp < 0x800) {
          s += static_cast<char>(0xc0 | (cp >> 6));
          s += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
          s += static_cast<char>(0xe0 | (cp >> 12));
          s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
          s += static_cast<char>(0x80 | (cp & 0x3f));
        }
        break;
      }
      default:
        s += c;
      }
    }
    if (m_pos >= m_text.size()) {
      fail("unterminated string");
    }
    ++m_pos;
    return s;
  }
  Json value(int depth)
  {
    if (depth > 64) {
      fail("nested too deeply");
    }
    skip();
    if (m_pos >= m_text.size()) {
      fail("unexpected end");
    }
    const char c = m_text[m_pos];
    if (c == '{') {
      ++m_pos;
      Json o = Json::object();
      if (eat('}')) {
        return o;
      }
      do {
        skip();
        std::string key = string();
        expect(':');
        o.set(key, value(depth + 1));
      } while (eat(','));
      expect('}');
      return o;
    }
    if (c == '[') {
      ++m_pos;
      Json a = Json::array();
      if (eat(']')) {
        return a;
      }
      do {
        a.push(value(depth + 1));
      } while (eat(','));
      expect(']');
      return a;
    }
    if (c == '"') {
      return Json(string());
    }
    if (literal("true")) {
      return Json(true);
    }
    if (literal("false")) {
      return Json(false);
    }
    if (literal("null")) {
      return Json();
    }
    const std::size_t start = m_pos;
    bool is_float = false;
    while (m_pos < m_text.size() && std::string_view("+-0123456789.eE").find(m_text[m_pos]) != std::string_view::npos) {
      is_float = is_float || m_text[m_pos] == '.' || m_text[m_pos] == 'e' || m_text[m_pos] == 'E';
      ++m_pos;
    }
    if (start == m_pos) {
      fail("unexpected character");
    }
    const std::string number(m_text.substr(start, m_pos - start));
    char* end = nullptr;
    if (is_float) {
      const double d = std::strtod(number.c_str(), &end);
      if (*end) {
        fail("bad number");
      }
      return Json(d);
    }
    const long long v = std::strtoll(number.c_str(), &end, 10);
    if (*end) {
      fail("bad number");
    }
    return Json(v);
  }

  std::string_view m_text;
  const std::string& m_name;
  std::size_t m_pos = 0;
};

} // namespace

Json& Json::set(const std::string& key, Json value)
{
  if (!is_object()) {
    m_value = Object{};
  }
  auto& o = std::get<Object>(m_value);
  for (auto& [k, v] : o) {
    if (k == key) {
      v = std::move(value);
      return v;
    }
  }
  o.emplace_back(key, std::move(value));
  return o.back().second;
}

const Json& Json::get(std::string_view key) const
{
  if (const auto* o = std::get_if<Object>(&m_value)) {
    for (const auto& [k, v] : *o) {
      if (k == key) {
        return v;
      }
    }
  }
  return k_null;
}

Json& Json::push(Json value)
{
  if (!is_array()) {
    m_value = Array{};
  }
  auto& a = std::get<Array>(m_value);
  a.push_back(std::move(value));
  return a.back();
}

std::int64_t Json::as_int(std::int64_t fallback) const
{
  if (const auto* i = std::get_if<std::int64_t>(&m_value)) {
    return *i;
  }
  if (const auto* d = std::get_if<double>(&m_value)) {
    return static_cast<std::int64_t>(*d);
  }
  return fallback;
}

double Json::as_double(double fallback) const
{
  if (const auto* d = std::get_if<double>(&m_value)) {
    return *d;
  }
  if (const auto* i = std::get_if<std::int64_t>(&m_value)) {
    return static_cast<double>(*i);
  }
  return fallback;
}

bool Json::as_bool(bool fallback) const
{
  const auto* b = std::get_if<bool>(&m_value);
  return b ? *b : fallback;
}

std::string Json::as_string(const std::string& fallback) const
{
  const auto* s = std::get_if<std::string>(&m_value);
  return s ? *s : fallback;
}

const Json::Array& Json::items() const
{
  static const Array empty;
  const auto* a = std::get_if<Array>(&m_value);
  return a ? *a : empty;
}

const Json::Object& Json::members() const
{
  static const Object empty;
  const auto* o = std::get_if<Object>(&m_value);
  return o ? *o : empty;
}

std::string Json::dump(int indent) const
{
  std::string out;
  dump_to(out, indent, 0);
  if (indent >= 0) {
    out += '\n';
  }
  return out;
}

void Json::dump_to(std::string& out, int indent, int depth) const
{
  const auto newline = [&](int d) {
    if (indent >= 0) {
      out += '\n';
      out.append(static_cast<std::size_t>(indent * d), ' ');
    }
  };
  if (std::holds_alternative<std::monostate>(m_value)) {
    out += "null";
  } else if (const auto* b = std::get_if<bool>(&m_value)) {
    out += *b ? "true" : "false";
  } else if (const auto* i = std::get_if<std::int64_t>(&m_value)) {
    out += std::to_string(*i);
  } else if (const auto* d = std::get_if<double>(&m_value)) {
    if (!std::isfinite(*d)) {
      out += "null";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", *d);
      out += buf;
    }
  } else if (const auto* s = std::get_if<std::string>(&m_value)) {
    escape(out, *s);
  } else if (const auto* a = std::get_if<Array>(&m_value)) {
    out += '[';
    for (std::size_t k = 0; k < a->size(); ++k) {
      if (k) {
        out += ',';
      }
      newline(depth + 1);
      (*a)[k].dump_to(out, indent, depth + 1);
    }
    if (!a->empty()) {
      newline(depth);
    }
    out += ']';
  } else if (const auto* o = std::get_if<Object>(&m_value)) {
    out += '{';
    for (std::size_t k = 0; k < o->size(); ++k) {
      if (k) {
        out += ',';
      }
      newline(depth + 1);
      escape(out, (*o)[k].first);
      out += indent >= 0 ? ": " : ":";
      (*o)[k].second.dump_to(out, indent, depth + 1);
    }
    if (!o->empty()) {
      newline(depth);
    }
    out += '}';
  }
}

Json Json::parse(std::string_view text, const std::string& name)
{
  return Parser(text, name).parse_document();
}

} // namespace geoblock::util
