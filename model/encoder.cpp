#include "model/encoder.h"

#include <cmath>
#include <limits>

#include <ATen/core/grad_mode.h>
#include <torch/utils.h>

#include "common/error.h"
#include "model/add_layer_norm.h"
#include "model/bf16_linear.h"
#include "model/cpu_attention.h"
#include "model/cuda_linear.h"
#include "model/fast_random.h"
#include "model/feed_forward.h"
#include "model/onednn_linear.h"
#include "model/param_cast.h"
#include "model/weight_cast.h"

namespace electra::model {

Activation parse_activation(const std::string& name) {
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  if (name == "gelu_fast") return Activation::kGeluFast;
  if (name == "quick_gelu") return Activation::kQuickGelu;
  if (name == "relu") return Activation::kRelu;
  if (name == "silu" || name == "swish") return Activation::kSilu;
  if (name == "tanh") return Activation::kTanh;
  if (name == "linear") return Activation::kLinear;
  throw_user("unsupported hidden_act '", name, "'");
}

at::Tensor activate(Activation act, const at::Tensor& x) {
  switch (act) {
    case Activation::kGelu:
      return at::gelu(x);
    case Activation::kGeluTanh:
      return at::gelu(x, "tanh");
    case Activation::kGeluFast:
      return 0.5 * x * (1.0 + at::tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)));
    case Activation::kQuickGelu:
      return x * at::sigmoid(1.702 * x);
    case Activation::kRelu:
      return at::relu(x);
    case Activation::kSilu:
      return at::silu(x);
    case Activation::kTanh:
      return at::tanh(x);
    case Activation::kLinear:
      return x;
  }
  return x;
}

at::Tensor linear(const torch::nn::Linear& lin, const at::Tensor& x, at::ScalarType dt) {
  return linear(x.to(dt), lin->weight, lin->bias);
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  // Without a gradient, in bf16 or fp32 on the CPU: one oneDNN primitive with the bias inside
  // and the weight packed once (model/onednn_linear.h).
  if (onednn_linear_supports(x, w)) return onednn_linear(x, w, b, Epilogue::kNone);
  const at::ScalarType dt = x.scalar_type();
  // In a GPU training step the weight's cast comes from the step's one pass over all weights
  // (model/param_cast.h). The bias stays the fp32 master: cuda_linear sums its gradient in fp32.
  if (at::GradMode::is_enabled() && w.scalar_type() != dt) {
    const at::Tensor wc = scoped_cast(w, dt);
    if (wc.defined()) return linear(x, wc, b);
  }
  // On CUDA with a gradient: one node whose bias gradient is our column-sum kernel
  // (model/cuda_linear.h).
  if (at::GradMode::is_enabled() && cuda_linear_supports(x, w, b)) return cuda_linear(x, w, b);
  if (dt == w.scalar_type())
    return at::linear(x, w, b.defined() && b.scalar_type() != dt ? b.to(dt) : b);
  if (!at::GradMode::is_enabled()) {
    // Without a gradient: the weights' copies in dt are kept between calls (model/weight_cast.h),
    // and the product is the one bf16_linear computes (addmm on the flattened rows).
    return rows_linear(x, cast_weight(w, dt), b.defined() ? cast_weight(b, dt) : b);
  }
  if (bf16_linear_supports(x, w)) return bf16_linear(x, w, b);
  return at::linear(x, w.to(dt), b.defined() ? b.to(dt) : b);
}

at::Tensor dropout(const torch::nn::Dropout& d, const at::Tensor& x) {
  return model::dropout(x, d->options.p(), d->is_training());
}

at::Tensor layer_norm(const torch::nn::LayerNorm& ln, const at::Tensor& x) {
  const auto& opt = ln->options;
  return at::layer_norm(x.to(at::kFloat), opt.normalized_shape(), ln->weight, ln->bias, opt.eps());
}

