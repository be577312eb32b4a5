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
  at::Device device = at::kCPU;       // where the pair lives; batches are moved there
  int64_t grad_accum = 1;
  double clip_norm = 1.0;  // <= 0: no clipping
  // Off the CPU, in bf16/fp16, on one rank: all weights cast in one pass per micro-step
  // (model/param_cast.h) instead of one cast per product; also off with
  // ELECTRA_CUDA_CAST_ONCE=0.
  bool cast_weights_once = true;
  // On CUDA, on one rank: the generator on a side stream (pretrain/side_stream.h). -1: as
  // ELECTRA_CUDA_GEN_STREAM says (off unless "1"), 0: off, 1: on.
  int generator_stream = -1;
  double loss_scale = 1.0;  // fp16: the loss is multiplied by it, the gradients divided
};

// optimizer.* of the experiment as AdamW options.
AdamWOptions adamw_options(const PretrainConfig& pc);

// The generator of rank `rank`'s Gumbel noise (its own stream, derived from train.seed), on
// `device` (a CUDA generator there, so the noise is drawn beside the logits). No default
// device: a CPU generator on a GPU run fills the [masked, vocab] noise on the host every step.
at::Generator make_gumbel_generator(const PretrainConfig& pc, int rank, const at::Device& device);

// Moves both models of the pair to `device` and selects their kernels from the experiment
// (model.attention, model.fused_layer_norm), as the trainer and the bench both need them.
void place_pair(model::PretrainingPair& pair, const PretrainConfig& pc, const at::Device& device);

// The step wiring of an experiment (loss weights, temperature, accumulation, clipping from
// `pc`) around the caller's objects, which must outlive the returned parts.
StepParts make_step_parts(const PretrainConfig& pc, model::PretrainingPair& pair,
                          const std::vector<std::pair<std::string, at::Tensor>>& params,
                          dist::GradientReducer& reducer, at::Generator& gumbel,
                          at::ScalarType dtype, const at::Device& device);

// The batch's tensors on `device` (the same batch when it is already there). To a GPU they go
// through page-locked memory, so the copies are queued without waiting for the device.
data::Batch batch_to(const data::Batch& batch, const at::Device& device);

// Runs `grad_accum` micro-steps (next_batch(micro) gives each one's batch; observe sees each
// result; batches may be on the CPU), averages the gradients over micro-steps and ranks,
// unscales them (loss_scale), clips them, and returns the global gradient norm before clipping
// (unscaled): a [] fp32 tensor on the parameters' device. Nothing here waits for the device:
// reading the norm is the step's host synchronisation, and the caller chooses when (the trainer
// at once, to drop a non-finite update; `electra bench --overlap` never, skipping on the
// device with nonfinite_flag). The caller applies (or drops) the update.
at::Tensor forward_backward(
    const StepParts& parts, const std::function<const data::Batch&(int64_t micro)>& next_batch,
    const std::function<void(const RtdOutput&, const data::Batch&)>& observe);

// 1 where `norm` is not finite, else 0: a [] fp32 tensor on norm's device, computed there
// (AdamW::step's skip_if).
at::Tensor nonfinite_flag(const at::Tensor& norm);

}  // namespace electra::pretrain
