// The binary is built the way Debian's hardening=+all builds packages
// (GEOBLOCK_HARDEN in CMakeLists.txt): hardening-check (devscripts) finds
// PIE, the stack protector, fortified libc calls, full RELRO, BIND_NOW and
// stack clash probes in it. Its control-flow line wants the IBT/SHSTK
// property note on the linked binary, which the linker keeps only when
// every input has it, and Debian 12's own startup files (crt1.o, ...) lack
// it: no ordinarily linked binary passes that line. So it is skipped
// (--nocfprotection) and instead every geoblock source must be compiled
// with -fcf-protection, and its object file must carry the note.
#include "ops/ops_support.hpp"

#include "util/json.hpp"
#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace geoblock::test::ops {
namespace {

const std::string k_build = GEOBLOCK_BUILD_DIR;
const std::string k_sources = std::string(GEOBLOCK_SOURCE_DIR) + "/src/";

bool
hardened()
{
  const std::string v = cmake_cache("GEOBLOCK_HARDEN");
  return v != "OFF" && v != "0" && v != "FALSE" && v != "NO";
}

// The tests get the library's flags, so this file is fortified exactly when
// geoblock's sources are (not in Debug or sanitizer builds).
constexpr bool k_fortified =
#ifdef _FORTIFY_SOURCE
    true;
#else
    false;
#endif

TEST(Hardening, BinaryPassesHardeningCheck)
{
  if (!hardened()) {
    GTEST_SKIP() << "configured with GEOBLOCK_HARDEN=OFF";
  }
  if (!util::program_exists("hardening-check")) {
    GTEST_SKIP() << "hardening-check is not installed (Debian package devscripts)";
  }
  std::vector<std::string> argv = {"hardening-check", "--nocfprotection"};
  if (!k_fortified) {
    argv.push_back("--nofortify");
  }
  argv.push_back(GEOBLOCK_BINARY);
  const ProcResult r = run(argv);
  EXPECT_EQ(r.status, 0) << r.both();

  // Every check must say "yes"; only the ones skipped above may say
  // otherwise, and hardening-check marks those "(ignored)".
  std::set<std::string> yes;
  for (const std::string& line : lines_of(r.out)) {
    const auto colon = line.rfind(": ");
    if (line.empty() || line.rfind(" ", 0) != 0 || colon == std::string::npos) {
      continue; // the file name heading the report
    }
    const std::string name = trim(line.substr(0, colon));
    const std::string verdict = line.substr(colon + 2);
    const bool skipped =
        name == "Control flow integrity" || (name == "Fortify Source functions" && !k_fortified);
    if (skipped) {
      EXPECT_NE(verdict.find("(ignored)"), std::string::npos) << line;
    } else if (verdict.rfind("yes", 0) == 0) {
      yes.insert(name);
    } else {
      ADD_FAILURE() << "hardening-check: " << line;
    }
  }
  std::set<std::string> want = {"Position Independent Executable", "Stack protected", "Read-only relocations",
                                "Immediate binding", "Stack clash protection"};
  if (k_fortified) {
    want.insert("Fortify Source functions");
  }
  EXPECT_EQ(yes, want) << r.both();
}

TEST(Hardening, SourcesAreCompiledWithControlFlowProtection)
{
#if !defined(__x86_64__) && !defined(__i386__)
  GTEST_SKIP() << "-fcf-protection (Intel CET) exists on x86 only";
#endif
  if (!hardened()) {
    GTEST_SKIP() << "configured with GEOBLOCK_HARDEN=OFF";
  }
  const util::Json db =
      util::Json::parse(read_text(k_build + "/compile_commands.json"), "compile_commands.json");
  int checked = 0;
  for (const util::Json& entry : db.items()) {
    const std::string file = entry.get("file").as_string();
    if (file.rfind(k_sources, 0) != 0) {
      continue;
    }
    const std::vector<std::string> flags = words(entry.get("command").as_string());
    for (const char* flag : {"-fcf-protection", "-fstack-protector-strong", "-fstack-clash-protection"}) {
      EXPECT_NE(std::find(flags.begin(), flags.end(), flag), flags.end()) << file << " lacks " << flag;
    }
    // What the flag leaves in the object: the property note the linker
    // would need from every input to mark the binary.
    const auto o = std::find(flags.begin(), flags.end(), "-o");
    ASSERT_LT(o + 1, flags.end()) << file << ": no -o in its command";
    const std::string object = entry.get("directory").as_string() + "/" + *(o + 1);
    const ProcResult notes = run({"readelf", "--notes", object});
    EXPECT_EQ(notes.status, 0) << notes.both();
    EXPECT_NE(notes.out.find("x86 feature: IBT, SHSTK"), std::string::npos) << object << ":\n" << notes.out;
    ++checked;
  }
  // The library's sources and main.cpp at least.
  EXPECT_GT(checked, 10);
}

} // namespace
} // namespace geoblock::test::ops
