#include "finetune/llrd.h"

#include <cmath>

#include "common/error.h"
#include "common/strings.h"

namespace electra::finetune {

int64_t parameter_depth(const std::string& name, int64_t num_layers) {
  if (starts_with(name, "classifier.")) return num_layers + 1;
  if (starts_with(name, "electra.embeddings.") || starts_with(name, "electra.embeddings_project."))
    return 0;
  const std::string prefix = "electra.encoder.layer.";
  if (starts_with(name, prefix)) {
    const size_t dot = name.find('.', prefix.size());
    const std::string digits = name.substr(prefix.size(), dot - prefix.size());
    ELECTRA_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
                  "bad layer parameter name ", name);
    const int64_t k = std::stoll(digits);
    ELECTRA_CHECK(k < num_layers, name, " is beyond the ", num_layers, " layers");
    return k + 1;
  }
  ELECTRA_CHECK(false, "no layer-wise learning-rate depth for parameter ", name);
  return 0;
}

double lr_scale(const std::string& name, int64_t num_layers, const LayerDecay& d) {
  const int64_t depth = parameter_depth(name, num_layers);
  if (depth > num_layers) return 1.0;  // the head always learns at the base rate
  int64_t exponent = num_layers - depth;
  if (d.official) exponent += 2;
  return std::pow(d.decay, static_cast<double>(exponent));
}

std::vector<double> lr_scales(const std::vector<std::string>& names, int64_t num_layers,
                              const LayerDecay& d) {
  std::vector<double> out;
  out.reserve(names.size());
  for (const auto& n : names)
    out.push_back(lr_scale(n, num_layers, d));
  return out;
}

}  // namespace electra::finetune
