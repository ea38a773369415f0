#include "core/error.hpp"
#include "support/temp_dir.hpp"
#include "util/atomic_file.hpp"

#include "support/fail_syscalls.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace geoblock::test {
namespace {

std::string
slurp(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t
entries(const std::string& dir)
{
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) {
    ++n;
  }
  return n;
}

TEST(AtomicFile, CommitReplacesTheFileWithTheNewContent)
{
  TempDir dir;
  const std::string path = dir.write("zone", "old\n");
  util::AtomicFile f(path);
  f.write("new ");
  f.write("data\n");
  EXPECT_EQ(slurp(path), "old\n"); // untouched until commit
  f.commit();
  EXPECT_EQ(slurp(path), "new data\n");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFile, AnUncommittedFileNeverReplacesTheOldOne)
{
  TempDir dir;
  const std::string path = dir.write("zone", "last good\n");
  try {
    util::AtomicFile f(path);
    f.write("half a zo");
    throw std::runtime_error("download cut");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(slurp(path), "last good\n");
  EXPECT_EQ(entries(dir.path()), 1u) << "temporary file left behind";
}

TEST(AtomicFile, CreatesNewFilesAndDirectoriesAndNamesTheFileOnError)
{
  TempDir dir;
  util::make_dirs(dir / "a/b/c");
  util::write_file_atomic(dir / "a/b/c/new", "x");
  EXPECT_EQ(slurp(dir / "a/b/c/new"), "x");
  try {
    util::AtomicFile f(dir / "missing/dir/file");
    FAIL() << "created a file in a missing directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "missing/dir/file"), std::string::npos) << e.what();
  }
}

} // namespace
} // namespace geoblock::test

namespace geoblock::test {
namespace {

TEST(AtomicBatch, CommitReplacesEveryFileAndLeavesNoTemporaries)
{
  TempDir dir;
  util::make_dirs(dir / "v4");
  util::make_dirs(dir / "v6");
  dir.write("v4/cn.zone", "old\n");
  util::AtomicBatch batch;
  batch.add(dir / "v4/cn.zone", "new v4\n");
  batch.add(dir / "v6/cn.zone", "new v6\n");
  EXPECT_EQ(slurp(dir / "v4/cn.zone"), "old\n"); // nothing changes before commit
  EXPECT_FALSE(std::filesystem::exists(dir / "v6/cn.zone"));
  batch.commit();
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(slurp(dir / "v4/cn.zone"), "new v4\n");
  EXPECT_EQ(slurp(dir / "v6/cn.zone"), "new v6\n");
  EXPECT_EQ(entries(dir / "v4"), 1u);
  EXPECT_EQ(entries(dir / "v6"), 1u);
}

TEST(AtomicBatch, AnUncommittedBatchChangesNothing)
{
  TempDir dir;
  dir.write("cn.zone", "last good\n");
  {
    util::AtomicBatch batch;
    batch.add(dir / "cn.zone", "half");
    batch.add(dir / "us.zone", "new");
  }
  EXPECT_EQ(slurp(dir / "cn.zone"), "last good\n");
  EXPECT_EQ(entries(dir.path()), 1u) << "temporary files left behind";
  util::AtomicBatch batch;
  EXPECT_THROW(batch.add(dir / "missing/cn.zone", "x"), Error);
}

// What `body` says (its exception's text, or "ok") when run in a forked
// child in which every fsync(2) fails with `err`, as a disk that fails, or
// a file system that cannot sync directories, makes it fail. The batch
// syncs its data with syncfs(2), so there only the directories' fsync
// fails.
std::string
with_fsync_failing(int err, const std::function<void()>& body)
{
  int p[2];
  if (::pipe(p) != 0) {
    return "pipe failed";
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    std::string said = "ok";
    if (!test::fail_syscalls({SYS_fsync}, err)) {
      said = std::string("no seccomp filter: ") + std::strerror(errno);
    } else {
      try {
        body();
      } catch (const std::exception& e) {
        said = e.what();
      }
    }
    [[maybe_unused]] const ssize_t n = ::write(p[1], said.data(), said.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string said;
  char buf[512];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) {
    said.append(buf, static_cast<std::size_t>(n));
  }
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? said : "child died";
}

// The durability promise: a rename that cannot be made durable (the
// directory's fsync fails) is an error naming the directory, not silence.
TEST(SyncDir, AFailingDirectorySyncIsAnErrorNamingTheDirectory)
{
  TempDir dir;
  std::filesystem::create_directories(dir / "v4");
  const std::string v4 = dir / "v4";
  EXPECT_EQ(with_fsync_failing(EIO, [&] { util::sync_dir(v4); }),
            v4 + ": cannot sync directory: " + std::strerror(EIO));
  EXPECT_EQ(with_fsync_failing(ENOSPC,
                               [&] {
                                 util::AtomicBatch batch;
                                 batch.add(v4 + "/cn.zone", "new\n");
                                 batch.commit();
                               }),
            v4 + ": cannot sync directory: " + std::strerror(ENOSPC));
  EXPECT_EQ(slurp(v4 + "/cn.zone"), "new\n") << "renamed, only its durability is in doubt";
  EXPECT_THROW(util::sync_dir(dir / "missing"), Error);
}

TEST(SyncDir, AFileSystemThatCannotSyncDirectoriesIsNoError)
{
  TempDir dir;
  EXPECT_EQ(with_fsync_failing(EINVAL, [&] { util::sync_dir(dir.path()); }), "ok");
  EXPECT_EQ(with_fsync_failing(EINVAL,
                               [&] {
                                 util::AtomicBatch batch;
                                 batch.add(dir / "cn.zone", "new\n");
                                 batch.commit();
                               }),
            "ok");
  EXPECT_EQ(slurp(dir / "cn.zone"), "new\n");
  util::sync_dir(dir.path()); // and a real one, where it works
}

} // namespace
} // namespace geoblock::test
