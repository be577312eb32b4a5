// model.init_from: the weights a pretraining run starts from (when it does not resume).
//
// Accepted forms:
//  (a) one of our checkpoints (step-N/, verified when it has a COMPLETE marker), or any
//      directory holding discriminator/ and generator/ HF model directories (two exports),
//      or a run's output.dir (its newest complete checkpoint): both models are loaded;
//  (b) an HF ElectraForPreTraining directory: the discriminator, including the shared
//      embedding block; the generator keeps its fresh initialisation for everything else;
//  (c) an HF ElectraForMaskedLM directory: the generator, including the shared embedding
//      block; the discriminator keeps its fresh initialisation for everything else;
//  (d) "DISC_DIR,GEN_DIR": an ElectraForPreTraining and an ElectraForMaskedLM directory,
//      e.g. google/electra-small-discriminator + google/electra-small-generator.
// Where both models are loaded, the discriminator's embeddings win (ELECTRA shares one block);
// a warning says when the generator's copy differed. HF directories may hold
// model.safetensors or pytorch_model.bin. Every size in a config.json must match the
// configured model; a mismatch is a UserError naming the model.* key (or
// generator.size_fraction) to change.
#pragma once

#include <string>
#include <vector>

#include "model/electra.h"

namespace electra::pretrain {

// Loads the weights `spec` names into `pair` (strict key and shape checks). Returns what it
// logged besides progress: warnings (embeddings that differed, another activation) and what
// loading ignored (legacy buffers).
std::vector<std::string> init_pair_from(const std::string& spec, model::PretrainingPair& pair);

}  // namespace electra::pretrain
