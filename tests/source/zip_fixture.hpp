// Helpers for the source tests: files, a child process, and
// byte-level surgery on zip archives to build the malicious ones (lying
// sizes, renamed members, a damaged central directory) that no honest
// writer produces.
#pragma once

#include "core/error.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace geoblock::test {

inline void
write_bytes(const std::string& path, const std::string& data)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) {
    throw std::runtime_error("cannot write " + path);
  }
}

inline std::string
read_bytes(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs argv (no shell); returns the exit status, -1 if it did not exit.
inline int
run_program(const std::vector<std::string>& argv, const std::string& stdout_path = "/dev/null")
{
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    if (std::freopen(stdout_path.c_str(), "w", stdout) == nullptr) {
      std::_Exit(126);
    }
    ::execvp(args[0], args.data());
    std::_Exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) {
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Little-endian fields of the zip format (APPNOTE 4.3.7 and 4.3.12).
inline std::uint32_t
get32(const std::string& b, std::size_t at)
{
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
}
inline std::uint16_t
get16(const std::string& b, std::size_t at)
{
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) | static_cast<unsigned char>(b[at + 1])
                                                                            << 8);
}
inline void
put32(std::string& b, std::size_t at, std::uint32_t v)
{
  for (int i = 0; i < 4; ++i) {
    b[at + i] = static_cast<char>(v >> (8 * i));
  }
}

// Where a member's headers are: the offsets of its local header and its
// central directory record.
struct MemberHeaders {
  std::size_t local = std::string::npos;
  std::size_t central = std::string::npos;
};

inline MemberHeaders
find_member(const std::string& b, const std::string& name)
{
  MemberHeaders h;
  for (std::size_t at = 0; at + 46 <= b.size(); ++at) {
    const std::uint32_t sig = get32(b, at);
    if (sig == 0x02014b50) {
      const std::size_t len = get16(b, at + 28);
      if (b.compare(at + 46, len, name) == 0 && len == name.size()) {
        h.central = at;
        h.local = get32(b, at + 42);
      }
    }
  }
  if (h.central == std::string::npos) {
    throw std::runtime_error("no member " + name);
  }
  return h;
}

// Rewrites a member's declared uncompressed size in both headers, so that
// the archive stays self-consistent and only reading reveals the lie.
inline void
set_declared_size(const std::string& path, const std::string& name, std::uint32_t size)
{
  std::string b = read_bytes(path);
  const MemberHeaders h = find_member(b, name);
  put32(b, h.local + 22, size);
  put32(b, h.central + 24, size);
  write_bytes(path, b);
}

// Renames a member in both headers (same length), e.g. to "../../x".
inline void
rename_member(const std::string& path, const std::string& from, const std::string& to)
{
  if (from.size() != to.size()) {
    throw std::runtime_error("rename_member needs names of equal length");
  }
  std::string b = read_bytes(path);
  const MemberHeaders h = find_member(b, from);
  b.replace(h.local + 30, to.size(), to);
  b.replace(h.central + 46, to.size(), to);
  write_bytes(path, b);
}

// Changes the central directory's record of a member (its CRC) without
// touching the local header.
inline void
corrupt_central_directory(const std::string& path, const std::string& name)
{
  std::string b = read_bytes(path);
  const MemberHeaders h = find_member(b, name);
  put32(b, h.central + 16, get32(b, h.central + 16) ^ 0x5a5a);
  write_bytes(path, b);
}

// Points a member's central directory record at a wrong local header offset.
inline void
misplace_local_header(const std::string& path, const std::string& name)
{
  std::string b = read_bytes(path);
  const MemberHeaders h = find_member(b, name);
  put32(b, h.central + 42, static_cast<std::uint32_t>(h.local + 7));
  write_bytes(path, b);
}

// Flips one byte of a member's compressed data.
inline void
flip_data_byte(const std::string& path, const std::string& name, std::size_t offset = 0)
{
  std::string b = read_bytes(path);
  const MemberHeaders h = find_member(b, name);
  const std::size_t data = h.local + 30 + get16(b, h.local + 26) + get16(b, h.local + 28);
  b[data + offset] = static_cast<char>(b[data + offset] ^ 0x20);
  write_bytes(path, b);
}

// The one-line message of the geoblock::Error that `f` throws, or "no error".
inline std::string
error_of(const std::function<void()>& f)
{
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

} // namespace geoblock::test
