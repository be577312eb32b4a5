// Layer-wise learning-rate decay: the exact factor of every parameter group, and that AdamW
// applies it (one Adam step moves each weight by lr * factor when all gradients are 1).
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <cmath>
#include <map>

#include "finetune/llrd.h"
#include "model/electra.h"
#include "pretrain/optimizer.h"

namespace electra::finetune {
namespace {

TEST(LayerDecay, DepthOfEachParameterGroup) {
  EXPECT_EQ(parameter_depth("electra.embeddings.word_embeddings.weight", 4), 0);
  EXPECT_EQ(parameter_depth("electra.embeddings_project.bias", 4), 0);
  EXPECT_EQ(parameter_depth("electra.encoder.layer.0.attention.self.query.weight", 4), 1);
  EXPECT_EQ(parameter_depth("electra.encoder.layer.3.output.LayerNorm.weight", 4), 4);
  EXPECT_EQ(parameter_depth("electra.encoder.layer.10.output.dense.bias", 12), 11);
  EXPECT_EQ(parameter_depth("classifier.out_proj.weight", 4), 5);
}

TEST(LayerDecay, OurConventionTopLayerAtBaseRate) {
  const LayerDecay d{0.8, false};
  // L = 3: head and layer 2 at lr, layer 1 lr*0.8, layer 0 lr*0.64, embeddings lr*0.512.
  EXPECT_DOUBLE_EQ(lr_scale("classifier.dense.weight", 3, d), 1.0);
  EXPECT_DOUBLE_EQ(lr_scale("electra.encoder.layer.2.intermediate.dense.weight", 3, d), 1.0);
  EXPECT_DOUBLE_EQ(lr_scale("electra.encoder.layer.1.intermediate.dense.weight", 3, d), 0.8);
  EXPECT_DOUBLE_EQ(lr_scale("electra.encoder.layer.0.intermediate.dense.weight", 3, d), 0.8 * 0.8);
  EXPECT_DOUBLE_EQ(lr_scale("electra.embeddings.LayerNorm.weight", 3, d), 0.8 * 0.8 * 0.8);
  EXPECT_DOUBLE_EQ(lr_scale("electra.embeddings_project.weight", 3, d), 0.8 * 0.8 * 0.8);
}

TEST(LayerDecay, OfficialExponentsHaveTwoExtraFactors) {
  // google-research/electra _get_layer_lrs with n_layers = 3: depth embeddings 0, layer k k+1,
  // task_specific 5; lr * decay^(3 + 2 - depth).
  const LayerDecay d{0.8, true};
  EXPECT_DOUBLE_EQ(lr_scale("classifier.out_proj.bias", 3, d), 1.0);
  EXPECT_DOUBLE_EQ(lr_scale("electra.encoder.layer.2.output.dense.weight", 3, d), std::pow(0.8, 2));
  EXPECT_DOUBLE_EQ(lr_scale("electra.encoder.layer.0.output.dense.weight", 3, d), std::pow(0.8, 4));
  EXPECT_DOUBLE_EQ(lr_scale("electra.embeddings.word_embeddings.weight", 3, d), std::pow(0.8, 5));
}

TEST(LayerDecay, DecayOneIsUniform) {
  const LayerDecay d{1.0, false};
  EXPECT_DOUBLE_EQ(lr_scale("electra.embeddings.word_embeddings.weight", 12, d), 1.0);
}

model::ElectraConfig tiny() {
  model::ElectraConfig c;
  c.vocab_size = 20;
  c.embedding_size = 8;
  c.hidden_size = 16;  // != embedding: the model has embeddings_project
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 32;
  c.max_position_embeddings = 16;
  c.num_labels = 3;
  return c;
}

TEST(LayerDecay, EveryParameterOfTheClassifierHasAGroup) {
  torch::manual_seed(0);
  model::ElectraForSequenceClassification net(tiny());
  std::map<double, int> per_scale;
  for (const auto& p : net->named_parameters())
    per_scale[lr_scale(p.key(), 2, LayerDecay{0.5, false})]++;
  // Scales 0.25 (embeddings + projection), 0.5 (layer 0), 1 (layer 1 + head).
  ASSERT_EQ(per_scale.size(), 3u);
  EXPECT_EQ(per_scale[0.25], 3 + 2 + 2);  // word/position/type tables, LayerNorm w+b, project w+b
  EXPECT_EQ(per_scale[0.5], 16);          // one layer: 8 Linear (w+b) pairs and LayerNorms
  EXPECT_EQ(per_scale[1.0], 16 + 4);      // the top layer + classifier.dense/out_proj w+b
}

TEST(LayerDecay, AdamWAppliesTheScaleToEachParameter) {
  torch::manual_seed(0);
  model::ElectraForSequenceClassification net(tiny());
  std::vector<std::pair<std::string, at::Tensor>> params;
  std::vector<std::string> names;
  for (const auto& p : net->named_parameters()) {
    params.emplace_back(p.key(), p.value());
    names.push_back(p.key());
  }
  const LayerDecay d{0.8, false};
  const auto scales = lr_scales(names, 2, d);
  pretrain::AdamWOptions o;
  o.weight_decay = 0;
  o.eps = 1e-12;
  pretrain::AdamW opt(params, o, scales);
  std::vector<at::Tensor> before;
  for (auto& [n, p] : params) {
    before.push_back(p.detach().clone());
    p.mutable_grad() = at::ones_like(p);
  }
  opt.step(0.1);
  // First Adam step with bias correction: m_hat = g, v_hat = g^2, update = lr * scale.
  for (size_t i = 0; i < params.size(); ++i) {
    const double moved = (before[i] - params[i].second.detach()).abs().max().item<double>();
    EXPECT_NEAR(moved, 0.1 * scales[i], 1e-6) << params[i].first;
  }
}

}  // namespace
}  // namespace electra::finetune
