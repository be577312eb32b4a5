// Analytic matmul FLOPs (2 per multiply-add) of the ELECTRA models, for MFU reporting.
// Element-wise work (LayerNorm, softmax, GELU, dropout, the optimizer) is not counted, as is
// usual for MFU: it is the part a faster implementation hides, not the work the model needs.
#pragma once

#include <cstdint>

#include "model/electra_config.h"

namespace electra::pretrain {

// Forward FLOPs of the encoder (embedding projection + layers) on [batch, seq] tokens.
double encoder_forward_flops(const model::ElectraConfig& c, int64_t batch, int64_t seq);

// Forward FLOPs of the discriminator (encoder + replaced-token head).
double discriminator_forward_flops(const model::ElectraConfig& c, int64_t batch, int64_t seq);

// One RTD training step: generator forward on all tokens, its MLM head on `masked` positions,
// discriminator forward on all tokens; backward counted as twice the forward.
double rtd_train_step_flops(const model::ElectraConfig& disc, const model::ElectraConfig& gen,
                            int64_t batch, int64_t seq, int64_t masked);

}  // namespace electra::pretrain
