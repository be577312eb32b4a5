#include "common/log.h"

#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace electra::log {
namespace {

struct State {
  std::mutex mu;
  std::string prefix;
  Level level = Level::kInfo;
  bool quiet = false;
  bool progress_open = false;  // a \r progress line is on screen and needs a newline
};

State& state() {
  static State s;
  return s;
}

const char* tag(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug: ";
    case Level::kWarn:
      return "warning: ";
    case Level::kError:
      return "error: ";
    default:
      return "";
  }
}

}  // namespace

void set_prefix(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(state().mu);
  state().prefix = prefix;
}

void set_level(Level level) {
  std::lock_guard<std::mutex> lock(state().mu);
  state().level = level;
}

void set_quiet(bool quiet) {
  std::lock_guard<std::mutex> lock(state().mu);
  state().quiet = quiet;
}

void write(Level level, const std::string& msg) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (level < s.level) return;
  if (s.quiet && level < Level::kWarn) return;
  if (s.progress_open) {
    std::fputc('\n', stderr);
    s.progress_open = false;
  }
  std::fprintf(stderr, "%s%s%s\n", s.prefix.c_str(), tag(level), msg.c_str());
  std::fflush(stderr);
}

void progress(const std::string& msg) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.quiet) return;
  if (isatty(fileno(stderr))) {
    std::fprintf(stderr, "\r\033[K%s%s", s.prefix.c_str(), msg.c_str());
    s.progress_open = true;
  } else {
    std::fprintf(stderr, "%s%s\n", s.prefix.c_str(), msg.c_str());
  }
  std::fflush(stderr);
}

}  // namespace electra::log
