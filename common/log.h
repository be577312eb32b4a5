// Rank-prefixed logging to stderr. The prefix is set once at start-up by the launcher
// (it is the process identity, not state any logic depends on).
#pragma once

#include <string>

#include "common/error.h"

namespace electra::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_prefix(const std::string& prefix);  // e.g. "[rank 1/8] "
void set_level(Level level);
// Only rank 0 prints info lines when quiet_non_zero is set (warnings/errors always print).
void set_quiet(bool quiet);
void write(Level level, const std::string& msg);
// A progress line that overwrites itself on a terminal, and is a plain line otherwise.
void progress(const std::string& msg);

template <class... Args>
void info(const Args&... args) {
  write(Level::kInfo, cat(args...));
}
template <class... Args>
void warn(const Args&... args) {
  write(Level::kWarn, cat(args...));
}
template <class... Args>
void error(const Args&... args) {
  write(Level::kError, cat(args...));
}
template <class... Args>
void debug(const Args&... args) {
  write(Level::kDebug, cat(args...));
}

}  // namespace electra::log
