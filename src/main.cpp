// All logic lives in the module libraries (src/<module>, one static library
// each, see CMakeLists.txt); the tests link them too.
#include "cli/cli.hpp"

int
main(int argc, char** argv)
{
  return geoblock::cli::run(argc, argv);
}
