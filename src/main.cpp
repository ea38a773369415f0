// All logic lives in the geoblock_core library, which the tests link too.
#include "cli/cli.hpp"

int main(int argc, char** argv)
{
  return geoblock::cli::run(argc, argv);
}
