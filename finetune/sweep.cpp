#include "finetune/sweep.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "common/error.h"
#include "common/strings.h"

namespace electra::finetune {

std::vector<int64_t> parse_seeds(const std::string& text, const std::string& what) {
  std::vector<int64_t> out;
  auto number = [&](std::string_view s) -> int64_t {
    const std::string t(trim(s));
    ELECTRA_CHECK_USER(
        !t.empty() && t.size() < 12 && t.find_first_not_of("0123456789") == std::string::npos, what,
        ": '", t,
        "' is not a seed (non-negative integer); write e.g. "
        "1,2,3 or 1-5");
    return std::stoll(t);
  };
  for (const auto& part : split(text, ',')) {
    if (trim(part).empty()) continue;
    const size_t dash = part.find('-');
    if (dash == std::string::npos) {
      out.push_back(number(part));
      continue;
    }
    const int64_t lo = number(std::string_view(part).substr(0, dash));
    const int64_t hi = number(std::string_view(part).substr(dash + 1));
    ELECTRA_CHECK_USER(lo <= hi && hi - lo < 1000, what, ": bad seed range '", part, "'");
    for (int64_t s = lo; s <= hi; ++s)
      out.push_back(s);
  }
  ELECTRA_CHECK_USER(!out.empty(), what, ": no seeds given (write e.g. 1,2,3)");
  std::set<int64_t> seen;
  for (auto s : out)
    ELECTRA_CHECK_USER(seen.insert(s).second, what, ": seed ", s, " is listed twice");
  return out;
}

std::vector<std::string> sweep_summary(const std::string& task, const std::vector<SeedRun>& runs) {
  std::vector<std::string> lines;
  if (runs.empty()) return lines;
  const auto& first = runs[0].dev;
  for (size_t si = 0; si < first.size(); ++si) {
    for (const auto& [metric, unused] : first[si].second) {
      std::vector<double> values;
      std::vector<int64_t> seeds;
      for (const auto& r : runs) {
        values.push_back(metric_value(r.dev.at(si).second, metric));
        seeds.push_back(r.seed);
      }
      nlohmann::ordered_json j;
      j["task"] = task;
      j["split"] = first[si].first;
      j["metric"] = metric;
      j["median"] = median(values);
      j["min"] = *std::min_element(values.begin(), values.end());
      j["max"] = *std::max_element(values.begin(), values.end());
      j["seeds"] = seeds;
      j["values"] = values;
      lines.push_back(j.dump());
    }
  }
  return lines;
}

}  // namespace electra::finetune
