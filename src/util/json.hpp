// A minimal JSON value: enough to write reports and the state file and to
// read the state file back. Objects keep insertion order.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
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

  Json() = default; // null
  Json(std::nullptr_t) {}
  Json(bool b) : m_value(b) {}
  Json(int v) : m_value(static_cast<std::int64_t>(v)) {}
  Json(long v) : m_value(static_cast<std::int64_t>(v)) {}
  Json(long long v) : m_value(static_cast<std::int64_t>(v)) {}
  Json(unsigned v) : m_value(static_cast<std::int64_t>(v)) {}
  Json(unsigned long v) : m_value(static_cast<std::int64_t>(v)) {}
  Json(unsigned long long v) : m_value(static_cast<std::int64_t>(v)) {}
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
  bool is_string() const { return std::holds_alternative<std::string>(m_value); }
  bool is_number() const
  {
    return std::holds_alternative<std::int64_t>(m_value) || std::holds_alternative<double>(m_value);
  }
  std::int64_t as_int(std::int64_t fallback = 0) const;
  double as_double(double fallback = 0) const;
  bool as_bool(bool fallback = false) const;
  std::string as_string(const std::string& fallback = {}) const;
  const Array& items() const;
  const Object& members() const;

  // Compact with indent < 0, else pretty-printed.
  std::string dump(int indent = 2) const;

  // Throws Error("<name>: invalid JSON at offset N: ...").
  static Json parse(std::string_view text, const std::string& name);

private:
  void dump_to(std::string& out, int indent, int depth) const;
  std::variant<std::monostate, bool, std::int64_t, double, std::string, Array, Object> m_value;
};

} // namespace geoblock::util
