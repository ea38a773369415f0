// The layering declared in CMakeLists.txt (geoblock_module) is enforced by
// the compiler: a module's files are compiled with an include root per
// module they may see, and src/ is never one of them. These tests keep that
// mechanism honest. They take the include directories each module's files
// are really compiled with (compile_commands.json) and the declared graph
// (modules.txt, written by CMakeLists.txt from the same declarations), and
// check that from module M every header of module X preprocesses exactly
// when X is M or a module M declares: nothing undeclared is reachable, and
// every declared module's headers are complete with what M declares.
#include "ops/ops_support.hpp"

#include "util/json.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace geoblock::test::ops {
namespace {

const std::string k_build = GEOBLOCK_BUILD_DIR;
const std::string k_sources = std::string(GEOBLOCK_SOURCE_DIR) + "/src/";

// module -> the modules it declares, from "module: dep dep ..." lines.
std::map<std::string, std::set<std::string>>
declared_graph()
{
  std::map<std::string, std::set<std::string>> graph;
  for (const std::string& line : lines_of(read_text(k_build + "/modules.txt"))) {
    const auto colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == std::string::npos) {
      continue;
    }
    auto& deps = graph[trim(line.substr(0, colon))];
    for (const std::string& dep : words(line.substr(colon + 1))) {
      deps.insert(dep);
    }
  }
  return graph;
}

// How a module's files are compiled, as far as finding headers goes.
struct Compile {
  std::string compiler;
  std::vector<std::string> include_flags;
};

// module -> its compiler and include flags; every file of a module must be
// compiled with the same ones.
std::map<std::string, Compile>
module_compiles()
{
  const util::Json db =
      util::Json::parse(read_text(k_build + "/compile_commands.json"), "compile_commands.json");
  std::map<std::string, Compile> compiles;
  for (const util::Json& entry : db.items()) {
    const std::string file = entry.get("file").as_string();
    if (file.rfind(k_sources, 0) != 0 || file.find('/', k_sources.size()) == std::string::npos) {
      continue; // not in a module folder (src/main.cpp)
    }
    const std::string module =
        file.substr(k_sources.size(), file.find('/', k_sources.size()) - k_sources.size());
    const std::vector<std::string> argv = words(entry.get("command").as_string());
    Compile c{argv.at(0), {}};
    for (std::size_t i = 1; i < argv.size(); ++i) {
      const std::string& a = argv[i];
      if ((a == "-I" || a == "-isystem" || a == "-iquote" || a == "-idirafter") && i + 1 < argv.size()) {
        c.include_flags.push_back(a);
        c.include_flags.push_back(argv[++i]);
      } else if (a.rfind("-I", 0) == 0 || a.rfind("-isystem", 0) == 0 || a.rfind("-iquote", 0) == 0) {
        c.include_flags.push_back(a);
      }
    }
    const auto [it, inserted] = compiles.emplace(module, c);
    EXPECT_TRUE(inserted || it->second.include_flags == c.include_flags)
        << file << " is compiled with other include directories than the rest of src/" << module;
  }
  return compiles;
}

std::vector<std::string>
headers_of(const std::string& module)
{
  std::vector<std::string> headers;
  for (const auto& e : std::filesystem::directory_iterator(k_sources + module)) {
    if (e.path().extension() == ".hpp") {
      headers.push_back(module + "/" + e.path().filename().string());
    }
  }
  std::sort(headers.begin(), headers.end());
  return headers;
}

TEST(Layering, EverySourceFolderIsADeclaredModule)
{
  std::set<std::string> folders;
  for (const auto& e : std::filesystem::directory_iterator(k_sources)) {
    if (e.is_directory()) {
      folders.insert(e.path().filename().string());
    }
  }
  std::set<std::string> modules;
  for (const auto& [module, deps] : declared_graph()) {
    modules.insert(module);
  }
  EXPECT_EQ(folders, modules) << "each folder of src/ is declared with geoblock_module() in CMakeLists.txt";
}

TEST(Layering, EveryModuleSeesExactlyTheModulesItDeclares)
{
  const auto graph = declared_graph();
  const auto compiles = module_compiles();
  ASSERT_GE(graph.size(), 7u);
  TempDir dir;
  for (const auto& [module, deps] : graph) {
    const auto c = compiles.find(module);
    ASSERT_NE(c, compiles.end()) << "no file of src/" << module << " in compile_commands.json";
    for (const auto& [other, other_deps] : graph) {
      const std::vector<std::string> headers = headers_of(other);
      ASSERT_FALSE(headers.empty()) << "src/" << other << " has no header";
      std::string probe;
      for (const std::string& h : headers) {
        probe += "#include \"" + h + "\"\n";
      }
      const std::string source = dir.write(module + "-includes-" + other + ".cpp", probe);
      std::vector<std::string> argv = {c->second.compiler, "-std=c++20", "-E", "-o", "/dev/null"};
      argv.insert(argv.end(), c->second.include_flags.begin(), c->second.include_flags.end());
      argv.push_back(source);
      const ProcResult r = run(argv);
      const bool allowed = other == module || deps.count(other) > 0;
      if (allowed) {
        EXPECT_EQ(r.status, 0) << "src/" << module << " declares " << other << ", but " << other
                               << "'s headers do not preprocess there:\n"
                               << r.err;
      } else {
        // Refused for the right reason: a header of `other` not found
        // (GCC: "No such file or directory", clang: "file not found").
        const bool not_found =
            r.err.find(other + "/") != std::string::npos &&
            (r.err.find("No such file") != std::string::npos || r.err.find("not found") != std::string::npos);
        EXPECT_TRUE(r.status != 0 && not_found)
            << "src/" << module << " can include " << other << "'s headers (" << headers.front()
            << ") without declaring " << other << " in CMakeLists.txt:\n"
            << r.err;
      }
    }
  }
}

} // namespace
} // namespace geoblock::test::ops
