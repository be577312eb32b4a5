// Pretraining checkpoints: one directory per save, complete or absent.
//
//   <output.dir>/checkpoints/step-00001000/
//     discriminator/{config.json, model.safetensors}   HF ElectraForPreTraining, loadable as is
//     generator/{config.json, model.safetensors}       HF ElectraForMaskedLM (tied head omitted)
//     optimizer.safetensors                            AdamW moments by parameter name
//     trainer_state.json                               step, tokens, world size, format version
//     rank-00000.json ...                              per rank: data cursor, RNG states
//     config.yaml                                      the resolved experiment
//     tokenizer/                                       spm.model or vocab.txt
//     COMPLETE                                         manifest: size + CRC32C of every file
//
// Everything is written into "step-N.tmp", the ranks meet at a barrier, rank 0 writes COMPLETE
// last and renames the directory into place. A directory without COMPLETE is never resumed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/pipeline.h"
#include "data/tokenizer.h"
#include "distributed/communicator.h"
#include "model/electra.h"
#include "pretrain/optimizer.h"

namespace electra::pretrain {

constexpr int kCheckpointVersion = 1;

struct TrainerState {
  int64_t step = 0;         // optimizer steps done
  int64_t tokens_seen = 0;  // real tokens consumed, summed over ranks
  double elapsed_s = 0;     // training wall time so far
  int world = 1;
  int64_t skipped_steps = 0;  // updates dropped for a non-finite gradient (train.on_nonfinite)
  double loss_scale = 0;      // fp16 dynamic loss scale; 0 = not an fp16 run
  int64_t loss_scale_good_steps = 0;  // finite steps since the scale last changed
};

struct RankState {
  data::DataState data;
  std::string torch_rng;              // default CPU generator (dropout), raw bytes
  std::string gumbel_rng;             // the sampling generator, raw bytes
  std::string gumbel_device = "cpu";  // the device type of that generator: cpu | cuda
  std::string cuda_rng;               // default CUDA generator (dropout on a GPU); may be empty
};

struct CheckpointWrite {
  const model::PretrainingPair* pair = nullptr;
  const AdamW* optimizer = nullptr;
  TrainerState state;
  RankState rank;
  std::string config_yaml;
  const data::Tokenizer* tokenizer = nullptr;
};

std::string checkpoint_name(int64_t step);  // "step-00001000"

// Collective: every rank calls it. Returns the final directory.
std::string save_checkpoint(const std::string& checkpoints_dir, const CheckpointWrite& w,
                            dist::Communicator& comm);

// Verifies COMPLETE's manifest (sizes and CRC32C); throws UserError naming the first bad file.
void verify_checkpoint(const std::string& dir);
bool is_complete_checkpoint(const std::string& dir);

// The newest complete checkpoint under `checkpoints_dir`, if any.
std::optional<std::string> latest_checkpoint(const std::string& checkpoints_dir);
// Deletes complete checkpoints beyond the newest `keep`, and stale staging directories.
void prune_checkpoints(const std::string& checkpoints_dir, int64_t keep);
void remove_stale_staging(const std::string& checkpoints_dir);

TrainerState read_trainer_state(const std::string& dir);
RankState read_rank_state(const std::string& dir, int rank);
// Loads the weights into the pair (strict key/shape checks).
void load_pair_weights(const std::string& dir, model::PretrainingPair& pair);

// Writes an HF model directory (config.json, model.safetensors, tokenizer files) for one part
// ("discriminator" or "generator") of a checkpoint.
void export_checkpoint(const std::string& checkpoint_dir, const std::string& out_dir,
                       const std::string& part);

// Shared with fine-tuning: writes tokenizer files (and HF tokenizer_config.json for WordPiece).
void write_tokenizer_files(const data::Tokenizer& tok, const std::string& dir);

}  // namespace electra::pretrain
