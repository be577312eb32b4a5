#include "finetune/evaluate.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "finetune/sharding.h"

namespace electra::finetune {

at::Tensor classify(model::ElectraForSequenceClassification& net, const FeatureBatch& host,
                    at::ScalarType dt, FeatureBatch* on_device) {
  const FeatureBatch b = batch_to(host, net->parameters().front().device());
  if (on_device) *on_device = b;
  const at::Tensor mask = host.padded ? b.attention_mask : at::Tensor();
  at::Tensor h = net->electra(b.input_ids, mask, b.token_type_ids, dt, nullptr,
                              /*apply_mask=*/host.padded);  // [batch, seq, hidden]
  return net->classifier(h, dt);                            // [batch, labels]
}

Predictions predict(model::ElectraForSequenceClassification& net,
                    const std::vector<Feature>& features, bool regression, int64_t batch_size,
                    at::ScalarType dt, int32_t pad_id, dist::Communicator& comm) {
  torch::NoGradGuard no_grad;
  net->eval();
  const int64_t n = static_cast<int64_t>(features.size());
  std::vector<int64_t> mine = eval_share(n, comm.rank(), comm.world_size());
  // Batches of similar length waste little on padding; results go back by position.
  std::vector<size_t> order(mine.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return features[mine[a]].ids.size() < features[mine[b]].ids.size();
  });
  std::vector<at::Tensor> batches;  // [batch] fp32 each, on the model's device, in `order`
  for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(batch_size));
    std::vector<int64_t> idx;
    for (size_t k = begin; k < end; ++k)
      idx.push_back(mine[order[k]]);
    const at::Tensor logits = classify(net, collate(features, idx, pad_id), dt);  // [n, labels]
    batches.push_back(regression ? logits.select(1, 0).to(at::kFloat)
                                 : logits.argmax(1).to(at::kFloat));
  }
  std::vector<float> out(mine.size());
  if (!batches.empty()) {
    const at::Tensor v = at::cat(batches).to(at::kCPU).contiguous();  // [mine]
    const float* p = v.data_ptr<float>();
    for (size_t k = 0; k < order.size(); ++k)
      out[order[k]] = p[k];
  }
  // Exactly one collective per evaluation: every rank's results, in rank order.
  const std::vector<std::string> parts = comm.all_gather(pack_values(out));
  const std::vector<float> all = merge_eval_shares(parts, n);
  Predictions pred;
  if (regression) {
    pred.values.assign(all.begin(), all.end());
  } else {
    for (float f : all)
      pred.classes.push_back(static_cast<int64_t>(f));
  }
  return pred;
}

MetricValues score(const TaskSpec& task, const std::vector<std::string>& labels,
                   const SplitData& split, const Predictions& p) {
  std::vector<int64_t> gold;
  std::vector<double> gold_value;
  for (const auto& ex : split.examples) {
    gold.push_back(ex.label);
    gold_value.push_back(ex.target);
  }
  int64_t positive = -1;
  if (!task.positive_label.empty()) {
    auto it = std::find(labels.begin(), labels.end(), task.positive_label);
    ELECTRA_CHECK(it != labels.end(), "positive label missing");
    positive = it - labels.begin();
  }
  if (task.regression) {
    ELECTRA_CHECK(p.values.size() == gold.size(), "prediction count");
  } else {
    ELECTRA_CHECK(p.classes.size() == gold.size(), "prediction count");
  }
  return compute_metrics(task.metrics, p.classes, gold, p.values, gold_value, positive);
}

std::string metrics_json_line(const TaskSpec& task, const std::string& split,
                              const MetricValues& m) {
  nlohmann::ordered_json j;
  j["task"] = task.name;
  j["split"] = split;
  for (const auto& [k, v] : m)
    j[k] = v;
  return j.dump();
}

std::string write_submission(const TaskSpec& task, const std::vector<std::string>& labels,
                             const SplitData& test, const Predictions& p, const std::string& dir) {
  ELECTRA_CHECK(!test.file.submission.empty(), "no submission file for ", test.file.split);
  std::ostringstream os;
  const size_t n = test.examples.size();
  if (task.benchmark == Benchmark::kGlue) {
    os << "index\tprediction\n";
    for (size_t i = 0; i < n; ++i) {
      os << test.examples[i].id << '\t';
      if (task.regression) {
        os << std::fixed << std::setprecision(3) << p.values[i] << std::defaultfloat;
      } else {
        os << labels[static_cast<size_t>(p.classes[i])];
      }
      os << '\n';
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      nlohmann::ordered_json j;
      const std::string& id = test.examples[i].id;
      // CLUE's guide writes integer ids ({"id": 0, ...}); keep any other id as it was.
      if (!id.empty() && id.size() < 18 && id.find_first_not_of("0123456789") == std::string::npos)
        j["id"] = std::stoll(id);
      else
        j["id"] = id;
      j["label"] = labels[static_cast<size_t>(p.classes[i])];
      os << j.dump() << '\n';
    }
  }
  const std::string path = fs::join(dir, test.file.submission);
  fs::write_file_atomic(path, os.str());
  return path;
}

}  // namespace electra::finetune
