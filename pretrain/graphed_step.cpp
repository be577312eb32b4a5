#include "pretrain/graphed_step.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include <utility>
#include <vector>

#include "common/error.h"

// at::cuda::CUDAGraph::register_generator_state (a generator other than the default one, here
// the Gumbel noise's) came with LibTorch 2.4.
#if defined(ELECTRA_WITH_CUDA) && \
    (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))
#define ELECTRA_HAS_CUDA_GRAPHS 1
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "model/seed_slots.h"
#include "pretrain/side_stream.h"  // follow_stream
#else
#define ELECTRA_HAS_CUDA_GRAPHS 0
#endif

namespace electra::pretrain {

// The end of the user error for settings that cannot take a graph.
constexpr const char* kGraphsOff = ". Set train.cuda_graphs=false to run this experiment";

int64_t GraphedStep::masked_capacity(int64_t batch, int64_t seq, double mask_prob) {
  // num_to_mask grows with the candidates, which are at most the sequence's tokens.
  return batch * data::num_to_mask(seq, seq, mask_prob);
}

std::string cuda_graphs_unsupported(const at::Device& device, int world_size, int64_t grad_accum,
                                    bool fp16) {
  if (!device.is_cuda()) return "CUDA graphs need train.device=cuda";
  if (!ELECTRA_HAS_CUDA_GRAPHS)
    return "this electra was built without CUDA graphs (they need a CUDA build of LibTorch 2.4 "
           "or later)";
  if (world_size != 1)
    return "CUDA graphs are used with one rank only so far (the all-reduce overlaps the "
           "backward pass outside any graph)";
  if (grad_accum != 1) return "CUDA graphs need train.grad_accum=1";
  if (fp16) return "CUDA graphs need train.precision bf16 or fp32 (fp16's loss scale changes)";
  return "";
}

#if ELECTRA_HAS_CUDA_GRAPHS

struct GraphedStep::Graph {
  at::cuda::CUDAGraph graph;
  c10::cuda::CUDAStream stream;  // warm-up and capture run here, never on the default stream
  model::SeedSlots seeds;
  data::Batch inputs;             // the captured input buffers, on the device
  bool with_mask = false;         // captured with padding: the mask is always applied
  std::vector<at::Tensor> grads;  // the parameters' gradients the graph writes
  RtdOutput out;                  // detached outputs the graph writes
  at::Tensor norm;                // [] fp32, the gradient norm the graph writes
  bool captured = false;

  Graph(const at::Device& device)
      : stream(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index())),
        seeds(device, /*capacity=*/4096) {}
};

namespace {

// Whether `b` has the shapes of `ref`, field by field.
bool same_shapes(const data::Batch& b, const data::Batch& ref) {
  const auto x = b.tensors(), y = ref.tensors();
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i]->defined() != y[i]->defined()) return false;
    if (x[i]->defined() && x[i]->sizes() != y[i]->sizes()) return false;
  }
  return true;
}

bool padded(const data::Batch& b) {
  return b.real_tokens != b.input_ids.numel();
}

// A batch without masked positions takes another branch; more than the capacity cannot be.
bool capturable(const data::Batch& b, int64_t capacity) {
  return b.input_ids.defined() && b.masked_index.defined() && b.masked_index.numel() > 0 &&
         b.masked_index.numel() <= capacity;
}

// `b` with its masked positions padded to `capacity` by fillers (index 0, a [CLS]; label -100).
// A filler writes back the token at index 0, so that index must not be a real target: the
// masking never picks [CLS].
data::Batch with_fillers(const data::Batch& b, int64_t capacity) {
  data::Batch out = b;
  out.filler_targets = true;
  const int64_t n = capacity - b.masked_index.numel();
  if (n == 0) return out;
  if (b.masked_index.is_cpu())
    ELECTRA_CHECK(b.masked_index.min().item<int64_t>() > 0,
                  "GraphedStep: position 0 is a masked target; fillers would overwrite it");
  const auto opts = b.masked_index.options();
  out.masked_index = at::cat({b.masked_index, at::zeros({n}, opts)});
  out.masked_labels = at::cat({b.masked_labels, at::full({n}, -100, opts)});
  return out;
}

RtdOutput detached(const RtdOutput& o) {
  return {o.loss.detach(), o.gen_loss,    o.disc_loss, o.disc_correct, o.disc_flagged,
          o.real_tokens,   o.gen_correct, o.masked,    o.replaced};
}

// Copies that outlive the next replay, which rewrites the graph's outputs in place.
RtdOutput cloned(const RtdOutput& o) {
  return {o.loss.clone(),         o.gen_loss.clone(),     o.disc_loss.clone(),
          o.disc_correct.clone(), o.disc_flagged.clone(), o.real_tokens.clone(),
          o.gen_correct.clone(),  o.masked.clone(),       o.replaced.clone()};
}

}  // namespace