namespace {

torch::nn::LayerNorm make_ln(int64_t dim, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

// The probability `d` drops with now: its p in training, 0 in evaluation (for the kernels
// that apply dropout themselves).
double active_p(const torch::nn::Dropout& d) {
  return d->is_training() ? d->options.p() : 0.0;
}

}  // namespace

ElectraEmbeddingsImpl::ElectraEmbeddingsImpl(const ElectraConfig& c) {
  word_embeddings = register_module(
      "word_embeddings",
      torch::nn::Embedding(
          torch::nn::EmbeddingOptions(c.vocab_size, c.embedding_size).padding_idx(c.pad_token_id)));
  position_embeddings = register_module(
      "position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.embedding_size));
  token_type_embeddings = register_module(
      "token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, c.embedding_size));
  LayerNorm = register_module("LayerNorm", make_ln(c.embedding_size, c.layer_norm_eps));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

at::Tensor ElectraEmbeddingsImpl::forward(const at::Tensor& input_ids,
                                          const at::Tensor& token_type_ids) {
  const int64_t seq = input_ids.size(1);
  ELECTRA_CHECK_USER(seq <= position_embeddings->weight.size(0), "sequence length ", seq,
                     " exceeds max_position_embeddings ", position_embeddings->weight.size(0));
  at::Tensor pos = at::arange(seq, input_ids.options().dtype(at::kLong)).unsqueeze(0);  // [1, seq]
  // Same summation order as HF: (word + token_type) + position.
  at::Tensor x = word_embeddings(input_ids) + token_type_embeddings(token_type_ids);
  x = x + position_embeddings(pos);  // [batch, seq, emb]
  return model::dropout(dropout, layer_norm(LayerNorm, x));
}

ElectraSelfAttentionImpl::ElectraSelfAttentionImpl(const ElectraConfig& c)
    : heads(c.num_attention_heads), head_dim(c.head_dim()) {
  query = register_module("query", torch::nn::Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", torch::nn::Linear(c.hidden_size, c.hidden_size));
  value = register_module("value", torch::nn::Linear(c.hidden_size, c.hidden_size));
  dropout = register_module("dropout", torch::nn::Dropout(c.attention_probs_dropout_prob));
}

at::Tensor Hidden::in(at::ScalarType dt) const {
  return low.defined() && low.scalar_type() == dt ? low : f32.to(dt);
}

at::Tensor ElectraSelfAttentionImpl::forward(const at::Tensor& h, const at::Tensor& mask_bias,
                                             at::ScalarType dt) {
  return attend(h.to(dt), mask_bias, dt);
}

at::Tensor ElectraSelfAttentionImpl::attend(const at::Tensor& h, const at::Tensor& mask_bias,
                                            at::ScalarType dt) {
  const int64_t b = h.size(0), l = h.size(1);
  auto split_heads = [&](const at::Tensor& t) {  // [b, l, H] -> [b, heads, l, d]
    return t.view({b, l, heads, head_dim}).permute({0, 2, 1, 3});
  };
  // One [H, 3H] GEMM instead of three [H, H] ones: at ELECTRA-Small's H = 256 the bigger
  // product runs closer to the machine's GEMM rate. The weights stay three HF-named tensors,
  // joined here in fp32: linear() casts the joined matrix, or in bf16 on the CPU hands it to
  // model/bf16_linear.h, whose fp32 gradient the cat's backward splits into the three. In a GPU
  // training step the step's casts (model/param_cast.h) are joined instead, in dt. Without a
  // gradient the joined (and cast) matrix is kept between calls (model/weight_cast.h).
  const bool keep_joined = !at::GradMode::is_enabled();
  const at::Tensor wq = keep_joined ? at::Tensor() : scoped_cast(query->weight, dt);
  const at::Tensor wk = keep_joined ? at::Tensor() : scoped_cast(key->weight, dt);
  const at::Tensor wv = keep_joined ? at::Tensor() : scoped_cast(value->weight, dt);
  const bool casts = wq.defined() && wk.defined() && wv.defined();
  const at::Tensor w = keep_joined ? joined_weight({query->weight, key->weight, value->weight}, dt)
                       : casts
                           ? at::cat({wq, wk, wv}, 0)
                           : at::cat({query->weight, key->weight, value->weight}, 0);  // [3H, H]
  const at::Tensor bias = keep_joined ? joined_weight({query->bias, key->bias, value->bias}, dt)
                                      : at::cat({query->bias, key->bias, value->bias}, 0);  // [3H]
  const at::Tensor proj = linear(h.to(dt), w, bias);  // [b, l, 3H]
  const double p = active_p(dropout);
  // Fused where model/cpu_attention.h prefers it: everywhere on a CPU with oneDNN. Replacing
  // ATen's bf16 batched products, their head permutes and the casts around them took a bf16
  // ELECTRA-Small training step (batch 32, seq 128) from 1183 to 1100 ms (medians of 4).
  const bool needs_grad = at::GradMode::is_enabled() && proj.requires_grad();
  if (kernel == AttentionKernel::kFused && fused_cpu_attention_preferred(proj, needs_grad))
    return fused_cpu_attention(proj, heads, mask_bias, p);  // [b, l, H]
  const auto qkv = proj.chunk(3, -1);                       // 3 x [b, l, H]
  at::Tensor q = split_heads(qkv[0]);
  at::Tensor k = split_heads(qkv[1]);
  at::Tensor v = split_heads(qkv[2]);
  if (kernel == AttentionKernel::kSdpa) {
    // The mask as SDPA wants it: true where a key may be attended to ([b, 1, 1, l] bool).
    const at::Tensor keep = mask_bias.defined() ? mask_bias.eq(0) : at::Tensor();
    at::Tensor ctx = model::sdpa(q, k, v, keep, p);  // [b, heads, l, d] in dt
    return ctx.permute({0, 2, 1, 3}).reshape({b, l, heads * head_dim});
  }
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2));  // [b, heads, l, l] in dt
  at::Tensor probs;                                        // [b, heads, l, l] in dt
  if (kernel == AttentionKernel::kFused && fused_softmax_dropout_supports(scores)) {
    probs = fused_softmax_dropout(scores, mask_bias, head_dim, p);
  } else {
    // HF eager order: (q k^T) / sqrt(d) + mask, softmax in fp32.
    scores = scores.to(at::kFloat) / std::sqrt(static_cast<double>(head_dim));
    if (mask_bias.defined()) scores = scores + mask_bias;
    probs = model::dropout(dropout, at::softmax(scores, -1)).to(dt);
  }
  at::Tensor ctx = at::matmul(probs, v);  // [b, heads, l, d]
  return ctx.permute({0, 2, 1, 3}).reshape({b, l, heads * head_dim});
}

ElectraResidualOutputImpl::ElectraResidualOutputImpl(const ElectraConfig& c, int64_t in_features) {
  dense = register_module("dense", torch::nn::Linear(in_features, c.hidden_size));
  LayerNorm = register_module("LayerNorm", make_ln(c.hidden_size, c.layer_norm_eps));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

at::Tensor ElectraResidualOutputImpl::forward(const at::Tensor& x, const at::Tensor& residual,
                                              at::ScalarType dt) {
  return forward_hidden(x, residual, dt).f32;
}

Hidden ElectraResidualOutputImpl::forward_hidden(const at::Tensor& x, const at::Tensor& residual,
                                                 at::ScalarType dt) {
  if (defers_bias(residual, dt))
    return add_residual_hidden(linear(x.to(dt), dense->weight, at::Tensor()), residual,
                               dense->bias);
  return add_residual_hidden(linear(dense, x, dt), residual);
}

bool ElectraResidualOutputImpl::defers_bias(const at::Tensor& residual, at::ScalarType dt) const {
  return fused && (dt == at::kFloat || dt == at::kBFloat16) && residual.is_cpu() &&
         residual.scalar_type() == at::kFloat;
}

Hidden ElectraResidualOutputImpl::add_residual_hidden(const at::Tensor& projected,
                                                      const at::Tensor& residual,
                                                      const at::Tensor& projected_bias) {
  const auto& ln = LayerNorm->options;
  if (fused_cuda && !projected_bias.defined() &&
      cuda_add_layer_norm_supports(projected, residual)) {
    auto outs = cuda_add_layer_norm(projected, residual, LayerNorm->weight, LayerNorm->bias,
                                    ln.eps(), active_p(dropout), /*low_copy=*/true);
    return {outs[0], outs.size() > 1 ? outs[1] : at::Tensor()};
  }
  if (fused && fused_add_layer_norm_supports(projected, residual)) {
    // The kernel writes the bf16 copy only for a bf16 product; fp32 gives one output.
    auto outs = fused_add_layer_norm_hidden(projected, residual, LayerNorm->weight, LayerNorm->bias,
                                            ln.eps(), active_p(dropout), projected_bias,
                                            /*low_copy=*/true);
    return {outs[0], outs.size() > 1 ? outs[1] : at::Tensor()};
  }
  // dense output (dt) + fp32 residual promotes to fp32 before the LayerNorm.
  at::Tensor y = model::dropout(dropout, projected_bias.defined()
                                             ? projected + projected_bias.to(projected.dtype())
                                             : projected);
  return {layer_norm(LayerNorm, y.to(at::kFloat) + residual), at::Tensor()};
}

ElectraAttentionImpl::ElectraAttentionImpl(const ElectraConfig& c) {
  self = register_module("self", ElectraSelfAttention(c));
  output = register_module("output", ElectraResidualOutput(c, c.hidden_size));
}

at::Tensor ElectraAttentionImpl::forward(const at::Tensor& h, const at::Tensor& mask_bias,
                                         at::ScalarType dt) {
  return forward_hidden({h, at::Tensor()}, mask_bias, dt).f32;
}

Hidden ElectraAttentionImpl::forward_hidden(const Hidden& h, const at::Tensor& mask_bias,
                                            at::ScalarType dt) {
  return output->forward_hidden(self->attend(h.in(dt), mask_bias, dt), h.f32, dt);
}

ElectraIntermediateImpl::ElectraIntermediateImpl(const ElectraConfig& c)
    : act(parse_activation(c.hidden_act)) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.intermediate_size));
}

at::Tensor ElectraIntermediateImpl::forward(const at::Tensor& x, at::ScalarType dt) {
  return activate(act, linear(dense, x, dt));
}

ElectraLayerImpl::ElectraLayerImpl(const ElectraConfig& c) {
  attention = register_module("attention", ElectraAttention(c));
  intermediate = register_module("intermediate", ElectraIntermediate(c));
  output = register_module("output", ElectraResidualOutput(c, c.intermediate_size));
}

at::Tensor ElectraLayerImpl::forward(const at::Tensor& h, const at::Tensor& mask_bias,
                                     at::ScalarType dt) {
  return forward_hidden({h, at::Tensor()}, mask_bias, dt).f32;
}

Hidden ElectraLayerImpl::forward_hidden(const Hidden& h, const at::Tensor& mask_bias,
                                        at::ScalarType dt) {
  const Hidden a = attention->forward_hidden(h, mask_bias, dt);  // [b, l, H] fp32 (+ dt)
  const Activation act = intermediate->act;
  if (act == Activation::kGelu || act == Activation::kGeluTanh) {
    // One node for both products: the GELU is recomputed in backward instead of being stored
    // twice, and on the CPU its passes are fused (model/feed_forward.h).
    const torch::nn::Linear &in = intermediate->dense, &out = output->dense;
    const bool defer = output->defers_bias(a.f32, dt);
    const at::Tensor x = a.in(dt);  // [b, l, H]
    // The fp32 parameters themselves where the node takes them (fp32 gradients, no casts).
    const bool master = bf16_linear_supports(x, in->weight);
    const auto param = [&](const at::Tensor& p) { return master ? p : cast_param(p, dt); };
    return output->add_residual_hidden(
        gelu_feed_forward(x, param(in->weight), param(in->bias), param(out->weight),
                          defer ? at::Tensor() : param(out->bias), act == Activation::kGeluTanh,
                          intermediate->fused_cuda,
                          intermediate->fused_cuda && cuda_keep_gelu_enabled()),
        a.f32, defer ? out->bias : at::Tensor());
  }
  return output->forward_hidden(intermediate(a.in(dt), dt), a.f32, dt);
}

ElectraEncoderImpl::ElectraEncoderImpl(const ElectraConfig& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layers.emplace_back(c);
    layer->push_back(layers.back());
  }
}

