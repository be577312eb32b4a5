// Random fills for the training hot path. ATen's CPU generator hands out one number at a
// time on one thread: measured here, a dropout mask of 2M elements takes ~60 ms and the
// Gumbel noise of one ELECTRA-Small batch ([608, 30522]) ~250 ms, together about two thirds
// of a training step. These functions take a single 64-bit seed from a torch generator and
// fill fixed-size chunks in parallel, each chunk from its own xoshiro256** stream (seeded
// with the chunk's index). The result depends only on the generator's state, never on the
// thread count, so training stays reproducible and checkpoints resume exactly.
#pragma once

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include <cstdint>

namespace electra {
class Rng;  // common/rng.h
}

namespace electra::model {

// One 64-bit draw from `gen` (locks it, as ATen's own samplers do).
uint64_t draw_seed(at::Generator& gen);

// Fills `out` (contiguous fp32) with uniform values in [0, 1) on a 2^-24 grid.
void fill_uniform_(at::Tensor& out, at::Generator& gen);

// The same values for one stream: n uniforms from `rng`, two per 64-bit draw.
void fill_uniform(Rng& rng, float* out, int64_t n);

// Inverted dropout: in training, each element is kept with probability 1 - p and scaled by
// 1 / (1 - p), else zeroed; the identity otherwise. On the CPU the mask comes from the default
// CPU generator; gradients flow through the multiplication by the mask. On other devices it is
// at::dropout (the device's fused kernel and default generator).
at::Tensor dropout(const at::Tensor& x, double p, bool training);

// The CPU mask dropout() draws (bool, true = kept; 0 < p < 1), for kernels that apply it
// themselves (model/cpu_attention.h): the same generator draws give the same mask.
at::Tensor dropout_keep_mask(at::IntArrayRef sizes, double p);
// 1 / (1 - p) rounded to fp32, the factor dropout() scales kept values by.
float dropout_scale(double p);

}  // namespace electra::model
