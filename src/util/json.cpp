// util::Json on nlohmann-json, the only file that includes it: parse() runs
// nlohmann's (iterative, strict) parser with a SAX handler that builds our
// value directly; dump() converts to nlohmann::ordered_json and writes that.
#include "util/json.hpp"

#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <unordered_set>

namespace geoblock::util {

namespace {

const Json k_null;

// Reads the text for nlohmann's parser and counts the bytes it has taken,
// so the handler knows where it is (the SAX interface does not say).
class CountingIterator {
public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator(const char* p, std::size_t* taken) : m_p(p), m_taken(taken) {}
  reference operator*() const { return *m_p; }
  CountingIterator& operator++()
  {
    ++m_p;
    ++*m_taken;
    return *this;
  }
  CountingIterator operator++(int)
  {
    CountingIterator old = *this;
    ++*this;
    return old;
  }
  friend bool operator==(const CountingIterator& a, const CountingIterator& b) { return a.m_p == b.m_p; }

private:
  const char* m_p;
  std::size_t* m_taken;
};

// Thrown inside the handler, caught by Json::parse: a problem at a byte offset.
struct Refusal {
  std::size_t offset;
  std::string problem;
};

// Untrusted text for a one-line message: bytes that are not printable
// ASCII escaped, and shortened (a token can be a whole string).
std::string
printable(std::string_view s)
{
  std::string out;
  for (const unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  constexpr std::size_t head = 120;
  constexpr std::size_t tail = 60;
  if (out.size() > head + tail + 5) {
    out = out.substr(0, head) + " ... " + out.substr(out.size() - tail);
  }
  return out;
}

// nlohmann's messages look like "[json.exception.parse_error.101] parse
// error at line 1, column 4: syntax error ... last read: '<token>'": keep
// the part after the position (we give our own).
std::string
problem_text(const std::string& what)
{
  std::string_view s = what;
  if (!s.empty() && s.front() == '[') {
    if (const auto end = s.find("] "); end != std::string_view::npos) {
      s.remove_prefix(end + 2);
    }
  }
  if (s.rfind("parse error", 0) == 0) {
    if (const auto colon = s.find(": "); colon != std::string_view::npos) {
      s.remove_prefix(colon + 2);
    }
  }
  return printable(s);
}

// A key as a JSON string, in ASCII.
std::string
quoted_key(const std::string& key)
{
  return printable(nlohmann::json(key).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace));
}

} // namespace

class Json::Reader final : public nlohmann::json_sax<nlohmann::json> {
public:
  Reader(std::string_view text, const std::size_t& taken) : m_text(text), m_taken(taken) {}

  Json take() { return std::move(m_root); }

  bool null() override { return add(Json()); }
  bool boolean(bool val) override { return add(Json(val)); }
  bool number_integer(number_integer_t val) override { return add(Json(static_cast<std::int64_t>(val))); }
  bool number_unsigned(number_unsigned_t val) override { return add(Json(static_cast<std::uint64_t>(val))); }
  bool number_float(number_float_t val, const string_t& s) override
  {
    // nlohmann reads an integer that fits neither int64_t nor uint64_t as a
    // double; an integer must not change its value on the way in.
    if (s.find_first_of(".eE") == string_t::npos) {
      throw Refusal{token_start(s), "integer out of range: " + printable(s)};
    }
    return add(Json(static_cast<double>(val)));
  }
  bool string(string_t& val) override { return add(Json(std::move(val))); }
  bool binary(binary_t& /*val*/) override { throw Refusal{m_taken - 1, "binary value"}; }

  bool start_object(std::size_t /*elements*/) override { return open(Json::object()); }
  bool key(string_t& val) override
  {
    if (!m_keys.back().insert(val).second) {
      throw Refusal{key_start(), "duplicate key " + quoted_key(val)};
    }
    m_key = std::move(val);
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t /*elements*/) override { return open(Json::array()); }
  bool end_array() override { return close(); }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) override
  {
    // position counts the bytes read, the offending one included.
    throw Refusal{position > 0 ? position - 1 : 0, problem_text(ex.what())};
  }

private:
  // Appends to the innermost open array or object, or sets the root.
  Json* place(Json value)
  {
    if (m_open.empty()) {
      m_root = std::move(value);
      return &m_root;
    }
    Json& parent = *m_open.back();
    if (auto* a = std::get_if<Array>(&parent.m_value)) {
      a->push_back(std::move(value));
      return &a->back();
    }
    auto& o = std::get<Object>(parent.m_value);
    o.emplace_back(std::move(m_key), std::move(value));
    return &o.back().second;
  }
  bool add(Json value)
  {
    place(std::move(value));
    return true;
  }
  // A parent's vector does not grow while its child is open, so the
  // pointers on m_open stay valid.
  bool open(Json container)
  {
    if (m_open.size() >= static_cast<std::size_t>(max_depth)) {
      throw Refusal{m_taken - 1, "nested deeper than " + std::to_string(max_depth) + " levels"};
    }
    const bool is_object = container.is_object();
    m_open.push_back(place(std::move(container)));
    if (is_object) {
      m_keys.emplace_back();
    }
    return true;
  }
  bool close()
  {
    if (m_open.back()->is_object()) {
      m_keys.pop_back();
    }
    m_open.pop_back();
    return true;
  }
  // A number's text ends at the last byte read or, when the lexer read one
  // more to see where it ends, just before it.
  std::size_t token_start(const std::string& token) const
  {
    const std::size_t end =
        m_taken >= 1 && m_text.substr(0, m_taken - 1).ends_with(token) ? m_taken - 1 : m_taken;
    return end >= token.size() ? end - token.size() : 0;
  }
  // The key's closing quote was the last byte read; find its opening one
  // (a quote inside the key follows an odd number of backslashes).
  std::size_t key_start() const
  {
    std::size_t i = m_taken - 1;
    while (i > 0) {
      --i;
      if (m_text[i] != '"') {
        continue;
      }
      std::size_t backslashes = 0;
      while (backslashes < i && m_text[i - 1 - backslashes] == '\\') {
        ++backslashes;
      }
      if (backslashes % 2 == 0) {
        return i;
      }
    }
    return 0;
  }

