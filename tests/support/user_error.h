// The message of the UserError a call throws ("no error" when it throws none), for tests that
// check what an error says.
#pragma once

#include <functional>
#include <string>

#include "common/error.h"

namespace electra::testing {

inline std::string user_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace electra::testing
