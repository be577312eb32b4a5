// Layer-wise learning-rate decay (ELECTRA paper, appendix A): layers near the input keep more of
// their pre-trained weights by learning more slowly.
//
// Our depth convention, for an encoder of L layers (HF names):
//   classifier.*                     (the head)       lr
//   electra.encoder.layer.{L-1}.*    (the top layer)  lr
//   electra.encoder.layer.{k}.*                       lr * decay^(L-1-k)
//   electra.embeddings.*, electra.embeddings_project.* (the deepest "layer 0")  lr * decay^L
// i.e. numbering the encoder layers 1..L and the embeddings 0, layer i gets lr * decay^(L-i).
//
// google-research/electra (model/optimization.py, _get_layer_lrs) gives the embeddings depth 0,
// layer k depth k+1 and the head depth L+2 and uses decay^(L+2-depth): every encoder parameter
// gets two extra factors of decay (the top layer lr * decay^2, the embeddings lr * decay^(L+2)).
// Its comment says depth "- max_depth", and its author explained the extra factor as a leftover
// of a removed pooler layer (google-research/electra issue #51), kept for reproducibility. We
// default to the convention above (top layer at the base lr, as the comment intends and as the
// issue asked for); optimizer.layer_decay_official=true reproduces the released code exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace electra::finetune {

struct LayerDecay {
  double decay = 0.8;     // 1.0 disables
  bool official = false;  // google-research/electra's exponents (two extra factors)
};

// 0 for the embeddings, k+1 for encoder layer k, L+1 for the head. ELECTRA_CHECK on a name that
// is none of these (every ElectraForSequenceClassification parameter is one of them).
int64_t parameter_depth(const std::string& name, int64_t num_layers);
// The factor on the base learning rate of each named parameter.
double lr_scale(const std::string& name, int64_t num_layers, const LayerDecay& d);
std::vector<double> lr_scales(const std::vector<std::string>& names, int64_t num_layers,
                              const LayerDecay& d);

}  // namespace electra::finetune