ElectraModelImpl::ElectraModelImpl(const ElectraConfig& c, ElectraEmbeddings shared) : config(c) {
  c.validate("model config");
  embeddings = register_module("embeddings", shared ? shared : ElectraEmbeddings(c));
  if (c.embedding_size != c.hidden_size)
    embeddings_project =
        register_module("embeddings_project", torch::nn::Linear(c.embedding_size, c.hidden_size));
  encoder = register_module("encoder", ElectraEncoder(c));
}

at::Tensor ElectraModelImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                     const at::Tensor& token_type_ids, at::ScalarType dt,
                                     std::vector<at::Tensor>* all_hidden, bool apply_mask) {
  ELECTRA_CHECK_USER(input_ids.dim() == 2, "input_ids must be [batch, seq], got ",
                     input_ids.sizes());
  at::Tensor types = token_type_ids.defined() ? token_type_ids : at::zeros_like(input_ids);
  at::Tensor h = embeddings(input_ids, types);                                   // [b, l, emb] fp32
  if (embeddings_project) h = linear(embeddings_project, h, dt).to(at::kFloat);  // [b, l, H]
  at::Tensor mask_bias;
  // A batch without padding needs no mask: adding its zeros to every [b, heads, l, l] score
  // tensor would change nothing but the time.
  if (attention_mask.defined() && (apply_mask || attention_mask.min().item<int64_t>() == 0)) {
    // HF get_extended_attention_mask: (1 - mask)[:, None, None, :] * finfo(fp32).min
    mask_bias = (1.0 - attention_mask.to(at::kFloat)).view({input_ids.size(0), 1, 1, -1}) *
                std::numeric_limits<float>::lowest();  // [b, 1, 1, l]
  }
  if (all_hidden) all_hidden->push_back(h);
  Hidden stream{h, at::Tensor()};
  for (auto& layer : encoder->layers) {
    stream = layer->forward_hidden(stream, mask_bias, dt);
    if (all_hidden) all_hidden->push_back(stream.f32);
  }
  return stream.f32;
}

