// A file replaced atomically: data goes to a temporary file created (mkstemp)
// in the target's directory, and commit() fsyncs it, renames it over the
// target and fsyncs the directory. Until commit() succeeds the target is
// untouched; the destructor of an uncommitted AtomicFile removes the
// temporary file, so a failure or exception never leaves torn data behind.
#pragma once

#include "util/unique_fd.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace geoblock::util {

class AtomicFile {
public:
  // Creates the temporary file; throws Error naming `path` on failure.
  // `mode` is applied to the final file.
  explicit AtomicFile(std::string path, unsigned mode = 0644);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Throws Error naming the file on a write error.
  void write(std::string_view data);

  // Makes the data the content of `path`. Throws Error naming the file, or
  // the directory when the rename cannot be made durable (sync_dir).
  // With DirSync::Deferred the directory is not fsynced: the caller does it
  // once (sync_dir) after several commits; until then a crash may bring
  // back the old file, never a torn one.
  enum class DirSync { Now, Deferred };
  void commit(DirSync dir_sync = DirSync::Now);

  const std::string& path() const { return m_path; }

  // The modification time (unix seconds) the file gets, set by commit()
  // after the last write and before the rename, so that no reader ever
  // sees the new content with another mtime (web servers derive ETag and
  // Last-Modified from it).
  void set_mtime(std::int64_t unix_seconds) { m_mtime = unix_seconds; }

private:
  std::string m_path;
  std::string m_tmp_path;
  UniqueFd m_fd; // the temporary file, until commit()
  unsigned m_mode;
  std::int64_t m_mtime = -1; // -1: the time of the writes
};

// Convenience: replaces `path` with `data` atomically.
void write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644,
                       AtomicFile::DirSync dir_sync = AtomicFile::DirSync::Now);

// Several files replaced in one step, for when one fsync per file would
// dominate the run (a cold cache of 500 zones: seconds instead of a fraction
// of one). add() writes each file's data to a temporary file in its target's
// directory; commit() makes them all durable with one syncfs(2), renames
// them in the order added, and fsyncs their directories. Until commit() no
// target changes; the destructor removes the temporaries of an uncommitted
// batch. A crash during the renames leaves each file old or new, never torn.
class AtomicBatch {
public:
  AtomicBatch() = default;
  ~AtomicBatch();
  AtomicBatch(const AtomicBatch&) = delete;
  AtomicBatch& operator=(const AtomicBatch&) = delete;

  // Throws Error naming `path` on failure. `mtime` (unix seconds, >= 0)
  // is the modification time the file gets (as AtomicFile::set_mtime).
  void add(const std::string& path, std::string_view data, unsigned mode = 0644, std::int64_t mtime = -1);
  // Throws Error naming the file or directory on failure (a directory
  // that cannot be synced too, as sync_dir).
  void commit();
  bool empty() const { return m_files.empty(); }

private:
  struct Pending {
    std::string tmp_path;
    std::string path;
  };
  std::vector<Pending> m_files;
};

// fsyncs a directory, making renames in it durable. Throws Error naming
// the directory when it cannot be opened or the sync fails (EIO, ENOSPC,
// ...): the renames have happened, their durability is not promised. A
// file system that cannot sync directories at all (EINVAL, EOPNOTSUPP,
// ENOSYS) is no error.
void sync_dir(const std::string& dir);

// Creates `dir` and its missing parents (like mkdir -p). Throws Error.
void make_dirs(const std::string& dir, unsigned mode = 0755);

} // namespace geoblock::util
