#include "common/error.h"

#include <cerrno>
#include <cstring>

namespace electra {

void throw_errno(const std::string& what, const char* file, int line) {
  const int err = errno;
  throw std::runtime_error(cat(what, ": ", std::strerror(err), " (", file, ":", line, ")"));
}

}  // namespace electra
