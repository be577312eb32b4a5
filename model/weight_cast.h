// Low-precision copies of fp32 weights for products without a gradient (evaluation, inference,
// `electra bench --inference`). A bf16 forward rounds every weight to bf16 before its product;
// with a gradient that cast is part of the graph (its backward widens the gradient), but
// without one it is the same work on the same values every call: ~13.5M elements of
// ELECTRA-Small per forward. These keep the copy while the weight is unchanged.
#pragma once

#include <ATen/Tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace electra::model {

// `w` in `dt`: a copy made once per (weight, version, dtype), kept while the weight lives. The
// version counter moves with every in-place op (copy_, add_, ATen's fused optimizers); code
// that writes a weight through its raw data (our CPU AdamW kernel, a broadcast) bumps it
// itself, so a stale copy is never returned. Meant for calls without a gradient; with one, or
// for a tensor without a version counter (made in inference mode), it is w.to(dt).
at::Tensor cast_weight(const at::Tensor& w, at::ScalarType dt);

// cat(parts, 0) in `dt`, kept the same way (keyed by the parts): the joined Q/K/V projection.
at::Tensor joined_weight(const std::vector<at::Tensor>& parts, at::ScalarType dt);

// make() kept the same way for `w` under `tag` (the caller's name for what it derives, such as
// a packed layout: model/onednn_linear.cpp); called on a miss, or every time where the copy
// cannot be kept (with a gradient, or an inference-mode w).
at::Tensor derived_weight(const at::Tensor& w, const std::string& tag,
                          const std::function<at::Tensor()>& make);

// Cached copies alive, for tests.
size_t cached_weight_casts();

}  // namespace electra::model
