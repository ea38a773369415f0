#include "core/log.hpp"

#include <cstdio>
#include <string>

namespace geoblock::log {

namespace {

Level g_level = Level::Normal;

void
emit(const char* kind, const std::string& message)
{
  // Newlines inside a message would split one event into several journal
  // entries; fold them.
  std::string line = "geoblock: ";
  line += kind;
  for (char c : message) {
    line += c == '\n' ? ' ' : c;
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace

void
set_level(Level level)
{
  g_level = level;
}

Level
level()
{
  return g_level;
}

void
error(const std::string& message)
{
  emit("error: ", message);
}

void
warning(const std::string& message)
{
  if (g_level != Level::Quiet) {
    emit("warning: ", message);
  }
}

void
info(const std::string& message)
{
  if (g_level != Level::Quiet) {
    emit("", message);
  }
}

void
verbose(const std::string& message)
{
  if (g_level == Level::Verbose) {
    emit("", message);
  }
}

} // namespace geoblock::log
