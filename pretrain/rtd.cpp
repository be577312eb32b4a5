#include "pretrain/rtd.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include "common/error.h"
#include "pretrain/mlm_loss.h"
#include "pretrain/sampling.h"

namespace electra::pretrain {

at::Tensor gumbel_sample(const at::Tensor& logits, double temperature, at::Generator& gen) {
  SamplingOptions options;
  options.temperature = temperature;
  return sample_tokens(logits, options, gen);
}

std::pair<at::Tensor, at::Tensor> replace_tokens(const at::Tensor& input_ids,
                                                 const at::Tensor& masked_index,
                                                 const at::Tensor& masked_labels,
                                                 const at::Tensor& sampled,
                                                 const at::Tensor& keep) {
  // Start from the original tokens: unmasked positions are real; every masked position gets
  // the generator's sample (for the 15% kept unchanged too, as in the official code).
  at::Tensor fake = input_ids.flatten().clone();  // [batch * seq]
  fake.index_put_({masked_index}, sampled);
  at::Tensor replaced = at::zeros(fake.sizes(), fake.options().dtype(at::kFloat));
  at::Tensor differs = sampled.ne(masked_labels);           // [m]
  if (keep.defined()) differs = differs.logical_and(keep);  // a filler is never "replaced"
  replaced.index_put_({masked_index}, differs.to(at::kFloat));
  return {fake.view(input_ids.sizes()), replaced.view(input_ids.sizes())};
}

RtdOutput rtd_forward(model::PretrainingPair& pair, const data::Batch& batch, at::ScalarType dt,
                      const RtdOptions& options, at::Generator& gumbel, SideStream* side) {
  const int64_t b = batch.input_ids.size(0), l = batch.input_ids.size(1);
  RtdOutput out;
  // The host knows whether the batch has padding (real_tokens): without it the encoders get no
  // mask, with it they apply the mask without looking for a zero in it. On a GPU that look is a
  // wait for the device, two a step.
  const at::Tensor model_mask =
      !batch.fixed_mask && batch.real_tokens == b * l ? at::Tensor() : batch.attention_mask;
  const bool apply_mask = model_mask.defined();
  // [m] bool: the real targets, where masked_index may end with fillers (label -100, which the
  // cross-entropy ignores).
  const at::Tensor keep = batch.filler_targets ? batch.masked_labels.ge(0) : at::Tensor();

  at::Tensor gen_loss, sampled;
  {
    const SideStream::Scope on_side = side ? side->enter() : SideStream::Scope();
    // 1. Generator on the masked input; MLM head on the masked positions only.
    at::Tensor gen_hidden =
        pair.generator->electra(batch.masked_ids, model_mask, batch.token_type_ids, dt, nullptr,
                                apply_mask);  // [b, l, Hg]
    at::Tensor selected =
        gen_hidden.reshape({b * l, -1}).index_select(0, batch.masked_index);  // [m, Hg]
    // On the CPU bf16 logits go to the loss and the sampler as they are: both read bf16 in fp32
    // arithmetic (pretrain/mlm_loss.h), and the [m, vocab] fp32 copy and its gradient's cast
    // back are never made. On CUDA the same for bf16 and fp16 with the loss's kernels
    // (cuda_mlm_loss_enabled; the sampler's kernel reads them too).
    const bool low_logits =
        selected.is_cpu() ? dt == at::kBFloat16 : dt != at::kFloat && cuda_mlm_loss_enabled();
    at::Tensor logits = pair.generator->lm_logits(selected, dt, !low_logits);  // [m, vocab]
    // A batch without maskable tokens (all [CLS]/[SEP]) has no MLM term rather than a NaN one.
    if (batch.masked_index.numel() > 0) {
      MlmLoss mlm = mlm_cross_entropy(logits, batch.masked_labels);
      gen_loss = mlm.loss;
      out.gen_correct = mlm.correct;  // masked positions whose argmax is the original
    } else {
      gen_loss = logits.sum().to(at::kFloat) * 0.0;
      out.gen_correct = at::zeros({}, logits.options().dtype(at::kFloat));
    }

    // 2. Sample replacements (fp32, no gradient) and 3. build the discriminator's input.
    sampled = gumbel_sample(logits, options.temperature, gumbel);  // [m]
    // A filler writes back the token at its index (a [CLS]), so it changes nothing.
    if (keep.defined())
      sampled =
          at::where(keep, sampled, batch.input_ids.flatten().index_select(0, batch.masked_index));
    // [m, vocab] is the largest tensor of the step (300 MB in fp32 for ELECTRA-Small at batch 128):
    // let it go before the discriminator's activations pile up (the loss keeps what backward
    // needs).
    logits = at::Tensor();
  }
  if (side) {
    // The discriminator's input needs the samples; the step's sum needs the loss.
    side->join();
    for (const at::Tensor& t : {sampled, gen_loss, out.gen_correct})
      side->share(t);
  }
  auto [fake, is_replaced] =
      replace_tokens(batch.input_ids, batch.masked_index, batch.masked_labels, sampled, keep);

  at::Tensor disc_logits = pair.discriminator->discriminator_predictions(
      pair.discriminator->electra(fake, model_mask, batch.token_type_ids, dt, nullptr, apply_mask),
      dt);                                                // [b, l] fp32
  at::Tensor real = batch.attention_mask.to(at::kFloat);  // [b, l]
  at::Tensor bce =
      at::binary_cross_entropy_with_logits(disc_logits, is_replaced, {}, {}, at::Reduction::None);
  at::Tensor n_real = real.sum();
  at::Tensor disc_loss = (bce * real).sum() / n_real.clamp_min(1.0);

  out.loss = options.gen_weight * gen_loss + options.disc_weight * disc_loss;
  {
    torch::NoGradGuard no_grad;
    out.gen_loss = gen_loss.detach();
    out.disc_loss = disc_loss.detach();
    out.disc_correct =
        (disc_logits.detach().gt(0).to(at::kFloat).eq(is_replaced).to(at::kFloat) * real).sum();
    out.disc_flagged = (disc_logits.detach().gt(0).to(at::kFloat) * real).sum();
    out.real_tokens = n_real;
    out.masked = keep.defined()
                     ? keep.sum().to(at::kFloat)
                     : at::scalar_tensor(static_cast<double>(batch.masked_index.numel()));
    out.replaced = is_replaced.sum();
  }
  return out;
}

}  // namespace electra::pretrain
