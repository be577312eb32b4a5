// safetensors: an 8-byte little-endian header length N, N bytes of JSON header
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the
// raw little-endian tensor bytes. Our default weight format: loading it never runs code.
#pragma once

#include <ATen/Tensor.h>

#include <map>
#include <string>

namespace electra::model {

using TensorMap = std::map<std::string, at::Tensor>;  // sorted by name, as HF writes them

struct SafetensorsFile {
  TensorMap tensors;
  std::map<std::string, std::string> metadata;
};

// Parses a whole file held in memory. Every offset and size is checked against the buffer
// before anything is allocated; `origin` names the file in errors (UserError).
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& origin);
SafetensorsFile read_safetensors(const std::string& path);

std::string serialize_safetensors(const TensorMap& tensors,
                                  const std::map<std::string, std::string>& metadata = {});
// Writes atomically (temporary file + rename).
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace electra::model
