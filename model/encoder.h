// The ELECTRA encoder (HF ElectraModel): embeddings, optional embeddings_project, post-LN BERT
// layers. Registered module names equal HuggingFace state-dict keys, e.g.
// "encoder.layer.0.attention.self.query.weight".
//
// Precision: parameters are fp32 masters. Every forward takes the compute dtype `dt`: with
// bf16 the matmuls (linear, attention) run in bf16 while LayerNorm, softmax and the residual
// stream stay fp32 (torch 1.13's CPU LayerNorm rejects bf16 input with fp32 weights, and fp32
// statistics are what CUDA autocast does too).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

#include "model/attention.h"
#include "model/electra_config.h"

namespace electra::model {

enum class Activation { kGelu, kGeluTanh, kGeluFast, kQuickGelu, kRelu, kSilu, kTanh, kLinear };
Activation parse_activation(const std::string& name);
at::Tensor activate(Activation act, const at::Tensor& x);

// y = x W^T + b in dtype `dt` (weights cast from their fp32 masters when dt differs).
at::Tensor linear(const torch::nn::Linear& lin, const at::Tensor& x, at::ScalarType dt);
// x w^T + b in x's dtype, w and b (or undefined) in theirs: as they are when the dtypes match,
// model/bf16_linear.h's node for fp32 parameters and a bf16 x on the CPU (fp32 gradients without
// casts), else at::linear on the parameters cast to x's dtype.
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b);
// LayerNorm in fp32 whatever the input dtype; returns fp32.
at::Tensor layer_norm(const torch::nn::LayerNorm& ln, const at::Tensor& x);
// The module's dropout (its p, its training flag) through model/fast_random.h.
at::Tensor dropout(const torch::nn::Dropout& d, const at::Tensor& x);

// The residual stream between blocks: fp32, plus its copy in the compute dtype where the
// fused CUDA block wrote one beside it (model/add_layer_norm.h), which the next block's
// products take instead of casting the fp32 tensor again (and whose gradient the fused
// backward adds in, instead of a cast and an add).
struct Hidden {
  at::Tensor f32;  // [batch, seq, hidden] fp32
  at::Tensor low;  // the same in the compute dtype, or undefined
  // The stream in dtype dt: `low` when it has that dtype, else a cast of f32.
  at::Tensor in(at::ScalarType dt) const;
};

class ElectraEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit ElectraEmbeddingsImpl(const ElectraConfig& cfg);
  // input_ids, token_type_ids: [batch, seq] int64 -> [batch, seq, embedding] fp32
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids);

  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr},
      token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(ElectraEmbeddings);

class ElectraSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit ElectraSelfAttentionImpl(const ElectraConfig& cfg);
  // h: [batch, seq, hidden]; mask_bias: [batch, 1, 1, seq] fp32 additive (0 or -inf-ish)
  // -> context [batch, seq, hidden] in dt
  at::Tensor forward(const at::Tensor& h, const at::Tensor& mask_bias, at::ScalarType dt);
  // The same from h already in dt.
  at::Tensor attend(const at::Tensor& h_dt, const at::Tensor& mask_bias, at::ScalarType dt);

  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  torch::nn::Dropout dropout{nullptr};
  int64_t heads = 0, head_dim = 0;
  AttentionKernel kernel = AttentionKernel::kEager;  // see set_attention()
};
TORCH_MODULE(ElectraSelfAttention);

// dense -> dropout -> LayerNorm(. + residual): HF's attention.output and output blocks.
class ElectraResidualOutputImpl : public torch::nn::Module {
 public:
  ElectraResidualOutputImpl(const ElectraConfig& cfg, int64_t in_features);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& residual, at::ScalarType dt);
  Hidden forward_hidden(const at::Tensor& x, const at::Tensor& residual, at::ScalarType dt);
  // LayerNorm(dropout(projected + projected_bias) + residual), for a caller that computed
  // dense(x) itself; projected_bias: dense's bias where the caller left it out
  // (defers_bias), else undefined. Hidden.low is the low-precision copy of the result where a
  // fused kernel writes one: the CUDA kernel (fused_cuda, CUDA tensors, projected not fp32) or
  // the CPU one (fused, CPU tensors, projected bf16).
  Hidden add_residual_hidden(const at::Tensor& projected, const at::Tensor& residual,
                             const at::Tensor& projected_bias = {});
  // Whether dense's product may leave its bias to add_residual_hidden: the fused CPU path in fp32
  // and bf16, where adding it there saves addmm's pass that copies the bias into the output (and in
  // bf16 the bias's casts and its gradient's separate sum).
  bool defers_bias(const at::Tensor& residual, at::ScalarType dt) const;

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
  // model/add_layer_norm.h on the CPU instead of ATen's ops; set with the fused attention
  // kernel (set_attention).
  bool fused = false;
  // model/add_layer_norm.h's CUDA kernel for CUDA tensors instead of ATen's ops; set by
  // set_fused_layer_norm.
  bool fused_cuda = false;
};
TORCH_MODULE(ElectraResidualOutput);

