// Seed sweeps: fine-tuning results vary a lot with the seed (Dodge et al. 2020), so the ELECTRA
// paper reports the median over several runs. `electra finetune --seeds 1,2,3` runs one
// fine-tune per seed into <output.dir>/seed-<s>/ and summarises each metric as median and
// spread (min/max).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "finetune/metrics.h"

namespace electra::finetune {

// "1,2,3" or ranges "1-5" (mixed: "1-3,10"); UserError naming `what` on bad input.
std::vector<int64_t> parse_seeds(const std::string& text, const std::string& what);

struct SeedRun {
  int64_t seed = 0;
  std::vector<std::pair<std::string, MetricValues>> dev;  // per dev split
};

// One JSON line per (dev split, metric):
// {"task":"cola","split":"dev","metric":"mcc","median":..,"min":..,"max":..,"seeds":[..],"values":[..]}
std::vector<std::string> sweep_summary(const std::string& task, const std::vector<SeedRun>& runs);

}  // namespace electra::finetune
