// Moving named tensors in and out of modules with HF-style strictness: every missing or
// unexpected key is listed, and a shape mismatch names the tensor and both shapes.
#pragma once

#include <torch/nn/module.h>

#include <set>
#include <string>

#include "model/safetensors.h"

namespace electra::model {

// Parameters and buffers by their registered (HF) names, detached, sharing storage.
TensorMap state_dict(const torch::nn::Module& module);

struct LoadOptions {
  std::set<std::string> ignore;    // dropped silently if present (legacy buffers)
  std::set<std::string> optional;  // may be missing (keeps the module's current value)
};

// Copies `tensors` into the module's parameters (converted to their dtype). Throws UserError
// naming `origin` on missing/unexpected keys or shape mismatches, before modifying anything.
void load_state_dict(torch::nn::Module& module, const TensorMap& tensors, const std::string& origin,
                     const LoadOptions& options = {});

}  // namespace electra::model