class ElectraAttentionImpl : public torch::nn::Module {
 public:
  explicit ElectraAttentionImpl(const ElectraConfig& cfg);
  at::Tensor forward(const at::Tensor& h, const at::Tensor& mask_bias, at::ScalarType dt);
  Hidden forward_hidden(const Hidden& h, const at::Tensor& mask_bias, at::ScalarType dt);

  ElectraSelfAttention self{nullptr};
  ElectraResidualOutput output{nullptr};
};
TORCH_MODULE(ElectraAttention);

class ElectraIntermediateImpl : public torch::nn::Module {
 public:
  explicit ElectraIntermediateImpl(const ElectraConfig& cfg);
  at::Tensor forward(const at::Tensor& x, at::ScalarType dt);

  torch::nn::Linear dense{nullptr};
  Activation act;
  // With a GELU, the layer's feed-forward node runs its backward as one CUDA kernel
  // (model/feed_forward.h): set_fused_bias_gelu.
  bool fused_cuda = false;
};
TORCH_MODULE(ElectraIntermediate);

class ElectraLayerImpl : public torch::nn::Module {
 public:
  explicit ElectraLayerImpl(const ElectraConfig& cfg);
  // [batch, seq, hidden] fp32 -> [batch, seq, hidden] fp32
  at::Tensor forward(const at::Tensor& h, const at::Tensor& mask_bias, at::ScalarType dt);
  Hidden forward_hidden(const Hidden& h, const at::Tensor& mask_bias, at::ScalarType dt);

  ElectraAttention attention{nullptr};
  ElectraIntermediate intermediate{nullptr};
  ElectraResidualOutput output{nullptr};
};
TORCH_MODULE(ElectraLayer);

// HF "encoder": holds the ModuleList "layer".
class ElectraEncoderImpl : public torch::nn::Module {
 public:
  explicit ElectraEncoderImpl(const ElectraConfig& cfg);
  torch::nn::ModuleList layer{nullptr};
  std::vector<ElectraLayer> layers;  // typed view of `layer`
};
TORCH_MODULE(ElectraEncoder);

// HF ElectraModel, registered under "electra" by the task models.
class ElectraModelImpl : public torch::nn::Module {
 public:
  // `shared` (optional): an embedding block owned by another model (the generator shares the
  // discriminator's word/position/token-type embeddings and their LayerNorm).
  explicit ElectraModelImpl(const ElectraConfig& cfg, ElectraEmbeddings shared = nullptr);

  // input_ids, attention_mask, token_type_ids: [batch, seq] int64 (mask/types may be undefined)
  // -> last hidden state [batch, seq, hidden] fp32. With `all_hidden`, also collects HF's
  // hidden_states (index 0 = embedding output after embeddings_project). A mask without padding
  // is skipped, which costs a look at it on the host (a device synchronisation on a GPU);
  // `apply_mask` applies it without looking, for a caller that knows the batch is padded or must
  // not synchronise (a CUDA graph).
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& token_type_ids, at::ScalarType dt,
                     std::vector<at::Tensor>* all_hidden = nullptr, bool apply_mask = false);

  ElectraConfig config;
  ElectraEmbeddings embeddings{nullptr};
  torch::nn::Linear embeddings_project{nullptr};  // only when embedding_size != hidden_size
  ElectraEncoder encoder{nullptr};
};
TORCH_MODULE(ElectraModel);

// Selects the attention kernel of every self-attention block in `module` (a task model, a
// pretraining pair's part, ...); kFused also fuses each block's dropout, residual add and
// LayerNorm on the CPU (model/add_layer_norm.h). Weights and names do not change.
void set_attention(torch::nn::Module& module, AttentionKernel kernel);

// On CUDA tensors, every block's dropout, residual add and LayerNorm in one kernel each way
// (model/add_layer_norm.h) when `on` and the build has the kernels; ATen's ops otherwise. No
// effect on the CPU (set_attention's kFused covers it there).
void set_fused_layer_norm(torch::nn::Module& module, bool on);

// On CUDA tensors, each GELU feed-forward block's backward GELU, its derivative and the first
// product's bias gradient in one kernel (model/feed_forward.h) when `on` and the build has the
// kernels; ATen's three passes otherwise. No effect on the CPU, which has its own fused passes.
void set_fused_bias_gelu(torch::nn::Module& module, bool on);

// HF _init_weights: Linear/Embedding weights ~ N(0, initializer_range), biases 0, the padding
// row 0, LayerNorm 1/0. Uses the default torch generator (seed it first).
void init_weights(torch::nn::Module& module, const ElectraConfig& cfg);

}  // namespace electra::model
