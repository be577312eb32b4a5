#include "model/cpu_attention.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/blas.h"
#include "common/error.h"
#include "model/attention_rows.h"
#include "model/fast_random.h"
#include "model/kernel_tensors.h"

namespace electra::model {
namespace {

// Row-major C[m, n] = op(A) op(B), op(A): [m, k], stored [k, m] when ta; lda, ldb, ldc are row
// strides. The process's fastest fp32 GEMM (oneDNN's on Debian, common/blas.h); a LibTorch that
// hides its BLAS (MKL linked statically) has none to offer, and the attention falls back to the
// eager path (fused_cpu_attention_supports).
void gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
          float* c, int ldc) {
  blas::sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

// The sizes of one call. The (sequence, head) blocks are "pairs", numbered bi * heads + h.
struct Shape {
  int l, d, H, C;  // seq, head_dim, heads * head_dim, 3 * H (the row stride of qkv)
  int64_t batch, heads;
  float sqrt_d, scale;  // HF divides the scores by sqrt(head_dim); 1 / (1 - p) for dropout
  bool bf16;            // round where HF's bf16 attention holds bf16 (model/attention_rows.h)

  Shape(const at::Tensor& qkv, int64_t heads_, double p)
      : l(static_cast<int>(qkv.size(1))),
        d(static_cast<int>(qkv.size(2) / 3 / heads_)),
        H(static_cast<int>(qkv.size(2) / 3)),
        C(static_cast<int>(qkv.size(2))),
        batch(qkv.size(0)),
        heads(heads_),
        sqrt_d(static_cast<float>(std::sqrt(static_cast<double>(d)))),
        scale(p > 0.0 ? dropout_scale(p) : 1.0f),
        bf16(qkv.scalar_type() == at::kBFloat16) {}
  int64_t pairs() const { return batch * heads; }
  int64_t block() const { return static_cast<int64_t>(l) * l; }
  // Offset of pair's query columns in qkv (key: + H, value: + 2H) and in the [b, l, H] context.
  int64_t qkv_offset(int64_t pair) const { return (pair / heads) * l * C + (pair % heads) * d; }
  int64_t ctx_offset(int64_t pair) const { return (pair / heads) * l * H + (pair % heads) * d; }
};

// qkv: fp32 (in bf16 mode holding bf16 values, so that fp32 products are exact and only the
// sums' order differs from a bf16 GEMM); probs: [pairs, l, l] to keep for backward, or null
// (evaluation: a per-thread buffer); keep: [pairs, l, l] or null. -> out [b, l, H] fp32.
//
// One (sequence, head) pair of it: q at the pair's query columns (key at + H, value at + 2H,
// row stride C); scores [l, l] scratch; p [l, l] the probabilities; to_v [l, l] what meets v
// where that differs from p (dropout, bf16 rounding), else null; ctx [l, d], row stride ldc.
void attend_pair(const Shape& s, int64_t pair, const float* q, const float* mask, const bool* keep,
                 float* scores, float* p, float* to_v, float* ctx, int ldc) {
  const bool* k = detail::offset(keep, pair * s.block());
  gemm(false, true, s.l, s.l, s.d, q, s.C, q + s.H, s.C, scores, s.l);  // q k^T
  detail::softmax_rows(scores, detail::offset(mask, (pair / s.heads) * s.l), s.sqrt_d, s.l, s.l, p,
                       k, s.scale, s.bf16, to_v);
  gemm(false, false, s.l, s.d, s.l, to_v ? to_v : p, s.l, q + 2 * s.H, s.C, ctx, ldc);  // probs v
}

// Rounds rows x n fp32 (contiguous) into bf16 rows of stride ld: a head's block of a wider tensor.
void narrow_rows(const float* in, int rows, int n, uint16_t* out, int64_t ld) {
  for (int i = 0; i < rows; ++i)
    detail::narrow_bf16(in + static_cast<int64_t>(i) * n, n, out + i * ld);
}

// gemm() on bf16 operands (oneDNN's bf16 GEMM, fp32 sums and result).
void gemm16(bool ta, bool tb, int m, int n, int k, const uint16_t* a, int lda, const uint16_t* b,
            int ldb, float* c, int ldc) {
  ELECTRA_CHECK(blas::gemm_bf16(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc),
                "fused attention: oneDNN refused a bf16 GEMM");
}

void attention_forward(const Shape& s, const float* qkv, const float* mask, const bool* keep,
                       float* probs, float* out) {
  const blas::OneBlasThread one_blas_thread;  // the blocks are the parallelism
  at::parallel_for(0, s.pairs(), 1, [&](int64_t begin, int64_t end) {
    const bool separate_v = keep || s.bf16;  // v meets other values than the saved probs
    std::vector<float> scores(s.block()), own_probs(probs ? 0 : s.block()),
        to_v(separate_v ? s.block() : 0);
    for (int64_t pair = begin; pair < end; ++pair)
      attend_pair(s, pair, qkv + s.qkv_offset(pair), mask, keep, scores.data(),
                  probs ? probs + pair * s.block() : own_probs.data(),
                  separate_v ? to_v.data() : nullptr, out + s.ctx_offset(pair), s.H);
  });
}

// attend_pair on bf16 q, k, v (raw bits, the pair's query columns at q16) on oneDNN's bf16 GEMM
// (fp32 accumulation, fp32 result): they and the probabilities that meet v hold bf16 values
// anyway, so only the sums' order can differ from the widened fp32 products (the tests find the
// same bits), and no sequence is widened. A bf16 ELECTRA-Small inference step (batch 32, seq
// 128) measured ~6% faster on AVX512-BF16. pv16: [l, l], the probabilities that meet v (rounded
// bf16 bits); ctx [l, d].
void attend_pair_bf16(const Shape& s, int64_t pair, const uint16_t* q16, const float* mask,
                      const bool* keep, float* scores, float* p, uint16_t* pv16, float* ctx) {
  gemm16(false, true, s.l, s.l, s.d, q16, s.C, q16 + s.H, s.C, scores, s.l);  // q k^T: [l, l]
  detail::softmax_rows_bf16(scores, detail::offset(mask, (pair / s.heads) * s.l), s.sqrt_d, s.l,
                            s.l, p, detail::offset(keep, pair * s.block()), s.scale, pv16);
  gemm16(false, false, s.l, s.d, s.l, pv16, s.l, q16 + 2 * s.H, s.C, ctx, s.d);  // pv v: [l, d]
}

// attention_forward on bf16 qkv [b, l, 3H] (raw bits): on oneDNN's bf16 GEMM (attend_pair_bf16)
// where there is one; else each thread widens one sequence's rows at a time into its own fp32
// buffer ([l, 3H]: 384 KB at ELECTRA-Small's sizes, inside the L2 cache) instead of the whole
// tensor through memory first. Each head's context is rounded straight into out16 [b, l, H] bf16.
// The same values as widening qkv, attention_forward and narrowing its output (those are exact and
// per element); measured, the two whole-tensor passes took ~3 ms of a ~27 ms ELECTRA-Small layer
// at batch 32. probs: [pairs, l, l] fp32 and pv16: [pairs, l, l] bf16 (the probabilities that met
// v; only with oneDNN's GEMM) to keep for backward, or null (per-thread buffers).
void attention_forward_bf16(const Shape& s, const uint16_t* qkv16, const float* mask,
                            const bool* keep, float* probs, uint16_t* pv16, uint16_t* out16) {
  const blas::OneBlasThread one_blas_thread;  // the blocks are the parallelism
  const bool bf16_gemm = blas::have_gemm_bf16();
  at::parallel_for(0, s.pairs(), 1, [&](int64_t begin, int64_t end) {
    std::vector<float> rows(bf16_gemm ? 0 : static_cast<size_t>(s.l) * s.C), scores(s.block()),
        own_probs(probs ? 0 : s.block()), to_v(bf16_gemm ? 0 : s.block()),
        ctx(static_cast<size_t>(s.l) * s.d);
    std::vector<uint16_t> own_pv16(bf16_gemm && !pv16 ? s.block() : 0);
    int64_t widened = -1;  // the sequence whose rows are in `rows`
    for (int64_t pair = begin; pair < end; ++pair) {
      float* p = probs ? probs + pair * s.block() : own_probs.data();
      if (bf16_gemm) {
        attend_pair_bf16(s, pair, qkv16 + s.qkv_offset(pair), mask, keep, scores.data(), p,
                         pv16 ? pv16 + pair * s.block() : own_pv16.data(), ctx.data());
      } else {
        const int64_t bi = pair / s.heads;
        if (bi != widened) {
          detail::widen_bf16(qkv16 + bi * s.l * s.C, static_cast<int64_t>(s.l) * s.C, rows.data());
          widened = bi;
        }
        attend_pair(s, pair, rows.data() + (pair % s.heads) * s.d, mask, keep, scores.data(), p,
                    to_v.data(), ctx.data(), s.d);  // ctx: [l, d]
      }
      narrow_rows(ctx.data(), s.l, s.d, out16 + s.ctx_offset(pair), s.H);
    }
  });
}

// grad: [b, l, H] fp32 (contiguous) -> grad_qkv [b, l, 3H] fp32, every element written.
void attention_backward(const Shape& s, const float* qkv, const float* probs, const bool* keep,
                        const float* grad, float* grad_qkv) {
  const blas::OneBlasThread one_blas_thread;
  at::parallel_for(0, s.pairs(), 1, [&](int64_t begin, int64_t end) {
    const bool separate_v = keep || s.bf16;
    std::vector<float> to_v(separate_v ? s.block() : 0), g(s.block());
    for (int64_t pair = begin; pair < end; ++pair) {
      const float* q = qkv + s.qkv_offset(pair);
      const float* p = probs + pair * s.block();
      const bool* k = detail::offset(keep, pair * s.block());
      const float* go = grad + s.ctx_offset(pair);  // [l, d], row stride H
      float* gq = grad_qkv + s.qkv_offset(pair);
      if (separate_v) detail::probs_to_v(p, k, s.scale, s.bf16, s.block(), to_v.data());
      const float* pv = separate_v ? to_v.data() : p;
      gemm(true, false, s.l, s.d, s.l, pv, s.l, go, s.H, gq + 2 * s.H, s.C);       // dv = pv^T go
      gemm(false, true, s.l, s.l, s.d, go, s.H, q + 2 * s.H, s.C, g.data(), s.l);  // go v^T
      detail::softmax_rows_backward(g.data(), p, k, s.scale, s.sqrt_d, s.bf16, s.l, s.l);  // ds
      gemm(false, false, s.l, s.d, s.l, g.data(), s.l, q + s.H, s.C, gq, s.C);  // dq = ds k
      gemm(true, false, s.l, s.d, s.l, g.data(), s.l, q, s.C, gq + s.H, s.C);   // dk = ds^T q
    }
  });
}

// attention_backward on bf16 qkv and grad16 [b, l, H] (raw bits) on oneDNN's bf16 GEMM: every
// operand of its four products holds bf16 values already (pv16 is what met v in forward, ds is
// rounded where HF's bf16 attention rounds it), so the products are exact and only the sums'
// order can differ from the widened fp32 path, and no tensor is widened or narrowed whole. dq,
// dk and dv are rounded into grad16 [b, l, 3H], the bf16 outputs of HF's matmul backwards.
void attention_backward_bf16(const Shape& s, const uint16_t* qkv16, const float* probs,
                             const uint16_t* pv16, const bool* keep, const uint16_t* grad16,
                             uint16_t* out16) {
  const blas::OneBlasThread one_blas_thread;
  at::parallel_for(0, s.pairs(), 1, [&](int64_t begin, int64_t end) {
    std::vector<float> g(s.block()), d(static_cast<size_t>(s.l) * s.d);
    std::vector<uint16_t> g16(s.block());
    for (int64_t pair = begin; pair < end; ++pair) {
      const uint16_t* q = qkv16 + s.qkv_offset(pair);  // k at + H, v at + 2H, row stride C
      const float* p = probs + pair * s.block();
      const uint16_t* pv = pv16 + pair * s.block();
      const bool* k = detail::offset(keep, pair * s.block());
      const uint16_t* go = grad16 + s.ctx_offset(pair);  // [l, d], row stride H
      uint16_t* gq = out16 + s.qkv_offset(pair);
      gemm16(true, false, s.l, s.d, s.l, pv, s.l, go, s.H, d.data(), s.d);           // pv^T go
      narrow_rows(d.data(), s.l, s.d, gq + 2 * s.H, s.C);                            // dv
      gemm16(false, true, s.l, s.l, s.d, go, s.H, q + 2 * s.H, s.C, g.data(), s.l);  // go v^T
      detail::softmax_rows_backward_bf16(g.data(), p, k, s.scale, s.sqrt_d, s.l, s.l,
                                         g16.data());                                     // ds
      gemm16(false, false, s.l, s.d, s.l, g16.data(), s.l, q + s.H, s.C, d.data(), s.d);  // ds k
      narrow_rows(d.data(), s.l, s.d, gq, s.C);                                           // dq
      gemm16(true, false, s.l, s.d, s.l, g16.data(), s.l, q, s.C, d.data(), s.d);         // ds^T q
      narrow_rows(d.data(), s.l, s.d, gq + s.H, s.C);                                     // dk
    }
  });
}

// The fused forward: fp32 qkv through attention_forward, bf16 through attention_forward_bf16
// (nothing widened whole). probs, pv16: as attention_forward_bf16's (pv16 null in fp32). -> [b, l,
// H] in qkv's dtype (in bf16 the rounded context, the bf16 output of HF's probs @ v).
at::Tensor run_forward(const Shape& s, const at::Tensor& qkv, const at::Tensor& mask,
                       const at::Tensor& keep, float* probs, uint16_t* pv16) {
  at::Tensor out = at::empty({s.batch, s.l, s.H}, qkv.options());
  if (s.bf16) {
    attention_forward_bf16(s, detail::bf16_data(qkv), detail::float_data(mask),
                           detail::keep_data(keep), probs, pv16, detail::bf16_data(out));
  } else {
    attention_forward(s, qkv.data_ptr<float>(), detail::float_data(mask), detail::keep_data(keep),
                      probs, out.data_ptr<float>());
  }
  return out;
}

struct FusedAttention : public torch::autograd::Function<FusedAttention> {
  // qkv: fp32 or bf16; mask: [b, 1, 1, l] or empty for none (LibTorch 1.13's custom functions
  // take no undefined tensor).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& qkv,
                            const at::Tensor& mask, int64_t heads, double p) {
    const Shape s(qkv, heads, p);
    const at::Tensor keep = detail::keep_mask_or_empty({s.batch, s.heads, s.l, s.l}, p);
    at::Tensor probs = at::empty({s.batch, heads, s.l, s.l}, qkv.options().dtype(at::kFloat));
    // bf16 on oneDNN keeps what met v too (half the probabilities' size): backward's first
    // product takes it as it is, instead of a pass that remakes and narrows it.
    const bool keep_pv = s.bf16 && blas::have_gemm_bf16();
    at::Tensor pv16 = keep_pv ? at::empty_like(probs, qkv.options()) : at::empty({0});
    at::Tensor out = run_forward(s, qkv, mask, keep, probs.data_ptr<float>(),
                                 keep_pv ? detail::bf16_data(pv16) : nullptr);
    // bf16 keeps the bf16 projection (half the memory).
    ctx->save_for_backward({qkv, probs, keep, pv16});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["p"] = p;
    return out;  // [b, l, H]
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &qkv = saved[0], &probs = saved[1], &keep = saved[2], &pv16 = saved[3];
    const Shape s(qkv, ctx->saved_data["heads"].toInt(), ctx->saved_data["p"].toDouble());
    if (pv16.numel() > 0) {
      const at::Tensor go = grad[0].to(at::kBFloat16).contiguous();  // [b, l, H]
      at::Tensor grad_qkv = at::empty_like(qkv);                     // [b, l, 3H] bf16
      attention_backward_bf16(s, detail::bf16_data(qkv), probs.data_ptr<float>(),
                              detail::bf16_data(pv16), detail::keep_data(keep),
                              detail::bf16_data(go), detail::bf16_data(grad_qkv));
      return {grad_qkv, at::Tensor(), at::Tensor(), at::Tensor()};
    }
    const at::Tensor q32 = qkv.to(at::kFloat);
    const at::Tensor go = grad[0].to(at::kFloat).contiguous();  // [b, l, H]
    at::Tensor grad_qkv = at::empty_like(q32);                  // [b, l, 3H]
    attention_backward(s, q32.data_ptr<float>(), probs.data_ptr<float>(), detail::keep_data(keep),
                       go.data_ptr<float>(), grad_qkv.data_ptr<float>());
    return {grad_qkv.to(qkv.scalar_type()), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// ---- The probabilities alone: scale, mask, softmax and dropout between two ATen products ----

// The sizes of fused_softmax_dropout's scores, [batch, heads, l, l].
struct RowsShape {
  int64_t batch, heads, l;
  float sqrt_d, scale;
  bool bf16;

  RowsShape(const at::Tensor& scores, int64_t head_dim, double p)
      : batch(scores.size(0)),
        heads(scores.size(1)),
        l(scores.size(3)),
        sqrt_d(static_cast<float>(std::sqrt(static_cast<double>(head_dim)))),
        scale(p > 0.0 ? dropout_scale(p) : 1.0f),
        bf16(scores.scalar_type() == at::kBFloat16) {}
  int64_t block() const { return l * l; }
};

// scores: [b, heads, l, l] contiguous, fp32 or bf16 (`out` alike); probs: [b, heads, l, l]
// fp32, kept for backward. Each (sequence, head) block goes through a per-thread fp32 buffer
// once; in fp32 the probabilities and the dropped ones are written straight to their tensors.
void softmax_dropout_forward(const RowsShape& s, const at::Tensor& scores, const float* mask,
                             const bool* keep, float* probs, const at::Tensor& out) {
  at::parallel_for(0, s.batch * s.heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> in(s.bf16 ? s.block() : 0), dropped(s.bf16 ? s.block() : 0);
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t at_block = pair * s.block();
      const float* si = in.data();
      if (s.bf16) {
        detail::widen_bf16(detail::bf16_data(scores) + at_block, s.block(), in.data());
      } else {
        si = scores.data_ptr<float>() + at_block;
      }
      float* to_v = s.bf16 ? dropped.data() : out.data_ptr<float>() + at_block;
      detail::softmax_rows(si, detail::offset(mask, (pair / s.heads) * s.l), s.sqrt_d, s.l, s.l,
                           probs + at_block, detail::offset(keep, at_block), s.scale, s.bf16, to_v);
      if (s.bf16) {
        detail::narrow_bf16(to_v, s.block(), detail::bf16_data(out) + at_block);
      } else if (!keep) {  // softmax_rows wrote no separate copy
        std::copy_n(probs + at_block, s.block(), to_v);
      }
    }
  });
}

// grad: the gradient of the dropped probabilities -> that of the scores, both [b, heads, l, l]
// in the scores' dtype.
void softmax_dropout_backward(const RowsShape& s, const float* probs, const bool* keep,
                              const at::Tensor& grad, const at::Tensor& grad_scores) {
  at::parallel_for(0, s.batch * s.heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> g(s.bf16 ? s.block() : 0);
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t at_block = pair * s.block();
      float* gi = s.bf16 ? g.data() : grad_scores.data_ptr<float>() + at_block;
      if (s.bf16) {
        detail::widen_bf16(detail::bf16_data(grad) + at_block, s.block(), gi);
      } else {
        std::copy_n(grad.data_ptr<float>() + at_block, s.block(), gi);
      }
      detail::softmax_rows_backward(gi, probs + at_block, detail::offset(keep, at_block), s.scale,
                                    s.sqrt_d, s.bf16, s.l, s.l);
      if (s.bf16) detail::narrow_bf16(gi, s.block(), detail::bf16_data(grad_scores) + at_block);
    }
  });
}

