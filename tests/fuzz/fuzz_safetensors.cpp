// Fuzzes the safetensors reader (model/safetensors.h): the 8-byte header length, the JSON
// header (dtype, shape, data_offsets, __metadata__) and the data section. Every tensor that
// parses is read back in full, so a view past the buffer is an ASan report.
#include <ATen/ATen.h>

#include "model/safetensors.h"
#include "tests/fuzz/fuzz_support.h"

ELECTRA_FUZZ_ENTRY {
  const auto file = electra::model::parse_safetensors(std::string(bytes), "fuzz.safetensors");
  for (const auto& [name, t] : file.tensors) {
    if (t.numel() > 0) (void)t.to(at::kDouble).sum().item<double>();
  }
  // What parsed must serialize and parse back to the same names.
  const auto again = electra::model::parse_safetensors(
      electra::model::serialize_safetensors(file.tensors, file.metadata), "round trip");
  if (again.tensors.size() != file.tensors.size()) abort();
}
