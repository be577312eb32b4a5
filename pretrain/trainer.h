// The pretraining loop of one rank: data, RTD objective, gradient averaging, AdamW with the
// warm-up/decay schedule, progress and metrics, checkpoints, and exact resume.
#pragma once

#include <string>

#include "common/config.h"
#include "distributed/communicator.h"

namespace electra::pretrain {

struct PretrainResult {
  int64_t step = 0;             // optimizer steps completed
  std::string last_checkpoint;  // directory of the last checkpoint written or resumed
  int signal = 0;               // non-zero when a signal stopped the run (after saving)
  bool exited_early = false;    // train.exit_after_* stopped the run (after saving)
  double last_loss = 0;         // mean total loss of the last log window
  double first_loss = 0;        // mean total loss of the first log window
  int64_t skipped_steps = 0;    // updates dropped for a non-finite gradient, over the whole run
};

// Runs (or resumes, when output.dir holds a complete checkpoint) the experiment `cfg`
// (validated against pretrain_schema()). Collective over `comm`.
PretrainResult run_pretraining(const Config& cfg, dist::Communicator& comm);

// Intra-op threads for this rank: train.threads, or this rank's share of the node's cores
// (ProcessInfo::cores; else the cores divided among the local ranks).
int choose_threads(int64_t configured, const dist::ProcessInfo& who);

}  // namespace electra::pretrain
