// Gumbel-max sampling on the CPU in one pass per row (internal to pretrain/sampling.cpp). The
// tensor-op version made eight passes over the [masked, vocab] scores and filled a noise
// tensor as large; for ELECTRA-Small at batch 32 it was ~7% of an fp32 training step.
#pragma once

#include <cstdint>

namespace electra::pretrain::detail {

// out[r] = argmax_j (logits[r, j] / temperature - log(-log(u_rj + 1e-9) + 1e-9)), the division
// skipped at temperature 1, for `rows` contiguous fp32 rows of `vocab` logits. u_rj: uniform on
// a 2^-24 grid from row r's own xoshiro256** stream, seeded by (seed, r), so the draw depends
// only on `seed`, never on the thread count.
void gumbel_argmax_cpu(const float* logits, int64_t rows, int64_t vocab, float temperature,
                       uint64_t seed, int64_t* out);
// The same on bf16 logits (raw bits), each row widened exactly to fp32 first: the same samples
// as widening the whole tensor, without its [rows, vocab] fp32 copy.
void gumbel_argmax_cpu(const uint16_t* logits, int64_t rows, int64_t vocab, float temperature,
                       uint64_t seed, int64_t* out);

// In place: scores[j] = logits[j] / temperature - log(-log(scores[j] + 1e-9) + 1e-9), where
// scores holds the uniforms on entry. In its own file, built with -ffast-math so that the two
// logf calls per element become glibc's vector logf (libmvec); that file includes nothing
// else, so no inline function compiled under -ffast-math can leak into other files.
void gumbel_scores(const float* logits, float* scores, int64_t n, float temperature);

}  // namespace electra::pretrain::detail
