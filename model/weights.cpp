#include "model/weights.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <sstream>
#include <vector>

#include "common/error.h"

namespace electra::model {

TensorMap state_dict(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& p : module.named_parameters())
    out[p.key()] = p.value().detach();
  for (const auto& b : module.named_buffers())
    out[b.key()] = b.value().detach();
  return out;
}

namespace {

std::string list(const std::vector<std::string>& keys) {
  std::ostringstream os;
  const size_t shown = std::min<size_t>(keys.size(), 20);
  for (size_t i = 0; i < shown; ++i)
    os << (i ? ", " : "") << keys[i];
  if (keys.size() > shown) os << " ... (" << keys.size() - shown << " more)";
  return os.str();
}

}  // namespace

void load_state_dict(torch::nn::Module& module, const TensorMap& tensors, const std::string& origin,
                     const LoadOptions& options) {
  TensorMap target = state_dict(module);
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, t] : target)
    if (!tensors.count(name) && !options.optional.count(name)) missing.push_back(name);
  for (const auto& [name, t] : tensors) {
    if (options.ignore.count(name)) continue;
    auto it = target.find(name);
    if (it == target.end()) {
      unexpected.push_back(name);
    } else if (it->second.sizes() != t.sizes()) {
      std::ostringstream os;
      os << name << ": checkpoint " << t.sizes() << " vs model " << it->second.sizes();
      mismatched.push_back(os.str());
    }
  }
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::ostringstream os;
    os << origin << ": the weights do not match the model config.";
    if (!missing.empty()) os << "\n  missing keys (" << missing.size() << "): " << list(missing);
    if (!unexpected.empty())
      os << "\n  unexpected keys (" << unexpected.size() << "): " << list(unexpected);
    if (!mismatched.empty()) os << "\n  shape mismatches: " << list(mismatched);
    os << "\n  Check that config.json belongs to these weights.";
    throw UserError(os.str());
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, dst] : target) {
    auto it = tensors.find(name);
    if (it == tensors.end()) continue;
    dst.copy_(it->second.to(dst.scalar_type()));
  }
}

}  // namespace electra::model
