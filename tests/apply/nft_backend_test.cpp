// The nftables backend against the real kernel: every test runs in network
// namespaces of its own (real nf_tables, real packets) and never touches
// the host's firewall.
#include "apply/backend.hpp"
#include "apply/nft_backend.hpp"
#include "apply/nft_netlink.hpp"
#include "core/error.hpp"
#include "support/netns.hpp"

#include "apply_test_util.hpp"
#include <gtest/gtest.h>

using namespace geoblock;
using namespace geoblock::apply;
using namespace geoblock::test;

namespace {

std::string
nft_list(const std::vector<std::string>& what)
{
  std::vector<std::string> argv = {"nft", "list"};
  argv.insert(argv.end(), what.begin(), what.end());
  return run_checked(argv);
}

} // namespace

TEST(NftBackend, LoadsAndReadsBackBothFamilies)
{
  GEOBLOCK_REQUIRE_NETNS();
  in_fresh_netns([] {
    TempDir dir;
    const ApplyOptions o = options_in(dir);
    auto backend = make_nftables_backend();
    const net::NetList first =
        nets({"198.51.100.0/24", "203.0.113.0/25", "203.0.113.128/26", "2001:db8::/32"});
    const ApplyReport r = backend->apply(first, o);
    EXPECT_EQ(r.v4.entries, 3u);
    EXPECT_EQ(r.v6.entries, 1u);
    const LiveState live = backend->read(o, true);
    const SetState* v4 = live.state.set("geoblock-v4");
    ASSERT_NE(v4, nullptr);
    EXPECT_EQ(v4->members.v4, first.v4);
    EXPECT_TRUE(diff(desired_state(first, o), live.state).empty());
    const std::string text = nft_list({"table", "inet", "geoblock"});
    EXPECT_NE(text.find("198.51.100.0/24"), std::string::npos) << text;
    EXPECT_NE(text.find("hook prerouting priority raw"), std::string::npos) << text;
  });
}
