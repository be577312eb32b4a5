// The on/off switches that environment variables give our optional fast paths for A/B runs
// (ELECTRA_ONEDNN_LINEAR, ELECTRA_CUDA_BIAS_GRAD, ...): on unless the variable is "0"; and the
// opt-in switches of paths not yet measured (ELECTRA_CUDA_GEN_STREAM): off unless it is "1".
#pragma once

#include <cstdlib>
#include <cstring>

namespace electra {

// Whether the switch `name` is on: unset, or set to anything but "0". Callers read it once
// (a function-local static), so that a process does not change paths midway.
inline bool env_switch_on(const char* name) {
  const char* v = std::getenv(name);
  return !(v && std::strcmp(v, "0") == 0);
}

// Whether the opt-in switch `name` is on: set to "1". Read once, as env_switch_on.
inline bool env_switch_opted_in(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "1") == 0;
}

}  // namespace electra
