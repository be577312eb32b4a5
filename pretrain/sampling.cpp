#include "pretrain/sampling.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <cmath>
#include <limits>

#include "common/env_switch.h"
#include "common/error.h"
#include "model/fast_random.h"
#include "model/kernel_tensors.h"
#include "pretrain/gumbel_kernel.h"

#if defined(ELECTRA_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "model/cuda/gumbel_kernels.h"
#include "model/cuda_kernel_args.h"
#endif

namespace electra::pretrain {
namespace {

// Whether top_k leaves out any of the `vocab` tokens.
bool restricts_to_top_k(const SamplingOptions& o, int64_t vocab) {
  return o.top_k > 0 && o.top_k < vocab;
}

// logits / T with every token outside the row's top_k set to -inf: [n, vocab] fp32.
at::Tensor scaled_logits(const at::Tensor& logits, const SamplingOptions& o) {
  at::Tensor l = logits.detach().to(at::kFloat);
  if (o.temperature != 1.0) l = l / o.temperature;
  if (restricts_to_top_k(o, l.size(-1))) {
    // Exactly k survivors per row, even with ties at the threshold.
    at::Tensor keep = std::get<1>(l.topk(o.top_k, -1));  // [n, k]
    at::Tensor masked = at::full_like(l, -std::numeric_limits<float>::infinity());
    l = masked.scatter(-1, keep, l.gather(-1, keep));
  }
  return l;
}

// The one-pass CUDA kernel (model/cuda/gumbel_kernels.h), where the build has it, the logits
// and the generator are on one CUDA device, no top_k restriction applies, and
// ELECTRA_CUDA_GUMBEL is not "0" (the switch for A/B runs; read once). Else an undefined
// tensor. Its seed is drawn on the device from `gen` (random_: graph-safe, and the generator's
// state, which checkpoints keep, replays it); the noise is then a hash of (seed, element).
at::Tensor cuda_gumbel_argmax(const at::Tensor& logits, const SamplingOptions& o,
                              at::Generator& gen) {
#if defined(ELECTRA_CUDA_KERNELS)
  static const bool enabled = env_switch_on("ELECTRA_CUDA_GUMBEL");
  const auto t = logits.scalar_type();
  if (!enabled || !logits.is_cuda() || !gen.device().is_cuda() || logits.dim() != 2 ||
      (gen.device().has_index() && gen.device().index() != logits.device().index()) ||
      !model::cuda::has_elem(t) || logits.size(1) == 0 || logits.size(0) > 0x7FFFFFFF ||
      restricts_to_top_k(o, logits.size(1)))
    return {};
  const c10::cuda::CUDAGuard guard(logits.device());
  const at::Tensor l = model::cuda::rows_in_place(logits)
                           ? logits.detach()
                           : logits.detach().contiguous();                      // [n, vocab]
  at::Tensor seed = at::empty({1}, l.options().dtype(at::kLong)).random_(gen);  // [1]
  at::Tensor out = at::empty({l.size(0)}, l.options().dtype(at::kLong));        // [n]
  model::cuda::GumbelArgmax a;
  a.logits = l.data_ptr();
  a.elem = model::cuda::elem_of(t);
  a.rows = l.size(0);
  a.vocab = l.size(1);
  a.ld = l.stride(0);
  a.temperature = static_cast<float>(o.temperature);
  a.seed_at = seed.data_ptr<int64_t>();
  a.out = out.data_ptr<int64_t>();
  model::cuda::check_launch(
      model::cuda::gumbel_argmax(a, c10::cuda::getCurrentCUDAStream().stream()), "gumbel_argmax");
  return out;
#else
  (void)logits;
  (void)o;
  (void)gen;
  return {};
#endif
}

}  // namespace

void check_sampling_options(const SamplingOptions& o, int64_t vocab_size,
                            const std::string& temperature_key, const std::string& top_k_key) {
  ELECTRA_CHECK_USER(std::isfinite(o.temperature) && o.temperature > 0, temperature_key,
                     " must be a finite number > 0 (1 samples the model's distribution), got ",
                     o.temperature);
  ELECTRA_CHECK_USER(o.top_k >= 0 && o.top_k <= vocab_size, top_k_key, " must be in [0, ",
                     vocab_size, "] (0 = no restriction), got ", o.top_k);
}

at::Tensor sampling_probabilities(const at::Tensor& logits, const SamplingOptions& o) {
  check_sampling_options(o, logits.size(-1), "temperature", "top_k");
  torch::NoGradGuard no_grad;
  if (o.greedy) {
    at::Tensor l = logits.detach().to(at::kFloat);
    return at::zeros_like(l).scatter_(-1, l.argmax(-1, /*keepdim=*/true), 1.0);
  }
  return at::softmax(scaled_logits(logits, o), -1);
}

at::Tensor sample_tokens(const at::Tensor& logits, const SamplingOptions& o, at::Generator& gen) {
  check_sampling_options(o, logits.size(-1), "temperature", "top_k");
  torch::NoGradGuard no_grad;
  if (o.greedy) return logits.detach().argmax(-1);  // [n]
  if (gen.device().is_cpu() && logits.is_cpu() && logits.dim() == 2 &&
      !restricts_to_top_k(o, logits.size(-1))) {
    // The one-pass kernel: the same noise formula, no [n, vocab] noise tensor.
    // bf16 logits are read as they are (each row widened in the kernel).
    const bool bf16 = logits.scalar_type() == at::kBFloat16;
    const at::Tensor l = bf16 ? logits.detach().contiguous()
                              : logits.detach().to(at::kFloat).contiguous();  // [n, vocab]
    at::Tensor out = at::empty({l.size(0)}, l.options().dtype(at::kLong));
    const auto t = static_cast<float>(o.temperature);
    const uint64_t seed = model::draw_seed(gen);
    if (bf16) {
      detail::gumbel_argmax_cpu(model::detail::bf16_data(l), l.size(0), l.size(1), t, seed,
                                out.data_ptr<int64_t>());
    } else {
      detail::gumbel_argmax_cpu(l.data_ptr<float>(), l.size(0), l.size(1), t, seed,
                                out.data_ptr<int64_t>());
    }
    return out;
  }
  if (at::Tensor fused = cuda_gumbel_argmax(logits, o, gen); fused.defined()) return fused;
  at::Tensor l = scaled_logits(logits, o);  // [n, vocab]
  // Gumbel noise -log(-log(u)), with the same 1e-9 guards as the official ELECTRA code.
  at::Tensor u;  // [n, vocab] fp32 uniform noise, on l's device
  if (gen.device().is_cpu()) {
    u = at::empty(l.sizes(), at::TensorOptions().dtype(at::kFloat));
    model::fill_uniform_(u, gen);  // parallel and reproducible (model/fast_random.h)
    u = u.to(l.device());
  } else {
    // A device generator (CUDA Philox) fills in place where the logits already are.
    u = at::empty(l.sizes(), l.options().dtype(at::kFloat));
    u.uniform_(0.0, 1.0, gen);
  }
  at::Tensor g = -at::log(-at::log(u + 1e-9) + 1e-9);
  return (l + g).argmax(-1);  // [n] int64
}

}  // namespace electra::pretrain
