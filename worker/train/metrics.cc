#include "worker/train/metrics.h"

#include <cstddef>

namespace switchyard::worker::train {
namespace {

nlohmann::ordered_json Fraction(int64_t part, int64_t whole) {
  if (whole == 0) return nullptr;
  return static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

void EvalCounts::Add(const int64_t* predictions,
                     const tasks::WindowBatch& batch) {
  for (int b = 0; b < batch.batch; ++b) {
    for (int p = 0; p < batch.length; ++p) {
      const size_t i = static_cast<size_t>(b) * batch.length + p;
      const int32_t target = batch.targets[i];
      if (target < 0) continue;
      const bool hit = predictions[i] == target;
      ++total;
      correct += hit;
      if (p == batch.length - 1) {
        ++last_total;
        last_correct += hit;
      }
      const size_t rule = static_cast<size_t>(batch.rules[i]);
      if (rule < rule_total.size()) {
        ++rule_total[rule];
        rule_correct[rule] += hit;
      }
    }
  }
}

nlohmann::ordered_json MetricsJson(const EvalCounts& counts) {
  using tasks::Rule;
  auto by_rule = [&](Rule rule) {
    const size_t r = static_cast<size_t>(rule);
    return Fraction(counts.rule_correct[r], counts.rule_total[r]);
  };
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  json["eval_loss"] =
      counts.total == 0
          ? nlohmann::ordered_json(nullptr)
          : nlohmann::ordered_json(counts.loss_sum /
                                   static_cast<double>(counts.total));
  json["accuracy"] = Fraction(counts.correct, counts.total);
  json["accuracy_last"] = Fraction(counts.last_correct, counts.last_total);
  json["accuracy_I"] = by_rule(Rule::kI);
  json["accuracy_A"] = by_rule(Rule::kA);
  json["accuracy_R"] = by_rule(Rule::kR);
  json["accuracy_C"] = by_rule(Rule::kC);
  return json;
}

}  // namespace switchyard::worker::train
