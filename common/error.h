// Error types and check helpers shared by every library.
//
// Two kinds of failure, told apart by type so that main() can print them differently:
//  - UserError: bad input the user can fix (config, flags, files). The message already says
//    what was wrong, where, and what to do.
//  - std::runtime_error (and everything else): an internal or environmental failure.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace electra {

class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates anything streamable: cat("step ", 3, " of ", 10).
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

template <class... Args>
[[noreturn]] void throw_user(const Args&... args) {
  throw UserError(cat(args...));
}

// Failing system call: includes strerror(errno) and the call site.
[[noreturn]] void throw_errno(const std::string& what, const char* file, int line);

}  // namespace electra

// Input validation that survives release builds (never assert() for this).
#define ELECTRA_CHECK_USER(cond, ...)                \
  do {                                               \
    if (!(cond)) ::electra::throw_user(__VA_ARGS__); \
  } while (0)

// Internal invariant: a failure here is a bug in electra-cpp, reported with file:line.
#define ELECTRA_CHECK(cond, ...)                                                                   \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      throw std::runtime_error(::electra::cat("internal error at ", __FILE__, ":", __LINE__, ": ", \
                                              #cond, ": ", ##__VA_ARGS__));                        \
  } while (0)

#define ELECTRA_CHECK_ERRNO(ok, what)                              \
  do {                                                             \
    if (!(ok)) ::electra::throw_errno((what), __FILE__, __LINE__); \
  } while (0)
