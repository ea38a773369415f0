// Diagnostics on stderr, one line per event, in a form that journald and
// cron mail read well:
//   geoblock: error: ...      always shown
//   geoblock: warning: ...    hidden by --quiet
//   geoblock: ...             information, hidden by --quiet
//   geoblock: ...             details, shown with --verbose
#pragma once

#include <string>

namespace geoblock::log {

enum class Level { Quiet, Normal, Verbose };

void set_level(Level level);
Level level();

void error(const std::string& message);
void warning(const std::string& message);
void info(const std::string& message);
void verbose(const std::string& message);

} // namespace geoblock::log
