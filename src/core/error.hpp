// One exception hierarchy for the whole program. Exactly one place
// (cli::run) catches these, prints "geoblock: error: <what>" and maps the
// class to an exit code. Expected outcomes (a 304, a missing set, an empty
// zone) are return values, never exceptions.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace geoblock {

// Documented exit codes (README "Exit codes"): a contract with scripts.
enum class ExitCode : int {
  Ok = 0,      // success, including "nothing to do"
  Runtime = 1, // runtime failure
  Usage = 2,   // usage or configuration error
  Safety = 3,  // refused for safety (override with --force)
  Partial = 4, // applied, but some countries were stale or failed
  Drift = 5,   // status: the live firewall differs from the configuration
};

class Error : public std::runtime_error {
public:
  explicit Error(const std::string& what, ExitCode code = ExitCode::Runtime)
      : std::runtime_error(what), m_code(code)
  {
  }
  ExitCode code() const { return m_code; }

private:
  ExitCode m_code;
};

class UsageError : public Error {
public:
  explicit UsageError(const std::string& what) : Error(what, ExitCode::Usage) {}
};

// A configuration problem; names the file, line and key where known.
class ConfigError : public Error {
public:
  explicit ConfigError(const std::string& what) : Error(what, ExitCode::Usage) {}
};

// A line that is not a network: "SOURCE:LINE: PROBLEM: 'TEXT'".
class ParseError : public Error {
public:
  ParseError(std::string source, std::size_t line, std::string text, std::string problem)
      : Error(format(source, line, text, problem)), m_source(std::move(source)), m_line(line),
        m_text(std::move(text)), m_problem(std::move(problem))
  {
  }
  const std::string& source() const { return m_source; }
  std::size_t line() const { return m_line; }
  const std::string& text() const { return m_text; }
  const std::string& problem() const { return m_problem; }

private:
  static std::string format(const std::string& source, std::size_t line, const std::string& text,
                            const std::string& problem);

  std::string m_source;
  std::size_t m_line;
  std::string m_text;
  std::string m_problem;
};

class FetchError : public Error {
public:
  using Error::Error;
};

class IpsetError : public Error {
public:
  using Error::Error;
};

class RulesError : public Error {
public:
  using Error::Error;
};

// Refused for safety: lock-out of the SSH session, suspicious shrink, ...
class SafetyError : public Error {
public:
  explicit SafetyError(const std::string& what) : Error(what, ExitCode::Safety) {}
};

} // namespace geoblock
