// Evaluation counts and their JSON form (docs/trainer.md). Torch-free: the
// trainer hands in predictions as plain integers.
//
// Thread safety: plain values; not synchronised.
#ifndef SWITCHYARD_WORKER_TRAIN_METRICS_H_
#define SWITCHYARD_WORKER_TRAIN_METRICS_H_

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "common/tasks/iarc.h"

namespace switchyard::worker::train {

// Counts over number targets only (targets < 0 are control tokens: skipped).
struct EvalCounts {
  int64_t total = 0;
  int64_t correct = 0;
  int64_t last_total = 0;  // last position of a window, number target
  int64_t last_correct = 0;
  std::array<int64_t, 5> rule_total{};  // indexed by tasks::Rule
  std::array<int64_t, 5> rule_correct{};
  double loss_sum = 0;  // summed cross-entropy over the counted targets

  // predictions: batch.batch * batch.length predicted numbers, row-major like
  // batch.targets.
  void Add(const int64_t* predictions, const tasks::WindowBatch& batch);
};

// {"eval_loss", "accuracy", "accuracy_last", "accuracy_I", "accuracy_A",
//  "accuracy_R", "accuracy_C"} in this order. A fraction with no targets to
// count (e.g. accuracy_A for tasks "I") is null, never NaN; every key is
// always present so the schema is fixed.
nlohmann::ordered_json MetricsJson(const EvalCounts& counts);

}  // namespace switchyard::worker::train

#endif  // SWITCHYARD_WORKER_TRAIN_METRICS_H_
