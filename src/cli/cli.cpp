#include "cli/cli.hpp"

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

#include <cstdio>
#include <exception>
#include <new>

#ifndef GEOBLOCK_VERSION
#define GEOBLOCK_VERSION "0"
#endif

namespace geoblock::cli {

int run(int argc, const char* const* argv)
{
  try {
    const Invocation inv = parse_command_line(argc, argv);
    log::set_level(inv.quiet ? log::Level::Quiet : inv.verbose ? log::Level::Verbose : log::Level::Normal);
    switch (inv.command) {
    case Command::Help:
      std::fputs(inv.help_text.c_str(), stdout);
      return 0;
    case Command::Version:
      std::puts("geoblock " GEOBLOCK_VERSION);
      return 0;
    case Command::Aggregate:
      return static_cast<int>(run_aggregate(inv.aggregate));
    case Command::Update:
    case Command::Status:
    case Command::Restore:
    case Command::Remove:
    case Command::Check:
    case Command::Export:
      return static_cast<int>(run_configured(inv));
    }
    return 0;
  } catch (const Error& e) {
    log::error(e.what());
    return static_cast<int>(e.code());
  } catch (const std::bad_alloc&) {
    log::error("out of memory");
    return static_cast<int>(ExitCode::Runtime);
  } catch (const std::exception& e) {
    log::error(e.what());
    return static_cast<int>(ExitCode::Runtime);
  }
}

} // namespace geoblock::cli
