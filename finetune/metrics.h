// GLUE/CLUE metrics. Degenerate inputs give defined numbers, never NaN: a constant prediction
// has MCC 0 (sklearn's convention), a constant series has Pearson/Spearman 0, an F1 without
// any predicted or true positive is 0.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace electra::finetune {

double accuracy(const std::vector<int64_t>& pred, const std::vector<int64_t>& gold);
// Binary F1 of class `positive`.
double f1_score(const std::vector<int64_t>& pred, const std::vector<int64_t>& gold,
                int64_t positive);
// Matthews correlation coefficient, binary or multi-class (Gorodkin's R_K, as sklearn).
double matthews_corr(const std::vector<int64_t>& pred, const std::vector<int64_t>& gold);
double pearson(const std::vector<double>& x, const std::vector<double>& y);
// Pearson correlation of the ranks; tied values get the mean of the ranks they span.
double spearman(const std::vector<double>& x, const std::vector<double>& y);
// 1-based ranks with ties averaged: {10, 20, 20, 5} -> {2, 3.5, 3.5, 1}.
std::vector<double> average_ranks(const std::vector<double>& v);

// Named metrics in the task's order, e.g. {{"accuracy", 0.9}, {"f1", 0.88}}.
using MetricValues = std::vector<std::pair<std::string, double>>;

// `names`: the task's metrics (accuracy, f1, mcc, pearson, spearman). Classification reads
// the class indices, regression the values.
MetricValues compute_metrics(const std::vector<std::string>& names,
                             const std::vector<int64_t>& pred, const std::vector<int64_t>& gold,
                             const std::vector<double>& pred_value,
                             const std::vector<double>& gold_value, int64_t positive_class);

double metric_value(const MetricValues& m, const std::string& name);

// Median of a non-empty list (mean of the two middle values for an even count).
double median(std::vector<double> v);

}  // namespace electra::finetune
