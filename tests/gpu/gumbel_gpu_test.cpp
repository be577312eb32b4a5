// The one-pass CUDA Gumbel-max sampler (model/cuda/gumbel_kernels.h behind
// pretrain::sample_tokens): the distribution it draws, its temperature, its dependence on the
// generator's state alone, and bf16 logits. Skipped without a CUDA device or the kernels.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "model/add_layer_norm.h"
#include "pretrain/device.h"
#include "pretrain/sampling.h"
#include "tests/support/cuda_kernels.h"

namespace electra::pretrain {
namespace {

const at::Device kCuda(at::kCUDA, 0);

// n rows of the same logits over a vocab of 1000: tokens 7, 500 and 999 with probabilities
// proportional to 5, 3 and 2 (the rest -inf), to the power 1 / temperature.
at::Tensor three_token_rows(int64_t n, at::ScalarType dt) {
  at::Tensor row = at::full({1000}, -std::numeric_limits<float>::infinity());
  row[7] = std::log(5.0);
  row[500] = std::log(3.0);
  row[999] = std::log(2.0);
  return row.unsqueeze(0).expand({n, 1000}).contiguous().to(dt).to(kCuda);  // [n, 1000]
}

TEST(CudaGumbel, DrawsTheTemperedSoftmax) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  const int64_t n = 40000;
  for (const double t : {1.0, 0.5}) {
    SCOPED_TRACE(::testing::Message() << "temperature " << t);
    at::Generator gen = make_generator(kCuda, 123);
    SamplingOptions o;
    o.temperature = t;
    const at::Tensor tokens = sample_tokens(three_token_rows(n, at::kFloat), o, gen).cpu();
    ASSERT_EQ(tokens.numel(), n);
    const double w[3] = {std::pow(5.0, 1 / t), std::pow(3.0, 1 / t), std::pow(2.0, 1 / t)};
    const double total = w[0] + w[1] + w[2];
    const int64_t ids[3] = {7, 500, 999};
    int64_t seen = 0;
    for (int k = 0; k < 3; ++k) {
      const int64_t count = tokens.eq(ids[k]).sum().item<int64_t>();
      seen += count;
      const double p = w[k] / total;
      EXPECT_NEAR(static_cast<double>(count) / n, p, 5 * std::sqrt(p * (1 - p) / n)) << ids[k];
    }
    EXPECT_EQ(seen, n);  // never a -inf token
  }
}

TEST(CudaGumbel, TheGeneratorStateAloneDecidesTheDraws) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  torch::manual_seed(2);
  const at::Tensor logits = at::randn({300, 4099}).to(kCuda);  // [300, 4099]
  SamplingOptions o;
  at::Generator a = make_generator(kCuda, 9), b = make_generator(kCuda, 9);
  const at::Tensor first = sample_tokens(logits, o, a);
  EXPECT_TRUE(at::equal(first, sample_tokens(logits, o, b)));
  // The generator moved on: the next draw differs (300 rows of 4099 tokens each).
  EXPECT_FALSE(at::equal(first, sample_tokens(logits, o, a)));
  // bf16 logits are read as they are: the same draws as their widened copy.
  const at::Tensor low = logits.to(at::kBFloat16);
  at::Generator c = make_generator(kCuda, 9), d = make_generator(kCuda, 9);
  EXPECT_TRUE(at::equal(sample_tokens(low, o, c), sample_tokens(low.to(at::kFloat), o, d)));
  // A logit far above the rest wins whatever the noise (Gumbel noise from a 2^-24 grid with
  // the 1e-9 guards stays within about [-3, 21]).
  at::Tensor sure = logits.clone();
  sure.select(1, 1234).fill_(100.0f);
  EXPECT_TRUE(sample_tokens(sure, o, a).eq(1234).all().item<bool>());
}

// Rows further apart than their length (the generator's padded head: a [n, vocab] view of
// [n, vocab rounded up]) are read in place: the draws of the contiguous copy.
TEST(CudaGumbel, ReadsRowsThatArePaddedInPlace) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  torch::manual_seed(3);
  const at::Tensor padded = at::randn({200, 1008}).to(at::kBFloat16).to(kCuda);  // [200, 1008]
  const at::Tensor view = padded.narrow(1, 0, 1001);                             // [200, 1001]
  ASSERT_EQ(view.stride(0), 1008);
  SamplingOptions o;
  at::Generator a = make_generator(kCuda, 9), b = make_generator(kCuda, 9);
  const at::Tensor in_place = sample_tokens(view, o, a);
  EXPECT_TRUE(at::equal(in_place, sample_tokens(view.contiguous(), o, b)));
  EXPECT_TRUE(in_place.lt(1001).all().item<bool>());  // never a padding column
}

}  // namespace
}  // namespace electra::pretrain
