// A JSON value: writes reports, the state file and bundle manifests and
// reads them back (manifests come from other hosts: parse() is strict).
// Objects keep insertion order. Parsing and writing are nlohmann-json's,
// confined to json.cpp; this class is the interface the project uses.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace geoblock::util {

class Json {
public:
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  // parse() refuses arrays and objects nested deeper than this.
  static constexpr int max_depth = 64;

  Json() = default; // null
  Json(std::nullptr_t) {}
  Json(bool b) : m_value(b) {}
  Json(int v) : m_value(static_cast<std::int64_t>(v)) {}
  Json(long v) : m_value(static_cast<std::int64_t>(v)) {}
  Json(long long v) : m_value(static_cast<std::int64_t>(v)) {}
  // Unsigned values are kept exactly, above INT64_MAX too.
  Json(unsigned v) : m_value(static_cast<std::int64_t>(v)) {}
  Json(unsigned long v) { assign_unsigned(v); }
  Json(unsigned long long v) { assign_unsigned(v); }
  Json(double v) : m_value(v) {}
  Json(const char* s) : m_value(std::string(s)) {}
  Json(std::string s) : m_value(std::move(s)) {}
  Json(Array a) : m_value(std::move(a)) {}
  Json(Object o) : m_value(std::move(o)) {}

  static Json object() { return Json(Object{}); }
  static Json array() { return Json(Array{}); }

  // Object access: set() replaces or appends; get() returns null when absent.
  Json& set(const std::string& key, Json value);
  const Json& get(std::string_view key) const;
  // Array append.
  Json& push(Json value);

  bool is_null() const { return std::holds_alternative<std::monostate>(m_value); }
  bool is_object() const { return std::holds_alternative<Object>(m_value); }
  bool is_array() const { return std::holds_alternative<Array>(m_value); }
  bool is_number() const
  {
    return std::holds_alternative<std::int64_t>(m_value) || std::holds_alternative<std::uint64_t>(m_value) ||
           std::holds_alternative<double>(m_value);
  }
  // The number when the type holds it exactly (a double only when it is
  // integral and in range), else the fallback: they never wrap, truncate or
  // saturate. So 18446744073709551615 and 1.5 give as_int's fallback (which
  // callers use to see a missing or invalid field), -1 gives as_uint's.
  std::int64_t as_int(std::int64_t fallback = 0) const;
  std::uint64_t as_uint(std::uint64_t fallback = 0) const;
  // Any number (integers above 2^53 rounded), else the fallback.
  double as_double(double fallback = 0) const;
  bool as_bool(bool fallback = false) const;
  std::string as_string(const std::string& fallback = {}) const;
  const Array& items() const;
  const Object& members() const;

  // Compact with indent < 0, else pretty-printed and ending in a newline.
  // Doubles are written so that they read back exactly; NaN and infinities
  // are written as null, bytes in strings that are not UTF-8 as U+FFFD, so
  // the output always parses.
  std::string dump(int indent = 2) const;

  // Parses a whole document (RFC 8259, strictly: no leading '+' or zeros,
  // no lone surrogates, only UTF-8, nothing after the value). Also refused:
  // a key given twice in one object, integers below INT64_MIN or above
  // UINT64_MAX, numbers beyond the range of double, nesting deeper than
  // max_depth. A UTF-8 byte order mark at the start is skipped.
  // Throws Error("<name>:<line>:<column>: invalid JSON: <problem>"), with the
  // line and the column (in bytes) counted from 1.
  static Json parse(std::string_view text, const std::string& name);

private:
  // The nlohmann-json SAX handler in json.cpp; builds the value in place.
  class Reader;
  // Converts to nlohmann-json for writing, in json.cpp.
  struct Writer;

  void assign_unsigned(std::uint64_t v)
  {
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      m_value = v;
    } else {
      m_value = static_cast<std::int64_t>(v);
    }
  }

  // std::uint64_t only holds values above INT64_MAX; smaller ones are int64_t.
  std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string, Array, Object> m_value;
};

// "nlohmann-json 3.11.2": the header-only library Json is built on (for
// geoblock --version).
std::string json_library_version();

} // namespace geoblock::util
