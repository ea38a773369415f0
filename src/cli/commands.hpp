// One function per command; each returns the process exit code.
#pragma once

#include "cli/options.hpp"
#include "core/error.hpp"

namespace geoblock::cli {

ExitCode run_aggregate(const AggregateArgs& args);

} // namespace geoblock::cli
