// Signals as requests, not crashes: SIGTERM and SIGUSR1 (SLURM sends them before pre-emption,
// see `#SBATCH --signal`) and the first Ctrl-C (SIGINT) set a flag; the trainer saves a
// checkpoint at the next step boundary and exits with 128 + signal. A second Ctrl-C restores
// the default action and kills the process at once (a checkpoint being written is staged, so
// the previous one stays intact).
#pragma once

namespace electra::signals {

void install_handlers();
// The first signal received since install (0 if none).
int pending();
// For tests: pretend a signal arrived.
void raise_flag(int sig);
void reset();

}  // namespace electra::signals
