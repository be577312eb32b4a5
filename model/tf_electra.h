// Official ELECTRA TensorFlow checkpoints (google-research/electra) -> HuggingFace names.
//
// The TF release stores both networks of pre-training in one checkpoint:
//   electra/embeddings/...               shared word/position/token-type embeddings + LayerNorm
//   electra/embeddings_project, electra/encoder/layer_N/...    the discriminator
//   discriminator_predictions/dense, /dense_1                  its head
//   generator/embeddings_project, generator/encoder/layer_N/... the generator
//   generator_predictions/dense, /LayerNorm, /output_bias      its head
// plus global_step and the optimizer's */adam_m, */adam_v. A part is converted by renaming:
// "/" -> ".", layer_N -> layer.N, kernel -> weight (transposed: TF stores [in, out]),
// gamma/beta -> weight/bias, *_embeddings -> *_embeddings.weight, dense_1 -> dense_prediction,
// generator_predictions/output_bias -> generator_lm_head.bias, generator/ -> electra.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace electra::model {

enum class ElectraPart { kDiscriminator, kGenerator };
ElectraPart parse_electra_part(const std::string& name, const std::string& key);

struct TfNameMapping {
  struct Target {
    std::string tf_name;
    bool transpose = false;  // a dense kernel
  };
  std::map<std::string, Target> hf;     // HF name -> TF variable
  std::vector<std::string> skipped;     // training state: global_step, adam slots
  std::vector<std::string> other_part;  // variables of the part not converted
  std::vector<std::string> unmapped;    // names this mapping does not know
};

// Maps the TF variable names of an ELECTRA checkpoint for one part. Pure naming: shapes are
// checked when the tensors are loaded into the model.
TfNameMapping map_tf_electra_names(const std::vector<std::string>& tf_names, ElectraPart part);

// Reads the checkpoint at `tf_prefix`, maps it for `part`, loads it into a freshly built
// ElectraForPreTraining (discriminator) or ElectraForMaskedLM (generator) made from the HF
// `config_json` -- which must match every key and shape -- and writes `out_dir` (config.json +
// model.safetensors). Unmapped variables, missing or extra weights and shape mismatches are
// UserErrors that list them; nothing is written then.
void convert_tf_electra(const std::string& tf_prefix, const std::string& config_json,
                        ElectraPart part, const std::string& out_dir);

}  // namespace electra::model