void set_attention(torch::nn::Module& module, AttentionKernel kernel) {
  for (auto& m : module.modules(/*include_self=*/true)) {
    if (auto* self = m->as<ElectraSelfAttentionImpl>()) self->kernel = kernel;
    if (auto* out = m->as<ElectraResidualOutputImpl>())
      out->fused = kernel == AttentionKernel::kFused;
  }
}

void set_fused_layer_norm(torch::nn::Module& module, bool on) {
  for (auto& m : module.modules(/*include_self=*/true))
    if (auto* out = m->as<ElectraResidualOutputImpl>()) out->fused_cuda = on;
}

void set_fused_bias_gelu(torch::nn::Module& module, bool on) {
  for (auto& m : module.modules(/*include_self=*/true))
    if (auto* in = m->as<ElectraIntermediateImpl>()) in->fused_cuda = on;
}

void init_weights(torch::nn::Module& module, const ElectraConfig& cfg) {
  torch::NoGradGuard no_grad;
  const double std = cfg.initializer_range;
  for (auto& m : module.modules(/*include_self=*/true)) {
    if (auto* lin = m->as<torch::nn::Linear>()) {
      lin->weight.normal_(0.0, std);
      if (lin->bias.defined()) lin->bias.zero_();
    } else if (auto* emb = m->as<torch::nn::Embedding>()) {
      emb->weight.normal_(0.0, std);
      if (auto pad = emb->options.padding_idx()) emb->weight[*pad].zero_();
    } else if (auto* ln = m->as<torch::nn::LayerNorm>()) {
      ln->weight.fill_(1.0);
      ln->bias.zero_();
    }
  }
}

}  // namespace electra::model
