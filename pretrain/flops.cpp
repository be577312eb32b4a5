#include "pretrain/flops.h"

namespace electra::pretrain {

double encoder_forward_flops(const model::ElectraConfig& c, int64_t batch, int64_t seq) {
  const double t = static_cast<double>(batch) * static_cast<double>(seq);  // tokens
  const double h = static_cast<double>(c.hidden_size);
  const double ffn = static_cast<double>(c.intermediate_size);
  double f = 0;
  if (c.embedding_size != c.hidden_size) f += 2.0 * t * c.embedding_size * h;
  const double per_layer = 2.0 * t * h * h * 4       // query, key, value, output projections
                           + 2.0 * t * seq * h * 2   // scores q k^T and context p v
                           + 2.0 * t * h * ffn * 2;  // feed-forward in and out
  return f + per_layer * static_cast<double>(c.num_hidden_layers);
}

double discriminator_forward_flops(const model::ElectraConfig& c, int64_t batch, int64_t seq) {
  const double t = static_cast<double>(batch) * static_cast<double>(seq);
  const double h = static_cast<double>(c.hidden_size);
  return encoder_forward_flops(c, batch, seq) + 2.0 * t * h * h + 2.0 * t * h;
}

double rtd_train_step_flops(const model::ElectraConfig& disc, const model::ElectraConfig& gen,
                            int64_t batch, int64_t seq, int64_t masked) {
  const double m = static_cast<double>(masked);
  const double gen_head = 2.0 * m * gen.hidden_size * gen.embedding_size +
                          2.0 * m * gen.embedding_size * gen.vocab_size;
  const double fwd = encoder_forward_flops(gen, batch, seq) + gen_head +
                     discriminator_forward_flops(disc, batch, seq);
  return 3.0 * fwd;
}

}  // namespace electra::pretrain
