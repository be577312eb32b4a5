#include "model/fast_random.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "model/bf16_bits.h"
#include "model/keep_bits.h"
#include "model/kernel_tensors.h"

namespace electra::model {
namespace {

// Elements per independent stream: fixed, so that the chunking (and hence every value) does
// not depend on how many threads share the work.
constexpr int64_t kChunk = 1 << 16;

template <class Fill>
void parallel_chunks(int64_t n, uint64_t seed, const Fill& fill) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      Rng rng(mix_seed({seed, static_cast<uint64_t>(c)}));
      fill(rng, c * kChunk, std::min(n, (c + 1) * kChunk));
    }
  });
}

}  // namespace

uint64_t draw_seed(at::Generator& gen) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get<at::CPUGeneratorImpl>()->random64();
}

void fill_uniform_(at::Tensor& out, at::Generator& gen) {
  ELECTRA_CHECK(out.scalar_type() == at::kFloat && out.is_contiguous(),
                "fill_uniform_ needs a contiguous fp32 tensor");
  float* p = out.data_ptr<float>();
  parallel_chunks(out.numel(), draw_seed(gen), [p](Rng& rng, int64_t begin, int64_t end) {
    fill_uniform(rng, p + begin, end - begin);
  });
}

void fill_uniform(Rng& rng, float* out, int64_t n) {
  constexpr float kScale = 1.0f / 16777216.0f;  // 2^-24: every value exact in fp32
  int64_t i = 0;
  for (; i + 1 < n; i += 2) {  // two 24-bit values per 64-bit draw
    const uint64_t r = rng.next_u64();
    out[i] = static_cast<float>(r >> 40) * kScale;
    out[i + 1] = static_cast<float>((r >> 8) & 0xFFFFFF) * kScale;
  }
  if (i < n) out[i] = static_cast<float>(rng.next_u64() >> 40) * kScale;
}

namespace {

// Branch-free loops the compiler vectorises: multiplying by the mask as 0.0f / 1.0f keeps the
// old semantics too (NaN * 0 stays NaN, a dropped negative value is -0).
void masked_scale_f32(const float* x, const bool* keep, float* out, int64_t n, float scale) {
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      out[i] = x[i] * scale * detail::keep_factor(keep, i);
  });
}

// bf16 as its bits (model/bf16_bits.h): c10's per-element conversion made this 3x slower than
// two ATen ops.
void masked_scale_bf16(const uint16_t* x, const bool* keep, uint16_t* out, int64_t n, float scale) {
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      out[i] =
          detail::float_to_bf16(detail::bf16_to_float(x[i]) * scale * detail::keep_factor(keep, i));
  });
}

// x * keep * scale computed in fp32 and rounded once to x's dtype: one pass for contiguous
// fp32 / bf16 CPU tensors, tensor ops otherwise. (The two tensor ops that were here cost ~4%
// of a CPU training step in the bench profile, and in bf16 they rounded the scale 1/0.9 to
// 1.109375, shrinking every kept activation by 0.16%.)
at::Tensor masked_scale(const at::Tensor& x, const at::Tensor& keep, double scale) {
  const auto st = x.scalar_type();
  if (!x.is_cpu() || !x.is_contiguous() || !keep.is_contiguous() || x.numel() != keep.numel() ||
      (st != at::kFloat && st != at::kBFloat16))
    return x.to(at::kFloat).mul(keep).mul_(scale).to(st);
  at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
  const auto f = static_cast<float>(scale);
  if (st == at::kFloat)
    masked_scale_f32(x.data_ptr<float>(), keep.data_ptr<bool>(), out.data_ptr<float>(), x.numel(),
                     f);
  else
    masked_scale_bf16(detail::bf16_data(x), keep.data_ptr<bool>(), detail::bf16_data(out),
                      x.numel(), f);
  return out;
}

// y = x * keep * scale, saving only the boolean mask for backward: a quarter of the memory
// of the fp32 noise tensor that at::dropout keeps (ELECTRA-Small at batch 128 saves ~0.7 GB).
struct MaskedScale : public torch::autograd::Function<MaskedScale> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& keep, double scale) {
    ctx->save_for_backward({keep});
    ctx->saved_data["scale"] = scale;
    return masked_scale(x, keep, scale);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const at::Tensor keep = ctx->get_saved_variables()[0];
    const double scale = ctx->saved_data["scale"].toDouble();
    return {masked_scale(grad[0], keep, scale), at::Tensor(), at::Tensor()};
  }
};

