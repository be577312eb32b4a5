// common/sgemm.cpp: the row-major fp32 GEMM, and LibTorch's matmuls arriving in it.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "common/blas.h"
#include "tests/support/blas_probe.h"

extern "C" void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*,
                       const float*, const int*, const float*, const int*, const float*, float*,
                       const int*);

namespace electra {
namespace {

// Element (i, j) of a row-major matrix with row stride ld, read as its transpose when t.
float at_op(const std::vector<float>& x, int64_t ld, bool t, int64_t i, int64_t j) {
  return t ? x[j * ld + i] : x[i * ld + j];
}

std::vector<float> filled(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = scale * static_cast<float>(static_cast<int>((i * 7919) % 23) - 11);
  return v;
}

TEST(Sgemm, RowMajorProductsInEveryLayoutWithAlphaBetaAndPaddedRows) {
  // A LibTorch that links its BLAS statically and hides it, with no separate libdnnl, has no
  // GEMM to route to (the fused attention then stays eager).
  if (!blas::have_sgemm()) GTEST_SKIP() << "no fp32 GEMM symbol in this process";
  // Sizes off every SIMD width, and leading dimensions wider than the rows they hold.
  const int64_t m = 37, n = 29, k = 53, pad = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      const std::vector<float> a = filled((ta ? k : m) * lda, 0.25f);
      const std::vector<float> b = filled((tb ? n : k) * ldb, 0.5f);
      std::vector<float> c = filled(m * ldc, 1.0f);
      const std::vector<float> c0 = c;
      ASSERT_TRUE(
          blas::sgemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 2.0f, c.data(), ldc));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double want = 2.0 * c0[i * ldc + j];
          for (int64_t p = 0; p < k; ++p)
            want += 0.5 * at_op(a, lda, ta, i, p) * at_op(b, ldb, tb, p, j);
          // Small integers times 1/4 and 1/2: every product and partial sum is exact in fp32.
          ASSERT_EQ(c[i * ldc + j], static_cast<float>(want))
              << "ta " << ta << " tb " << tb << " at (" << i << ", " << j << ")";
        }
      // The padding between rows is never written.
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = n; j < ldc; ++j)
          ASSERT_EQ(c[i * ldc + j], c0[i * ldc + j]);
    }
}

TEST(Sgemm, BetaZeroOverwritesWhateverTheOutputHeld) {
  if (!blas::have_sgemm()) GTEST_SKIP() << "no fp32 GEMM symbol in this process";
  // BLAS semantics: with beta 0, C is output only (uninitialised memory, NaN included).
  const int64_t m = 8, n = 16, k = 4;
  const std::vector<float> a(m * k, 1.0f), b(k * n, 2.0f);
  std::vector<float> c(m * n, std::numeric_limits<float>::quiet_NaN());
  ASSERT_TRUE(
      blas::sgemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n));
  for (float v : c)
    ASSERT_EQ(v, 8.0f);
}

TEST(Sgemm, OneDnnRunsItWhereLibTorchLinksIt) {
  // Debian's LibTorch links libdnnl.so.2; a LibTorch without it keeps the BLAS, and so does
  // ELECTRA_SGEMM=openblas.
  const char* env = std::getenv("ELECTRA_SGEMM");
  const bool opted_out = env && std::strcmp(env, "openblas") == 0;
  const bool have_dnnl = dlsym(RTLD_DEFAULT, "dnnl_sgemm") != nullptr;
  EXPECT_STREQ(blas::sgemm_backend(), have_dnnl && !opted_out ? "onednn" : "blas");
  EXPECT_EQ(blas::info().sgemm, blas::sgemm_backend());
}

TEST(Sgemm, LibTorchFp32MatmulsComeThroughTheInterposer) {
  if (!testing::libtorch_calls_a_separate_blas())
    GTEST_SKIP() << "this LibTorch does not call a separate BLAS library's sgemm_";
  // The symbol the dynamic linker gives LibTorch for sgemm_ is this program's.
  EXPECT_EQ(dlsym(RTLD_DEFAULT, "sgemm_"), reinterpret_cast<void*>(&sgemm_));
  // And ATen's fp32 products arrive there: a linear layer's forward, input gradient and
  // weight gradient are one call each.
  at::manual_seed(3);
  const at::Tensor x = at::randn({64, 256}).requires_grad_();  // [tokens, in]
  const at::Tensor w = at::randn({96, 256}).requires_grad_();  // [out, in]
  const uint64_t before = blas::interposed_sgemm_calls();
  at::Tensor y = at::linear(x, w);  // [64, 96]
  EXPECT_EQ(blas::interposed_sgemm_calls(), before + 1);
  y.sum().backward();
  EXPECT_EQ(blas::interposed_sgemm_calls(), before + 3);
  // The gradients are right (all-ones upstream: dx = 1 w, dw = 1^T x).
  EXPECT_TRUE(at::allclose(x.grad(), w.sum(0).expand({64, 256}), 1e-4, 1e-4));
  EXPECT_TRUE(at::allclose(w.grad(), x.sum(0).expand({96, 256}), 1e-4, 1e-4));
}

}  // namespace
}  // namespace electra
