#include "pretrain/step.h"

#include "common/error.h"
#include "common/rng.h"
#include "model/param_cast.h"
#include "pretrain/device.h"
#include "pretrain/optimizer.h"

namespace electra::pretrain {

AdamWOptions adamw_options(const PretrainConfig& pc) {
  AdamWOptions o;
  o.lr = pc.lr;
  o.beta1 = pc.beta1;
  o.beta2 = pc.beta2;
  o.eps = pc.eps;
  o.weight_decay = pc.weight_decay;
  o.bias_correction = pc.bias_correction;
  return o;
}

at::Generator make_gumbel_generator(const PretrainConfig& pc, int rank, const at::Device& device) {
  return make_generator(
      device, mix_seed({static_cast<uint64_t>(pc.seed), static_cast<uint64_t>(rank), 0x6B3Bull}));
}

void place_pair(model::PretrainingPair& pair, const PretrainConfig& pc, const at::Device& device) {
  const auto place = [&](torch::nn::Module& m) {
    m.to(device);
    model::set_attention(m, pc.attention);
    model::set_fused_layer_norm(m, pc.fused_layer_norm);
    model::set_fused_bias_gelu(m, pc.fused_bias_gelu);
  };
  place(*pair.discriminator);
  place(*pair.generator);
}

StepParts make_step_parts(const PretrainConfig& pc, model::PretrainingPair& pair,
                          const std::vector<std::pair<std::string, at::Tensor>>& params,
                          dist::GradientReducer& reducer, at::Generator& gumbel,
                          at::ScalarType dtype, const at::Device& device) {
  StepParts parts;
  parts.pair = &pair;
  parts.params = &params;
  parts.reducer = &reducer;
  parts.gumbel = &gumbel;
  parts.rtd = {pc.gen_weight, pc.disc_weight, pc.temperature};
  parts.dtype = dtype;
  parts.device = device;
  parts.grad_accum = pc.grad_accum;
  parts.clip_norm = pc.clip_norm;
  return parts;
}

data::Batch batch_to(const data::Batch& b, const at::Device& device) {
  data::Batch out = b;
  for (at::Tensor* t : out.tensors()) {
    if (!t->defined() || t->device() == device) continue;
    // A copy from pageable memory to a GPU first waits for the device to drain (CUDA stages
    // it synchronously), which would stall a host that queues the next step while the device
    // still runs this one. From page-locked memory (LibTorch's caching host allocator, which
    // keeps the block until the copy is done) it is queued like a kernel.
    if (device.is_cuda() && t->is_cpu() && !t->is_pinned()) *t = t->pin_memory();
    *t = t->to(device, /*non_blocking=*/device.is_cuda() && t->is_pinned());
  }
  return out;
}

at::Tensor forward_backward(
    const StepParts& s, const std::function<const data::Batch&(int64_t micro)>& next_batch,
    const std::function<void(const RtdOutput&, const data::Batch&)>& observe) {
  ELECTRA_CHECK(s.pair && s.params && s.reducer && s.gumbel && s.grad_accum >= 1,
                "forward_backward: incomplete StepParts");
  const bool on_cpu = s.device.is_cpu();
  // The two GPU paths below are for one rank: with several, the reducer all-reduces buckets of
  // gradients as the backward pass makes them ready.
  const bool one_gpu_rank = !on_cpu && s.reducer->num_buckets() == 0;
  // On a GPU in bf16/fp16 the weights are cast in one pass per micro-step and their gradients
  // back in one (model/param_cast.h). The CPU's bf16 products take the fp32 weights themselves
  // (model/bf16_linear.h). The one node that casts the gradients back makes them all ready at
  // the end of the backward, where the all-reduces could no longer overlap it.
  std::vector<at::Tensor> weights;
  if (s.cast_weights_once && one_gpu_rank && s.dtype != at::kFloat && model::param_cast_enabled())
    for (const auto& [name, p] : *s.params)
      weights.push_back(p);
  // The generator on a side stream (pretrain/side_stream.h): the reducer's hooks expect the
  // gradients on one stream.
  SideStream side(s.device, one_gpu_rank && (s.generator_stream < 0 ? generator_stream_enabled()
                                                                    : s.generator_stream == 1));
  for (int64_t micro = 0; micro < s.grad_accum; ++micro) {
    const data::Batch& batch = next_batch(micro);
    const data::Batch moved = on_cpu ? data::Batch() : batch_to(batch, s.device);
    RtdOutput out;
    // The casts' memory, kept until the side stream's backward, which reads it, is joined: freed
    // earlier it could be handed to a tensor of this stream while the side stream still reads it.
    at::Tensor cast_memory;
    {
      const model::ParamCastScope casts(weights, s.dtype);
      if (side.active()) cast_memory = casts.memory();
      out = rtd_forward(*s.pair, on_cpu ? batch : moved, s.dtype, s.rtd, *s.gumbel,
                        side.active() ? &side : nullptr);
    }
    // Only the last micro-step's backward triggers the all-reduce of the accumulated sum.
    s.reducer->prepare_backward(/*sync=*/micro + 1 == s.grad_accum);
    const double accum = static_cast<double>(s.grad_accum);
    // Without loss scaling exactly the division it always was (x * (1/3) is not x / 3).
    (s.loss_scale == 1.0 ? out.loss / accum : out.loss * (s.loss_scale / accum)).backward();
    // Before the batch (read by the generator's backward) and the casts are freed, and before a
    // CUDA graph's capture ends, which needs every stream it forked back.
    side.join();
    if (observe) observe(out, batch);
  }
  s.reducer->finish();  // gradients averaged over ranks
  return clip_grad_norm(*s.params, s.clip_norm, 1.0 / s.loss_scale);
}

at::Tensor nonfinite_flag(const at::Tensor& norm) {
  return at::isfinite(norm).logical_not().to(at::kFloat);
}

}  // namespace electra::pretrain
