// Reading the JSON written by the reference script's `forward` (ref_electra.py) and by
// `electra forward`: nested arrays of numbers, compared with tensors element by element.
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace electra::testing {

// Nested arrays -> their shape and values in row-major order.
inline void flatten_json(const nlohmann::json& j, std::vector<double>* values,
                         std::vector<int64_t>* shape, size_t depth = 0) {
  if (!j.is_array()) {
    values->push_back(j.get<double>());
    return;
  }
  if (shape->size() == depth) shape->push_back(static_cast<int64_t>(j.size()));
  for (const auto& x : j)
    flatten_json(x, values, shape, depth + 1);
}

// [rows, cols] int64 tensor from nested integer arrays; undefined for null.
inline at::Tensor int_rows(const nlohmann::json& j) {
  if (j.is_null()) return at::Tensor();
  std::vector<double> v;
  std::vector<int64_t> shape;
  flatten_json(j, &v, &shape);
  return at::tensor(v, at::kDouble).to(at::kLong).view(shape);
}

// Max |t - j| over all elements; +inf when the shapes differ.
inline double max_abs_diff(const at::Tensor& t, const nlohmann::json& j) {
  std::vector<double> v;
  std::vector<int64_t> shape;
  flatten_json(j, &v, &shape);
  if (t.sizes().vec() != shape) return std::numeric_limits<double>::infinity();
  at::Tensor ref = at::tensor(v, at::kDouble).view(shape);
  return (t.detach().to(at::kDouble) - ref).abs().max().item<double>();
}

}  // namespace electra::testing
