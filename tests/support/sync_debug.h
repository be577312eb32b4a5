// For the GPU tests that a piece of work never waits for the device (tests/gpu): LibTorch's sync
// debug mode set to "error" turns every synchronising call it knows of (a value read to the host,
// a stream or device synchronisation) into an exception. Only in builds with ELECTRA_WITH_CUDA.
#pragma once

#include <c10/cuda/CUDAFunctions.h>

#include <exception>
#include <functional>
#include <string>

namespace electra::testing {

// fn() under the sync debug mode: the message of the error a synchronising call in it raised,
// or "" if none did. The mode is off again afterwards either way.
inline std::string sync_error_of(const std::function<void()>& fn) {
  auto& warnings = c10::cuda::warning_state();
  warnings.set_sync_debug_mode(c10::cuda::SyncDebugMode::L_ERROR);
  std::string error;
  try {
    fn();
  } catch (const std::exception& e) {
    error = e.what();
  }
  warnings.set_sync_debug_mode(c10::cuda::SyncDebugMode::L_DISABLED);
  return error;
}

}  // namespace electra::testing
