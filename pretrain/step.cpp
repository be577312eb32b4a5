#include "pretrain/step.h"

#include <ATen/CPUGeneratorImpl.h>

#include "common/error.h"
#include "common/rng.h"
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

at::Generator make_gumbel_generator(const PretrainConfig& pc, int rank) {
  return at::detail::createCPUGenerator(
      mix_seed({static_cast<uint64_t>(pc.seed), static_cast<uint64_t>(rank), 0x6B3Bull}));
}

double forward_backward(const StepParts& s,
                        const std::function<const data::Batch&(int64_t micro)>& next_batch,
                        const std::function<void(const RtdOutput&, const data::Batch&)>& observe) {
  ELECTRA_CHECK(s.pair && s.params && s.reducer && s.gumbel && s.grad_accum >= 1,
                "forward_backward: incomplete StepParts");
  for (int64_t micro = 0; micro < s.grad_accum; ++micro) {
    const data::Batch& batch = next_batch(micro);
    RtdOutput out = rtd_forward(*s.pair, batch, s.dtype, s.rtd, *s.gumbel);
    // Only the last micro-step's backward triggers the all-reduce of the accumulated sum.
    s.reducer->prepare_backward(/*sync=*/micro + 1 == s.grad_accum);
    (out.loss / static_cast<double>(s.grad_accum)).backward();
    if (observe) observe(out, batch);
  }
  s.reducer->finish();  // gradients averaged over ranks
  return clip_grad_norm(*s.params, s.clip_norm).item<double>();
}

}  // namespace electra::pretrain
