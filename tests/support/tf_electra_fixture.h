// An ELECTRA pre-training checkpoint in TF form for tests: the variable names of
// google-research/electra, each with the HF name it must get, spelled out by hand (not derived
// from the mapping rules under test), written with tests/support/tf_bundle_writer.h.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "model/electra_config.h"
#include "model/tf_electra.h"
#include "tests/support/tf_bundle_writer.h"

namespace electra::testing {

struct Var {
  std::string tf, hf;          // hf empty: not part of the converted network
  std::vector<int64_t> shape;  // TF shape
  bool transpose = false;
};

inline model::ElectraConfig disc_config() {
  model::ElectraConfig c;
  c.vocab_size = 12;
  c.embedding_size = 4;
  c.hidden_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 16;
  c.max_position_embeddings = 10;
  return c;
}

inline model::ElectraConfig gen_config() {
  model::ElectraConfig c = disc_config();
  c.hidden_size = 6;
  c.intermediate_size = 12;
  return c;
}

inline void add_dense(std::vector<Var>& v, const std::string& tf, const std::string& hf, int64_t in,
                      int64_t out) {
  v.push_back({tf + "/kernel", hf + ".weight", {in, out}, true});
  v.push_back({tf + "/bias", hf + ".bias", {out}});
}
inline void add_norm(std::vector<Var>& v, const std::string& tf, const std::string& hf, int64_t n) {
  v.push_back({tf + "/gamma", hf + ".weight", {n}});
  v.push_back({tf + "/beta", hf + ".bias", {n}});
}
inline void add_encoder(std::vector<Var>& v, const std::string& tf_scope,
                        const model::ElectraConfig& c) {
  const int64_t h = c.hidden_size, i = c.intermediate_size;
  add_dense(v, tf_scope + "/embeddings_project", "electra.embeddings_project", c.embedding_size, h);
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string tf = tf_scope + "/encoder/layer_" + std::to_string(l);
    const std::string hf = "electra.encoder.layer." + std::to_string(l);
    add_dense(v, tf + "/attention/self/query", hf + ".attention.self.query", h, h);
    add_dense(v, tf + "/attention/self/key", hf + ".attention.self.key", h, h);
    add_dense(v, tf + "/attention/self/value", hf + ".attention.self.value", h, h);
    add_dense(v, tf + "/attention/output/dense", hf + ".attention.output.dense", h, h);
    add_norm(v, tf + "/attention/output/LayerNorm", hf + ".attention.output.LayerNorm", h);
    add_dense(v, tf + "/intermediate/dense", hf + ".intermediate.dense", h, i);
    add_dense(v, tf + "/output/dense", hf + ".output.dense", i, h);
    add_norm(v, tf + "/output/LayerNorm", hf + ".output.LayerNorm", h);
  }
}

// Every variable of a pre-training checkpoint, with its HF name for `part`.
inline std::vector<Var> checkpoint_vars(model::ElectraPart part) {
  const model::ElectraConfig d = disc_config(), g = gen_config();
  std::vector<Var> shared, disc, gen;
  shared.push_back(
      {"electra/embeddings/word_embeddings", "electra.embeddings.word_embeddings.weight", {12, 4}});
  shared.push_back({"electra/embeddings/position_embeddings",
                    "electra.embeddings.position_embeddings.weight",
                    {10, 4}});
  shared.push_back({"electra/embeddings/token_type_embeddings",
                    "electra.embeddings.token_type_embeddings.weight",
                    {2, 4}});
  add_norm(shared, "electra/embeddings/LayerNorm", "electra.embeddings.LayerNorm", 4);
  add_encoder(disc, "electra", d);
  add_dense(disc, "discriminator_predictions/dense", "discriminator_predictions.dense", 8, 8);
  add_dense(disc, "discriminator_predictions/dense_1", "discriminator_predictions.dense_prediction",
            8, 1);
  add_encoder(gen, "generator", g);
  add_dense(gen, "generator_predictions/dense", "generator_predictions.dense", 6, 4);
  add_norm(gen, "generator_predictions/LayerNorm", "generator_predictions.LayerNorm", 4);
  gen.push_back({"generator_predictions/output_bias", "generator_lm_head.bias", {12}});
  std::vector<Var> all = shared;
  for (Var v : disc) {
    if (part != model::ElectraPart::kDiscriminator) v.hf.clear();
    all.push_back(v);
  }
  for (Var v : gen) {
    if (part != model::ElectraPart::kGenerator) v.hf.clear();
    all.push_back(v);
  }
  // Training state, never converted.
  all.push_back({"global_step", "", {}});
  all.push_back({"electra/encoder/layer_0/attention/self/query/kernel/adam_m", "", {8, 8}});
  all.push_back({"electra/encoder/layer_0/attention/self/query/kernel/adam_v", "", {8, 8}});
  return all;
}

// Writes the checkpoint (random values, seeded; 2 shards, snappy index) at `prefix` and
// returns the TF tensors by name. `extra`: more float variables of shape [1].
inline std::map<std::string, at::Tensor> write_electra_checkpoint(
    const std::string& prefix, const std::vector<Var>& vars,
    const std::vector<std::string>& extra = {}) {
  at::manual_seed(7);
  std::map<std::string, at::Tensor> values;
  std::vector<testing::BundleTensor> tensors;
  int k = 0;
  for (const Var& v : vars) {
    testing::BundleTensor t;
    t.name = v.tf;
    t.shape = v.shape;
    t.shard = k++ % 2;
    if (v.tf == "global_step") {
      t.dtype = 9;
      t.bytes = testing::raw_bytes(std::vector<int64_t>{1000000});
    } else {
      const at::Tensor x = at::randn(v.shape);
      values[v.tf] = x;
      t.bytes.assign(static_cast<const char*>(x.data_ptr()), x.numel() * 4);
    }
    tensors.push_back(t);
  }
  for (const auto& name : extra)
    tensors.push_back({name, 1, {1}, testing::raw_bytes(std::vector<float>{0.f})});
  testing::BundleOptions opt;
  opt.num_shards = 2;
  opt.table.snappy = true;
  opt.table.block_size = 512;
  testing::write_bundle(prefix, tensors, opt);
  return values;
}

}  // namespace electra::testing
