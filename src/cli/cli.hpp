#pragma once

#include "cli/options.hpp"
#include "core/error.hpp"

namespace geoblock::cli {

// The whole program: parses the command line, runs the command, and is the
// one place that turns exceptions into "geoblock: error: ..." and an exit
// code.
int run(int argc, const char* const* argv);

// geoblock aggregate (no configuration).
ExitCode run_aggregate(const AggregateArgs& args);

// A command that works on the configured firewall, in `env` (tests: fakes)
// or on this host.
ExitCode run_configured(const Invocation& inv, flow::Environment& env);
ExitCode run_configured(const Invocation& inv);

} // namespace geoblock::cli
