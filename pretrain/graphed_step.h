// forward_backward as a CUDA graph (train.cuda_graphs). On a GPU the host takes about as long to
// queue a step's ~10,000 operators as the device takes to run them (README, "GPU"), so the
// host paces training. A captured graph is queued with one call. The step must then have the
// same shapes every time, and no step may look at its data on the host:
// - the masked positions are padded to a fixed capacity with fillers (data::Batch's
//   filler_targets) that the losses and labels ignore;
// - when the captured batch has padding, the attention mask is applied without looking at it
//   (fixed_mask), so every later batch replays; when it has none, the graph runs the unmasked
//   attention, and a later batch with padding runs eagerly;
// - a batch of another size runs eagerly.
//
// The graph replays exactly the eager step: its inputs are copied into the captured buffers,
// the fused LayerNorm's dropout seeds are drawn from the CPU generator before each replay in
// the eager order (model/seed_slots.h), and the CUDA generators (dropout, the Gumbel noise)
// advance as they would eagerly. One difference: with fillers, the Gumbel noise is drawn for
// the capacity rather than the batch's count, so such a batch samples other (equally
// distributed) replacements than the eager step would.
#pragma once

#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "data/batch.h"
#include "pretrain/step.h"

namespace electra::pretrain {

// Why train.cuda_graphs cannot apply to a run with these settings, or "" when it can.
std::string cuda_graphs_unsupported(const at::Device& device, int world_size, int64_t grad_accum,
                                    bool fp16);

class GraphedStep {
 public:
  // `parts` must outlive this. With enabled false every step is forward_backward's; with it
  // true the settings must be ones cuda_graphs_unsupported accepts (a user error otherwise).
  // masked_capacity: the most masked positions a batch can have (masked_capacity()).
  GraphedStep(const StepParts& parts, bool enabled, int world_size, int64_t masked_capacity);
  ~GraphedStep();
  GraphedStep(const GraphedStep&) = delete;
  GraphedStep& operator=(const GraphedStep&) = delete;

  // forward_backward(parts, next_batch, observe). On the graph's path the parameters must have
  // no gradients on entry (the caller's zero_grad), and the gradients, the returned norm and the
  // outputs `observe` sees are the replay's (copies of the outputs and the norm, so they stay
  // valid after the next replay; the gradients are the graph's own buffers until zero_grad).
  at::Tensor run(const std::function<const data::Batch&(int64_t micro)>& next_batch,
                 const std::function<void(const RtdOutput&, const data::Batch&)>& observe);

  int64_t replays() const { return replays_; }    // steps run as a replay (the first included)
  int64_t eager_steps() const { return eager_; }  // the others (all of them when not enabled)

  // The most masked positions of a batch of `batch` sequences of `seq` tokens.
  static int64_t masked_capacity(int64_t batch, int64_t seq, double mask_prob);

 private:
  struct Graph;  // the captured graph and its buffers (CUDA builds only)
  const StepParts& parts_;
  bool enabled_;
  int64_t capacity_;
  int64_t warm_ = 0;  // eager steps run on the capture stream before capturing
  int64_t replays_ = 0, eager_ = 0;
  std::unique_ptr<Graph> graph_;
};

}  // namespace electra::pretrain