struct SoftmaxDropout : public torch::autograd::Function<SoftmaxDropout> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& scores,
                            const at::Tensor& mask, int64_t head_dim, double p) {
    const RowsShape s(scores, head_dim, p);
    const at::Tensor keep = detail::keep_mask_or_empty(scores.sizes(), p);
    at::Tensor probs = at::empty(scores.sizes(), scores.options().dtype(at::kFloat));
    at::Tensor out = at::empty_like(scores);
    softmax_dropout_forward(s, scores, detail::float_data(mask), detail::keep_data(keep),
                            probs.data_ptr<float>(), out);
    ctx->save_for_backward({probs, keep});
    ctx->saved_data["head_dim"] = head_dim;
    ctx->saved_data["p"] = p;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &probs = saved[0], &keep = saved[1];
    const at::Tensor g = grad[0].contiguous();  // [b, heads, l, l]
    const RowsShape s(g, ctx->saved_data["head_dim"].toInt(), ctx->saved_data["p"].toDouble());
    at::Tensor grad_scores = at::empty_like(g);
    softmax_dropout_backward(s, probs.data_ptr<float>(), detail::keep_data(keep), g, grad_scores);
    return {grad_scores, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool fused_cpu_attention_supports(const at::Tensor& qkv) {
  return detail::cpu_fp32_or_bf16(qkv) && qkv.is_contiguous() && blas::have_sgemm();
}

bool fused_cpu_attention_preferred(const at::Tensor& qkv, bool needs_grad) {
  return fused_cpu_attention_supports(qkv) &&
         (qkv.scalar_type() == at::kFloat || !needs_grad || blas::have_gemm_bf16());
}

at::Tensor fused_cpu_attention(const at::Tensor& qkv, int64_t heads, const at::Tensor& mask_bias,
                               double dropout_p) {
  ELECTRA_CHECK(fused_cpu_attention_supports(qkv) && qkv.dim() == 3 &&
                    qkv.size(2) % (3 * heads) == 0 &&
                    (!mask_bias.defined() || mask_bias.numel() == qkv.size(0) * qkv.size(1)),
                "fused_cpu_attention: unsupported qkv ", qkv.sizes(), " ", qkv.scalar_type());
  const at::Tensor mask = detail::float_or_empty(mask_bias);
  if (at::GradMode::is_enabled() && qkv.requires_grad())
    return FusedAttention::apply(qkv, mask, heads, dropout_p);
  // Evaluation or no gradient: nothing is kept, the probabilities stay in per-thread buffers.
  const Shape s(qkv, heads, dropout_p);
  const at::Tensor keep = detail::keep_mask_or_empty({s.batch, s.heads, s.l, s.l}, dropout_p);
  return run_forward(s, qkv, mask, keep, nullptr, nullptr);
}

bool fused_softmax_dropout_supports(const at::Tensor& scores) {
  return detail::cpu_fp32_or_bf16(scores) && scores.dim() == 4 && scores.size(2) == scores.size(3);
}

at::Tensor fused_softmax_dropout(const at::Tensor& scores, const at::Tensor& mask_bias,
                                 int64_t head_dim, double dropout_p) {
  ELECTRA_CHECK(fused_softmax_dropout_supports(scores) &&
                    (!mask_bias.defined() || mask_bias.numel() == scores.size(0) * scores.size(3)),
                "fused_softmax_dropout: unsupported scores ", scores.sizes(), " ",
                scores.scalar_type());
  const at::Tensor mask = detail::float_or_empty(mask_bias);
  return SoftmaxDropout::apply(scores.contiguous(), mask, head_dim, dropout_p);
}

}  // namespace electra::model
