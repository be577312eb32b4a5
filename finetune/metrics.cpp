#include "finetune/metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "common/error.h"

namespace electra::finetune {

double accuracy(const std::vector<int64_t>& pred, const std::vector<int64_t>& gold) {
  ELECTRA_CHECK(pred.size() == gold.size(), "metric inputs differ in length");
  if (pred.empty()) return 0.0;
  int64_t right = 0;
  for (size_t i = 0; i < pred.size(); ++i)
    right += pred[i] == gold[i];
  return static_cast<double>(right) / static_cast<double>(pred.size());
}

double f1_score(const std::vector<int64_t>& pred, const std::vector<int64_t>& gold,
                int64_t positive) {
  ELECTRA_CHECK(pred.size() == gold.size(), "metric inputs differ in length");
  double tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    const bool p = pred[i] == positive, g = gold[i] == positive;
    tp += p && g;
    fp += p && !g;
    fn += !p && g;
  }
  const double denom = 2 * tp + fp + fn;
  return denom == 0 ? 0.0 : 2 * tp / denom;
}

double matthews_corr(const std::vector<int64_t>& pred, const std::vector<int64_t>& gold) {
  ELECTRA_CHECK(pred.size() == gold.size(), "metric inputs differ in length");
  // R_K = (c*s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)), with c correct,
  // s samples, p_k / t_k the predicted / true counts of class k. For two classes it equals
  // (TP*TN - FP*FN) / sqrt(...).
  std::map<int64_t, double> p, t;
  double c = 0;
  const double s = static_cast<double>(pred.size());
  for (size_t i = 0; i < pred.size(); ++i) {
    p[pred[i]] += 1;
    t[gold[i]] += 1;
    c += pred[i] == gold[i];
  }
  double pt = 0, pp = 0, tt = 0;
  for (const auto& [k, n] : p) {
    pp += n * n;
    auto it = t.find(k);
    if (it != t.end()) pt += n * it->second;
  }
  for (const auto& [k, n] : t)
    tt += n * n;
  const double denom = std::sqrt((s * s - pp) * (s * s - tt));
  // A constant prediction (or a constant truth) makes the denominator 0: no correlation.
  return denom == 0 ? 0.0 : (c * s - pt) / denom;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  ELECTRA_CHECK(x.size() == y.size(), "metric inputs differ in length");
  const size_t n = x.size();
  if (n < 2) return 0.0;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  // A constant series has no defined correlation; 0 says "no linear relation" without NaN.
  if (sxx <= 0 || syy <= 0) return 0.0;
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]])
      ++j;
    const double r = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k)
      rank[order[k]] = r;
    i = j + 1;
  }
  return rank;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  return pearson(average_ranks(x), average_ranks(y));
}

MetricValues compute_metrics(const std::vector<std::string>& names,
                             const std::vector<int64_t>& pred, const std::vector<int64_t>& gold,
                             const std::vector<double>& pred_value,
                             const std::vector<double>& gold_value, int64_t positive_class) {
  MetricValues out;
  for (const auto& n : names) {
    double v = 0;
    if (n == "accuracy") {
      v = accuracy(pred, gold);
    } else if (n == "f1") {
      v = f1_score(pred, gold, positive_class);
    } else if (n == "mcc") {
      v = matthews_corr(pred, gold);
    } else if (n == "pearson") {
      v = pearson(pred_value, gold_value);
    } else if (n == "spearman") {
      v = spearman(pred_value, gold_value);
    } else {
      ELECTRA_CHECK(false, "unknown metric ", n);
    }
    out.emplace_back(n, v);
  }
  return out;
}

double metric_value(const MetricValues& m, const std::string& name) {
  for (const auto& [k, v] : m)
    if (k == name) return v;
  ELECTRA_CHECK(false, "metric ", name, " was not computed");
  return 0;
}

double median(std::vector<double> v) {
  ELECTRA_CHECK(!v.empty(), "median of nothing");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

}  // namespace electra::finetune