  std::string_view m_text;
  const std::size_t& m_taken;
  Json m_root;
  std::vector<Json*> m_open;
  // The keys of each open object, to refuse duplicates.
  std::vector<std::unordered_set<std::string>> m_keys;
  std::string m_key;
};

struct Json::Writer {
  static nlohmann::ordered_json convert(const Json& j)
  {
    return std::visit(
        [](const auto& v) -> nlohmann::ordered_json {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            return nullptr;
          } else if constexpr (std::is_same_v<T, Array>) {
            nlohmann::ordered_json out = nlohmann::ordered_json::array();
            for (const Json& item : v) {
              out.push_back(convert(item));
            }
            return out;
          } else if constexpr (std::is_same_v<T, Object>) {
            nlohmann::ordered_json out = nlohmann::ordered_json::object();
            for (const auto& [key, value] : v) {
              out[key] = convert(value);
            }
            return out;
          } else {
            return v;
          }
        },
        j.m_value);
  }
};

Json&
Json::set(const std::string& key, Json value)
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

const Json&
Json::get(std::string_view key) const
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

Json&
Json::push(Json value)
{
  if (!is_array()) {
    m_value = Array{};
  }
  auto& a = std::get<Array>(m_value);
  a.push_back(std::move(value));
  return a.back();
}

std::int64_t
Json::as_int(std::int64_t fallback) const
{
  if (const auto* i = std::get_if<std::int64_t>(&m_value)) {
    return *i;
  }
  if (const auto* d = std::get_if<double>(&m_value)) {
    // [-2^63, 2^63): both bounds are exact doubles.
    if (std::trunc(*d) == *d && *d >= -0x1p63 && *d < 0x1p63) {
      return static_cast<std::int64_t>(*d);
    }
  }
  return fallback; // also a std::uint64_t, which is above INT64_MAX
}

std::uint64_t
Json::as_uint(std::uint64_t fallback) const
{
  if (const auto* i = std::get_if<std::int64_t>(&m_value)) {
    return *i >= 0 ? static_cast<std::uint64_t>(*i) : fallback;
  }
  if (const auto* u = std::get_if<std::uint64_t>(&m_value)) {
    return *u;
  }
  if (const auto* d = std::get_if<double>(&m_value)) {
    if (std::trunc(*d) == *d && *d >= 0 && *d < 0x1p64) {
      return static_cast<std::uint64_t>(*d);
    }
  }
  return fallback;
}

double
Json::as_double(double fallback) const
{
  if (const auto* d = std::get_if<double>(&m_value)) {
    return *d;
  }
  if (const auto* i = std::get_if<std::int64_t>(&m_value)) {
    return static_cast<double>(*i);
  }
  if (const auto* u = std::get_if<std::uint64_t>(&m_value)) {
    return static_cast<double>(*u);
  }
  return fallback;
}

bool
Json::as_bool(bool fallback) const
{
  const auto* b = std::get_if<bool>(&m_value);
  return b ? *b : fallback;
}

std::string
Json::as_string(const std::string& fallback) const
{
  const auto* s = std::get_if<std::string>(&m_value);
  return s ? *s : fallback;
}

const Json::Array&
Json::items() const
{
  static const Array empty;
  const auto* a = std::get_if<Array>(&m_value);
  return a ? *a : empty;
}

const Json::Object&
Json::members() const
{
  static const Object empty;
  const auto* o = std::get_if<Object>(&m_value);
  return o ? *o : empty;
}

std::string
Json::dump(int indent) const
{
  std::string out = Writer::convert(*this).dump(indent < 0 ? -1 : indent, ' ', false,
                                                nlohmann::ordered_json::error_handler_t::replace);
  if (indent >= 0) {
    out += '\n';
  }
  return out;
}

Json
Json::parse(std::string_view text, const std::string& name)
{
  std::size_t taken = 0;
  Reader reader(text, taken);
  try {
    if (!nlohmann::json::sax_parse(CountingIterator(text.data(), &taken),
                                   CountingIterator(text.data() + text.size(), &taken), &reader)) {
      throw Refusal{taken, "not parsed"}; // the handler throws before it could say false
    }
    // nlohmann's lexer takes a NUL byte for the end of the text; JSON has
    // none outside strings, and inside them the parser refuses it.
    if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
      throw Refusal{nul, "NUL byte after the value"};
    }
  } catch (const Refusal& r) {
    const std::size_t offset = std::min(r.offset, text.size());
    const std::string_view before = text.substr(0, offset);
    const std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
    const std::size_t newline = before.rfind('\n');
    const std::size_t column = offset - (newline == std::string_view::npos ? 0 : newline + 1) + 1;
    throw Error(name + ":" + std::to_string(line) + ":" + std::to_string(column) +
                ": invalid JSON: " + r.problem);
  }
  return reader.take();
}

std::string
json_library_version()
{
  return "nlohmann-json " + std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
         std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." + std::to_string(NLOHMANN_JSON_VERSION_PATCH);
}

} // namespace geoblock::util
