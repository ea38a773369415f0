#include "core/error.hpp"
#include "support/temp_dir.hpp"
#include "util/atomic_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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

} // namespace
} // namespace geoblock::test
