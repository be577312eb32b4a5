// Running a classifier over a split (sharded over ranks, gathered once), scoring it, and the
// output formats: the metrics JSON line and the GLUE / CLUE submission files.
#pragma once

#include <ATen/core/ScalarType.h>

#include <string>
#include <vector>

#include "distributed/communicator.h"
#include "finetune/dataset.h"
#include "finetune/features.h"
#include "finetune/metrics.h"
#include "model/electra.h"

namespace electra::finetune {

struct Predictions {
  std::vector<int64_t> classes;  // argmax class per example (classification)
  std::vector<double> values;    // model output per example (regression)
};

// The classifier's output for a collated batch, [batch, labels] on the model's device; with
// `on_device`, also the batch moved there. The mask is applied as `host.padded` says, so that
// nothing is read back from the device.
at::Tensor classify(model::ElectraForSequenceClassification& net, const FeatureBatch& host,
                    at::ScalarType dt, FeatureBatch* on_device = nullptr);

// Evaluation mode, no gradients; the caller restores train mode. Rank r scores examples
// r, r + world, ...; one all_gather gives every rank all predictions, in file order. The
// predictions stay on the device until the last batch: one copy back, not one per batch.
Predictions predict(model::ElectraForSequenceClassification& net,
                    const std::vector<Feature>& features, bool regression, int64_t batch_size,
                    at::ScalarType dt, int32_t pad_id, dist::Communicator& comm);

MetricValues score(const TaskSpec& task, const std::vector<std::string>& labels,
                   const SplitData& split, const Predictions& p);

// {"task": "cola", "split": "dev", "mcc": 0.57} (keys in this order).
std::string metrics_json_line(const TaskSpec& task, const std::string& split,
                              const MetricValues& m);

// The submission file of a test split (GLUE: "index\tprediction" TSV; CLUE: JSON lines
// {"id": 0, "label": "..."}), written atomically into `dir`. Returns its path.
std::string write_submission(const TaskSpec& task, const std::vector<std::string>& labels,
                             const SplitData& test, const Predictions& p, const std::string& dir);

}  // namespace electra::finetune
