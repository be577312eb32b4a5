#include "pretrain/step.h"

#include "common/error.h"
#include "pretrain/optimizer.h"

namespace electra::pretrain {

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
