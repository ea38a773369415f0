// util::UniqueFd owns a descriptor alone: it cannot be copied (issue 19:
// privilege separation kept its descriptors in a copyable struct, so a
// copy closed them a second time, possibly a number reused meanwhile),
// closes once, and hands ownership on by move.
#include "core/error.hpp"
#include "util/unique_fd.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace geoblock;

namespace {

static_assert(!std::is_copy_constructible_v<util::UniqueFd>, "a copy would close the descriptor twice");
static_assert(!std::is_copy_assignable_v<util::UniqueFd>, "a copy would close the descriptor twice");
static_assert(std::is_nothrow_move_constructible_v<util::UniqueFd>);
static_assert(std::is_nothrow_move_assignable_v<util::UniqueFd>);
static_assert(!std::is_copy_constructible_v<util::Pipe>);

bool
is_open(int fd)
{
  return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

int
open_null()
{
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

TEST(UniqueFd, ClosesWhatItOwnsOnceAndMovesOwnership)
{
  int number = -1;
  {
    util::UniqueFd a(open_null());
    ASSERT_TRUE(a.valid());
    number = a.get();
    util::UniqueFd b(std::move(a));
    EXPECT_FALSE(a.valid()); // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(b.get(), number);
    std::vector<util::UniqueFd> held;
    held.push_back(std::move(b)); // a vector that grows moves, never copies
    for (int i = 0; i < 32; ++i) {
      held.emplace_back(open_null());
    }
    EXPECT_EQ(held.front().get(), number);
    EXPECT_TRUE(is_open(number));
  }
  EXPECT_FALSE(is_open(number));
}

TEST(UniqueFd, MoveAssignmentClosesTheOldOneAndResetTakesANewOne)
{
  util::UniqueFd a(open_null());
  util::UniqueFd b(open_null());
  const int old = a.get();
  const int kept = b.get();
  a = std::move(b);
  EXPECT_FALSE(is_open(old));
  EXPECT_EQ(a.get(), kept);
  // A number reused after the close belongs to its new owner alone.
  util::UniqueFd reused(open_null());
  a.reset(open_null());
  EXPECT_FALSE(is_open(kept) && kept != reused.get() && kept != a.get());
  EXPECT_TRUE(is_open(reused.get()));
}

TEST(UniqueFd, ReleaseGivesUpOwnershipAndCloseReportsTheResult)
{
  util::UniqueFd a(open_null());
  const int fd = a.release();
  EXPECT_FALSE(a.valid());
  EXPECT_TRUE(is_open(fd));
  ::close(fd);

  util::UniqueFd b(open_null());
  const int number = b.get();
  EXPECT_EQ(b.close(), 0);
  EXPECT_FALSE(b.valid());
  EXPECT_FALSE(is_open(number));
  EXPECT_EQ(b.close(), 0); // nothing left to close
}

TEST(UniqueFd, PipeAndMemoryFile)
{
  util::Pipe p = util::make_pipe();
  ASSERT_TRUE(p.read.valid() && p.write.valid());
  EXPECT_EQ(::fcntl(p.read.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ASSERT_TRUE(util::write_all(p.write.get(), "hello"));
  p.write.reset();
  char buf[16];
  EXPECT_EQ(::read(p.read.get(), buf, sizeof buf), 5);

  const util::UniqueFd mem = util::memory_file("abc", "geoblock-test", "cannot hold it");
  const std::string path = util::fd_path(mem.get());
  EXPECT_EQ(path, "/proc/self/fd/" + std::to_string(mem.get()));
  const util::UniqueFd again(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(again.valid());
  EXPECT_EQ(::pread(again.get(), buf, sizeof buf, 0), 3);
}

} // namespace
