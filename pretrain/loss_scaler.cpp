#include "pretrain/loss_scaler.h"

#include <cmath>

#include "common/error.h"

namespace electra::pretrain {

void add_loss_scaler_keys(ConfigSchema& s) {
  s.add_float("amp.init_scale", 65536.0,
              "train.precision=fp16 only: initial dynamic loss scale (2^16)")
      .add_int("amp.growth_interval", 2000,
               "fp16: finite steps in a row after which the loss scale grows")
      .add_float("amp.backoff", 0.5, "fp16: factor applied to the loss scale after an overflow")
      .add_float("amp.growth", 2.0, "fp16: factor applied to the loss scale when it grows");
}

LossScalerOptions read_loss_scaler_options(const Config& c) {
  LossScalerOptions o;
  o.init_scale = c.get_float("amp.init_scale");
  o.growth_interval = c.get_int("amp.growth_interval");
  o.backoff = c.get_float("amp.backoff");
  o.growth = c.get_float("amp.growth");
  ELECTRA_CHECK_USER(std::isfinite(o.init_scale) && o.init_scale > 0,
                     "amp.init_scale must be a finite number > 0, got ", o.init_scale, " (",
                     c.source("amp.init_scale"), ")");
  ELECTRA_CHECK_USER(o.growth_interval >= 1, "amp.growth_interval must be at least 1, got ",
                     o.growth_interval, " (", c.source("amp.growth_interval"), ")");
  ELECTRA_CHECK_USER(o.backoff > 0 && o.backoff < 1, "amp.backoff must be in (0, 1), got ",
                     o.backoff, " (", c.source("amp.backoff"), ")");
  ELECTRA_CHECK_USER(std::isfinite(o.growth) && o.growth > 1,
                     "amp.growth must be a finite number > 1, got ", o.growth, " (",
                     c.source("amp.growth"), ")");
  return o;
}

LossScaler::LossScaler(const LossScalerOptions& options, bool enabled)
    : opt_(options), enabled_(enabled), scale_(options.init_scale) {}

bool LossScaler::update(bool overflow) {
  if (!enabled_) return !overflow;
  if (overflow) {
    scale_ *= opt_.backoff;
    good_steps_ = 0;
    ++overflows_;
    return false;
  }
  if (++good_steps_ >= opt_.growth_interval) {
    // Growth stops where fp32 would overflow: the scaled loss must stay representable.
    if (std::isfinite(scale_ * opt_.growth)) scale_ *= opt_.growth;
    good_steps_ = 0;
  }
  return true;
}

void LossScaler::restore(double scale, int64_t good_steps) {
  ELECTRA_CHECK_USER(std::isfinite(scale) && scale > 0 && good_steps >= 0,
                     "corrupt loss-scaler state in checkpoint: scale ", scale, ", good steps ",
                     good_steps);
  scale_ = scale;
  good_steps_ = good_steps;
}

}  // namespace electra::pretrain
