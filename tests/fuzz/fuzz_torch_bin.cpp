// Fuzzes the torch.save (.bin) loader (model/torch_bin.h): LibTorch's zip reader, then our
// restricted unpickler and the storage records. The file goes through a real path because the
// loader opens it by name, as `electra convert` and `init_from` do.
#include <ATen/ATen.h>

#include "model/torch_bin.h"
#include "tests/fuzz/fuzz_support.h"

ELECTRA_FUZZ_ENTRY {
  const std::string path = electra::fuzz::Scratch::get().write("pytorch_model.bin", bytes);
  const auto tensors = electra::model::read_torch_bin(path);
  for (const auto& [name, t] : tensors) {
    if (t.numel() > 0) (void)t.to(at::kDouble).sum().item<double>();
  }
}