GraphedStep::GraphedStep(const StepParts& parts, bool enabled, int world_size,
                         int64_t masked_capacity)
    : parts_(parts), enabled_(enabled), capacity_(masked_capacity) {
  if (!enabled_) return;
  ELECTRA_CHECK(capacity_ > 0, "GraphedStep: masked capacity ", capacity_);
  const std::string why =
      cuda_graphs_unsupported(parts.device, world_size, parts.grad_accum, parts.dtype == at::kHalf);
  ELECTRA_CHECK_USER(why.empty(), "train.cuda_graphs=true: ", why, kGraphsOff);
  ELECTRA_CHECK(parts.gumbel && parts.gumbel->device().is_cuda(),
                "GraphedStep: the Gumbel generator must be a CUDA generator");
  graph_ = std::make_unique<Graph>(parts.device);
}

GraphedStep::~GraphedStep() = default;

at::Tensor GraphedStep::run(
    const std::function<const data::Batch&(int64_t micro)>& next_batch,
    const std::function<void(const RtdOutput&, const data::Batch&)>& observe) {
  if (!enabled_) {
    ++eager_;
    return forward_backward(parts_, next_batch, observe);
  }
  ELECTRA_CHECK(parts_.grad_accum == 1 && parts_.loss_scale == 1.0,
                "GraphedStep: grad_accum and loss_scale changed after construction");
  const data::Batch batch = next_batch(0);  // tensors shared, not copied
  const auto same_batch = [&](int64_t) -> const data::Batch& { return batch; };
  Graph& g = *graph_;
  const auto current = c10::cuda::getCurrentCUDAStream(parts_.device.index());
  const bool fits = capturable(batch, capacity_);
  const data::Batch filled = fits ? with_fillers(batch, capacity_) : data::Batch();
  if (!fits ||
      (g.captured && (!same_shapes(filled, g.inputs) || (padded(batch) && !g.with_mask)))) {
    ++eager_;
    return forward_backward(parts_, same_batch, observe);
  }
  for (const auto& [name, p] : *parts_.params)
    ELECTRA_CHECK(!p.grad().defined(), "GraphedStep: '", name,
                  "' has a gradient on entry (zero_grad after each step)");

  if (!g.captured && warm_ < 2) {
    // Eager steps on the capture stream first: cuBLAS's workspace for that stream, cuDNN's
    // attention plans and every other lazily made object must exist before a capture, which
    // may not create them.
    ++warm_;
    ++eager_;
    follow_stream(g.stream, current);
    at::Tensor norm;
    {
      const c10::cuda::CUDAStreamGuard guard(g.stream);
      norm = forward_backward(parts_, same_batch, observe);
    }
    follow_stream(current, g.stream);
    return norm;
  }

  if (!g.captured) {
    g.inputs = batch_to(filled, parts_.device);  // the buffers the graph reads
    g.with_mask = padded(batch);
    g.inputs.fixed_mask = g.with_mask;
    g.graph.register_generator_state(*parts_.gumbel);
    follow_stream(g.stream, current);
    {
      const c10::cuda::CUDAStreamGuard guard(g.stream);
      const model::RecordSeedSlots recording(g.seeds);
      g.graph.capture_begin();
      g.norm = forward_backward(
          parts_, [&](int64_t) -> const data::Batch& { return g.inputs; },
          [&](const RtdOutput& o, const data::Batch&) { g.out = detached(o); });
      g.graph.capture_end();
    }
    follow_stream(current, g.stream);
    // The capture ran nothing: the gradients it left are the buffers each replay writes.
    for (const auto& [name, p] : *parts_.params) {
      g.grads.push_back(p.grad());
      p.mutable_grad() = at::Tensor();
    }
    g.captured = true;
  } else {
    // This step's batch into the captured buffers, queued before the replay.
    const auto src = filled.tensors();
    const auto dst = g.inputs.tensors();
    for (size_t i = 0; i < src.size(); ++i) {
      if (!src[i]->defined()) continue;
      at::Tensor host = *src[i];
      if (host.is_cpu() && !host.is_pinned()) host = host.pin_memory();
      dst[i]->copy_(host, /*non_blocking=*/true);
    }
  }
  at::Generator cpu = at::detail::getDefaultCPUGenerator();
  g.seeds.refill(cpu);
  g.graph.replay();
  ++replays_;
  for (size_t i = 0; i < g.grads.size(); ++i)
    (*parts_.params)[i].second.mutable_grad() = g.grads[i];
  if (observe) observe(cloned(g.out), batch);
  return g.norm.clone();
}

#else

struct GraphedStep::Graph {};

GraphedStep::GraphedStep(const StepParts& parts, bool enabled, int world_size,
                         int64_t masked_capacity)
    : parts_(parts), enabled_(enabled), capacity_(masked_capacity) {
  ELECTRA_CHECK_USER(
      !enabled_, "train.cuda_graphs=true: ",
      cuda_graphs_unsupported(parts.device, world_size, parts.grad_accum, parts.dtype == at::kHalf),
      kGraphsOff);
}

GraphedStep::~GraphedStep() = default;

at::Tensor GraphedStep::run(
    const std::function<const data::Batch&(int64_t micro)>& next_batch,
    const std::function<void(const RtdOutput&, const data::Batch&)>& observe) {
  ++eager_;
  return forward_backward(parts_, next_batch, observe);
}

#endif

}  // namespace electra::pretrain
