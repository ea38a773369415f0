// geoblock beside a real ufw (Debian 12: 0.36.2) in the test's namespaces
// (coexist/sandbox.hpp, copies of /etc/ufw and /etc/default/ufw): on both
// backends the block holds across ufw enable, reload, disable and enable
// again (docs/operations.md, "ufw").
#include "coexist/scene.hpp"

#include <gtest/gtest.h>

namespace geoblock::test {
namespace {

bool
contains(const std::string& text, const std::string& part)
{
  return text.find(part) != std::string::npos;
}

class UfwBeside : public ::testing::TestWithParam<std::string> {};

TEST_P(UfwBeside, TheBlockHoldsAcrossEnableReloadAndDisable)
{
  GEOBLOCK_REQUIRE_MANAGER("ufw", "nsenter");
  in_fresh_netns([] {
    const std::string backend = GetParam();
    SandboxSpec spec;
    spec.copies = {"/etc/ufw", "/etc/default/ufw"};
    Scene s(spec);
    auto ufw = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "ufw");
      return s.sandbox->run_checked(args);
    };
    ufw({"allow", "80/tcp"}); // the web server; everything else incoming is denied

    // geoblock first, as at boot (geoblock-restore.service is ordered
    // before ufw.service).
    const util::RunResult up = s.geoblock("update", backend);
    ASSERT_EQ(up.exit_code, 0) << up.err;
    EXPECT_TRUE(s.holds());
    auto in_sync = [&](const std::string& after) {
      const util::RunResult st = s.geoblock("status", backend);
      EXPECT_EQ(st.exit_code, 0) << "after " << after << ":\n" << st.out << st.err;
      return st.out;
    };

    s.through("ufw enable", [&] { ufw({"--force", "enable"}); });
    EXPECT_TRUE(
        contains(in_sync("ufw enable"), "  ufw: enabled: its chains ufw-* hold rules; block protected: "));
    s.through("ufw reload", [&] { ufw({"reload"}); });
    in_sync("ufw reload");
    s.through("ufw disable", [&] { ufw({"disable"}); });
    EXPECT_TRUE(contains(in_sync("ufw disable"), "firewall managers: none seen"));
    s.through("ufw enable (again)", [&] { ufw({"--force", "enable"}); });
    in_sync("ufw enable (again)");
    // An update with ufw's rules in place changes nothing of ufw's.
    const std::string before = s.sandbox->run_checked({"ufw", "status", "verbose"});
    EXPECT_EQ(s.geoblock("update", backend).exit_code, 0);
    EXPECT_EQ(s.sandbox->run_checked({"ufw", "status", "verbose"}), before);
    EXPECT_TRUE(s.holds());
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, UfwBeside, ::testing::Values("iptables", "nftables"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

} // namespace
} // namespace geoblock::test
