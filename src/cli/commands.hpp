// One function per command; each returns the process exit code.
#pragma once

#include "cli/options.hpp"
#include "core/error.hpp"

namespace geoblock::cli {

ExitCode run_aggregate(const AggregateArgs& args);

// update, status, restore, remove, check, export: the commands that work on
// the configured countries and firewall.
ExitCode run_configured(const Invocation& inv);

} // namespace geoblock::cli