// Eight xoshiro256** streams side by side, one per 64-bit vector lane (GCC's vector extension:
// one AVX-512 register, two AVX2 ones, four SSE2 ones). Lane j steps exactly as Rng does.
typedef uint64_t U64x8 __attribute__((vector_size(64)));
constexpr int kLanes = 8;
// keep_mask_lanes stores eight mask bytes as one word, the first byte lowest.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "keep_mask_lanes assumes little-endian");

// The keep masks of `lanes` (1-8) whole chunks, chunk j's from rng[j] (each stepped to its end):
// out + j * kChunk, two 32-bit draws per 64-bit number, as the scalar loop in
// dropout_keep_mask. Measured: the scalar loop, one draw per two elements, was ~2% of a bf16
// ELECTRA-Small training step.
__attribute__((target_clones("avx512f", "avx2", "default"))) void keep_mask_lanes(
    Rng* rng, int lanes, uint64_t threshold, bool* __restrict out) {
  U64x8 s0, s1, s2, s3;
  for (int j = 0; j < kLanes; ++j) {  // idle lanes repeat lane 0 and are not stored
    const auto& w = rng[j < lanes ? j : 0].words();
    s0[j] = w[0], s1[j] = w[1], s2[j] = w[2], s3[j] = w[3];
  }
  const U64x8 low32 = U64x8{} + 0xFFFFFFFFull, thr = U64x8{} + threshold;
  // Four draws make each lane's next 8 mask bytes (bool is one byte, 0 or 1; little-endian: the
  // first draw's high half is the first byte), stored as one 64-bit word per lane.
  for (int64_t i = 0; i < kChunk; i += 8) {
    U64x8 bytes = U64x8{};
    for (int d = 0; d < 4; ++d) {
      const U64x8 x5 = (s1 << 2) + s1;           // s1 * 5
      const U64x8 rot = (x5 << 7) | (x5 >> 57);  // rotl 7
      const U64x8 r = (rot << 3) + rot;          // * 9
      const U64x8 t = s1 << 17;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 45) | (s3 >> 19);                    // rotl 45
      const U64x8 hi = (U64x8)((r >> 32) >= thr) & 1;  // 1 = keep
      const U64x8 lo = (U64x8)((r & low32) >= thr) & 1;
      bytes |= (hi | (lo << 8)) << (16 * d);
    }
    for (int j = 0; j < lanes; ++j) {
      const uint64_t word = bytes[j];
      std::memcpy(out + j * kChunk + i, &word, 8);
    }
  }
}

}  // namespace

at::Tensor dropout_keep_mask(at::IntArrayRef sizes, double p) {
  at::Tensor keep = at::empty(sizes, at::TensorOptions().dtype(at::kBool));  // [sizes]
  bool* k = keep.data_ptr<bool>();
  const int64_t n = keep.numel();
  // Keep when a 32-bit draw is at or above p * 2^32.
  const uint64_t threshold = static_cast<uint64_t>(p * 4294967296.0);
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  const uint64_t seed = draw_seed(gen);
  // Whole chunks eight at a time in vector lanes, the last partial chunk on its own: the same
  // streams and chunking as parallel_chunks, so the same mask.
  const int64_t whole = n / kChunk, chunks = (n + kChunk - 1) / kChunk;
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end;) {
      if (c < whole) {
        const int lanes = static_cast<int>(std::min<int64_t>({kLanes, end - c, whole - c}));
        std::vector<Rng> rngs;
        for (int j = 0; j < lanes; ++j)
          rngs.emplace_back(mix_seed({seed, static_cast<uint64_t>(c + j)}));
        keep_mask_lanes(rngs.data(), lanes, threshold, k + c * kChunk);
        c += lanes;
        continue;
      }
      Rng rng(mix_seed({seed, static_cast<uint64_t>(c)}));
      int64_t i = c * kChunk;
      for (; i + 1 < n; i += 2) {  // two 32-bit draws per 64-bit number
        const uint64_t r = rng.next_u64();
        k[i] = (r >> 32) >= threshold;
        k[i + 1] = (r & 0xFFFFFFFFu) >= threshold;
      }
      if (i < n) k[i] = (rng.next_u64() >> 32) >= threshold;
      ++c;
    }
  });
  return keep;
}

float dropout_scale(double p) {
  return static_cast<float>(1.0 / (1.0 - p));
}

at::Tensor dropout(const at::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  if (p >= 1.0) return x * 0.0;
  // On a GPU the fused kernel is fast and draws from the device's default generator; the
  // chunked xoshiro fill exists because ATen's CPU sampler is serial.
  if (!x.device().is_cpu()) return at::dropout(x, p, /*train=*/true);
  // The scale in fp32, then rounded once to x's dtype by the multiplication.
  return MaskedScale::apply(x, dropout_keep_mask(x.sizes(), p), dropout_scale(p));
}

}  // namespace electra::model
