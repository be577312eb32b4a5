// Dynamic loss scaling for fp16 training (Micikevicius et al. 2018, "Mixed Precision
// Training"; torch.cuda.amp.GradScaler's policy). fp16 gradients below ~6e-8 flush to zero, so
// the loss is multiplied by a scale S before backward and the gradients divided by S after it.
// S starts large; a step whose gradients overflow (inf/NaN) is skipped and S backs off; after
// `growth_interval` good steps in a row S grows again. The caller decides overflow from the
// global gradient norm, which is computed from the all-reduced gradients and is therefore the
// same number on every rank: every rank skips, backs off and grows in step.
#pragma once

#include <cstdint>

#include "common/config.h"

namespace electra::pretrain {

struct LossScalerOptions {
  double init_scale = 65536.0;     // 2^16
  int64_t growth_interval = 2000;  // good steps in a row before S *= growth
  double backoff = 0.5;            // S *= backoff on overflow
  double growth = 2.0;
};

// amp.init_scale, amp.growth_interval, amp.backoff, amp.growth.
void add_loss_scaler_keys(ConfigSchema& schema);
// Reads and checks them (UserError naming the key and its source).
LossScalerOptions read_loss_scaler_options(const Config& cfg);

class LossScaler {
 public:
  // A disabled scaler has scale 1 and never changes (fp32 and bf16 runs).
  LossScaler(const LossScalerOptions& options, bool enabled);

  bool enabled() const { return enabled_; }
  double scale() const { return enabled_ ? scale_ : 1.0; }
  // Multiply the gradients by this before using them (1 / scale).
  double inv_scale() const { return 1.0 / scale(); }

  // Records the outcome of a step: `overflow` = its (global, unscaled) gradients were not all
  // finite. Returns true when the optimizer step should be applied. Disabled: returns
  // !overflow and changes nothing.
  bool update(bool overflow);

  int64_t good_steps() const { return good_steps_; }  // finite steps since the last change of S
  int64_t overflows() const { return overflows_; }    // skipped by this scaler (this process)

  // Checkpoint state: S and the good-step counter, so that a resumed run scales exactly as the
  // uninterrupted one would.
  void restore(double scale, int64_t good_steps);

 private:
  LossScalerOptions opt_;
  bool enabled_;
  double scale_;
  int64_t good_steps_ = 0;
  int64_t overflows_ = 0;
};

}  // namespace electra::pretrain
