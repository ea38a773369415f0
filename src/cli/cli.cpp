#include "cli/cli.hpp"

#include "apply/ipset_session.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "fetch/curl_transport.hpp"
#include "flow/commands.hpp"
#include "source/gunzip.hpp"
#include "source/mmdb.hpp"
#include "source/zip_archive.hpp"
#include "util/digest.hpp"
#include "util/json.hpp"

#include <cstdio>
#include <exception>
#include <new>
#include <string>

#ifndef GEOBLOCK_VERSION
#define GEOBLOCK_VERSION "0"
#endif

namespace geoblock::cli {

namespace {

// geoblock's version, then one line per library. Each library is included
// by one module only, so each module reports its own.
std::string
version_text()
{
  std::string text = "geoblock " GEOBLOCK_VERSION "\n";
  for (const std::string& line :
       {fetch::libcurl_version(), source::libzip_version(), apply::libipset_version(),
        util::libcrypto_version(), boost_version(), util::json_library_version(),
        source::mmdb_library_version(), source::zlib_library_version()}) {
    text += line + "\n";
  }
  return text;
}

} // namespace

ExitCode
run_configured(const Invocation& inv, flow::Environment& env)
{
  return flow::run(request_of(inv), env);
}

ExitCode
run_configured(const Invocation& inv)
{
  return flow::run(request_of(inv));
}

int
run(int argc, const char* const* argv)
{
  try {
    const Invocation inv = parse_command_line(argc, argv);
    log::set_level(inv.quiet ? log::Level::Quiet : inv.verbose ? log::Level::Verbose : log::Level::Normal);
    switch (inv.command) {
    case Command::Help:
    case Command::Complete:
      std::fputs(inv.help_text.c_str(), stdout);
      return 0;
    case Command::Version:
      std::fputs(version_text().c_str(), stdout);
      return 0;
    case Command::Aggregate:
      return static_cast<int>(run_aggregate(inv.aggregate));
    case Command::Update:
    case Command::Status:
    case Command::Restore:
    case Command::Remove:
    case Command::Check:
    case Command::Export:
    case Command::Mirror:
    case Command::Stats:
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
