#pragma once

namespace geoblock::cli {

// The whole program: parses the command line, runs the command, and is the
// one place that turns exceptions into "geoblock: error: ..." and an exit
// code.
int run(int argc, const char* const* argv);

} // namespace geoblock::cli
