// Move-only RAII wrappers over libzip: the only code that sees <zip.h>.
//
// Reading is defensive, because a zip is input from outside: opening checks
// the central directory against the local headers and refuses unsafe member
// names; reading a member checks its declared size and compression ratio
// against ZipLimits before decompressing, stops at the declared size, and
// lets libzip verify the CRC at the end. Every error is one line naming the
// archive and, where there is one, the member.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct zip;      // libzip's zip_t
struct zip_file; // libzip's zip_file_t

namespace geoblock::source {

// Bounds on what reading a member may cost (zip bombs).
struct ZipLimits {
  // Declared uncompressed size of one member.
  std::uint64_t max_member_bytes = std::uint64_t{256} << 20;
  // Uncompressed / compressed size; checked for members larger than
  // ratio_floor (tiny members compress arbitrarily well and cost nothing).
  // Zone and CSV text compresses 4-10 times with deflate.
  std::uint64_t max_ratio = 100;
  std::uint64_t ratio_floor = std::uint64_t{1} << 20;
  // Sum of the declared sizes of all members of an archive read whole
  // (a bundle).
  std::uint64_t max_total_bytes = std::uint64_t{1} << 30;
};

struct ZipEntry {
  std::uint64_t index = 0;
  std::string name;       // full name inside the archive, '/'-separated
  std::uint64_t size = 0; // declared uncompressed size
  std::uint64_t compressed = 0;
  std::int64_t mtime = 0; // unix time (zip stores local time, 2 s steps)
  bool directory() const { return !name.empty() && name.back() == '/'; }
  // The last component of the name ("a/b/c.csv" -> "c.csv").
  std::string_view base_name() const;
};

// True for a relative, '/'-separated name without "." or ".." components,
// backslashes, control characters or a drive letter: one that cannot point
// outside a directory it were extracted to.
bool is_safe_member_name(std::string_view name);

// An open member: read() returns decompressed bytes, never more than the
// declared size, and throws when the data does not match the declaration
// (more or fewer bytes, bad CRC, corrupt deflate stream).
class ZipMemberStream {
public:
  ZipMemberStream(ZipMemberStream&& other) noexcept;
  ZipMemberStream& operator=(ZipMemberStream&&) = delete;
  ZipMemberStream(const ZipMemberStream&) = delete;
  ZipMemberStream& operator=(const ZipMemberStream&) = delete;
  ~ZipMemberStream();

  // Fills up to `n` bytes of `buf`; returns 0 only at the verified end.
  std::size_t read(char* buf, std::size_t n);
  const std::string& name() const { return m_name; } // "ARCHIVE:MEMBER"

private:
  friend class ZipReader;
  ZipMemberStream(zip_file* file, std::string name, std::uint64_t size);
  zip_file* m_file;
  std::string m_name;
  std::uint64_t m_size;
  std::uint64_t m_done = 0;
  bool m_finished = false;
};

class ZipReader {
public:
  // Opens `path` read-only. Throws Error naming the path when it cannot be
  // opened, is not a zip, its central directory is inconsistent, a member
  // name is unsafe or two members share a name.
  explicit ZipReader(const std::string& path);
  ZipReader(ZipReader&&) noexcept;
  ZipReader& operator=(ZipReader&&) noexcept;
  ~ZipReader();

  const std::string& path() const { return m_path; }
  const std::vector<ZipEntry>& entries() const { return m_entries; }
  // The member with exactly this name, or nullptr.
  const ZipEntry* find(std::string_view name) const;
  // The one non-directory member whose base name is `base` whatever its
  // folder, or nullptr; throws when several match.
  const ZipEntry* find_base_name(std::string_view base) const;

  // Checks `entry` against `limits`, then opens it for streaming.
  ZipMemberStream open(const ZipEntry& entry, const ZipLimits& limits) const;
  // Reads a whole member (same checks).
  std::string read(const ZipEntry& entry, const ZipLimits& limits) const;

private:
  struct Close {
    void operator()(zip* z) const;
  };
  std::string m_path;
  std::unique_ptr<zip, Close> m_zip;
  std::vector<ZipEntry> m_entries;
  std::map<std::string, std::size_t, std::less<>> m_index; // name -> m_entries index
};

// "libzip 1.7.3": the libzip this process runs with, and the version built
// against when that differs (for geoblock --version).
std::string libzip_version();

enum class Compression { Deflate, Store };

// Builds a new archive in memory and writes it on commit(). libzip writes
// a temporary file next to `path` and renames it over `path`, so readers
// see the old file or the complete new one; a writer destroyed without
// commit() leaves `path` untouched.
class ZipWriter {
public:
  explicit ZipWriter(const std::string& path);
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;
  ~ZipWriter();

  void add(const std::string& name, std::string data, std::int64_t mtime,
           Compression compression = Compression::Deflate);
  void commit();

private:
  std::string m_path;
  zip* m_zip;
  std::vector<std::unique_ptr<std::string>> m_data; // must outlive zip_close
};

} // namespace geoblock::source
