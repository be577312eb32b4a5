// One optimizer step's forward and backward passes of RTD pretraining. The trainer and
// `electra bench` both call this, so the benchmark times exactly the code that trains.
#pragma once

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "data/batch.h"
#include "distributed/gradient_reducer.h"
#include "model/electra.h"
#include "pretrain/optimizer.h"
#include "pretrain/pretrain_config.h"
#include "pretrain/rtd.h"

namespace electra::pretrain {

struct StepParts {
  model::PretrainingPair* pair = nullptr;
  const std::vector<std::pair<std::string, at::Tensor>>* params = nullptr;
  dist::GradientReducer* reducer = nullptr;
  at::Generator* gumbel = nullptr;
  RtdOptions rtd;
  at::ScalarType dtype = at::kFloat;  // compute dtype of the encoders' matmuls
  int64_t grad_accum = 1;
  double clip_norm = 1.0;  // <= 0: no clipping
};

// optimizer.* of the experiment as AdamW options.
AdamWOptions adamw_options(const PretrainConfig& pc);

// The generator of rank `rank`'s Gumbel noise (its own stream, derived from train.seed).
at::Generator make_gumbel_generator(const PretrainConfig& pc, int rank);

// Runs `grad_accum` micro-steps (next_batch(micro) gives each one's batch; observe sees each
// result), averages the gradients over micro-steps and ranks, clips them, and returns the
// global gradient norm before clipping. The caller applies (or, when the norm is not finite,
// drops) the update.
double forward_backward(const StepParts& parts,
                        const std::function<const data::Batch&(int64_t micro)>& next_batch,
                        const std::function<void(const RtdOutput&, const data::Batch&)>& observe);

}  // namespace electra::pretrain
