// A sweep's early-stopping scheduler as plain data: the `scheduler:` block of
// a sweep file, its checks and its stored JSON form. The one owner of the
// scheduler's keys and rules: the sweep-file parser, the wire conversion, the
// coordinator's store and the policy (server/core/early_stopping.h) all use
// these types and checks. docs/early-stopping.md explains the policies.
//
// Thread safety: pure functions over values.
#ifndef SWITCHYARD_COMMON_SWEEP_SCHEDULER_H_
#define SWITCHYARD_COMMON_SWEEP_SCHEDULER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace switchyard::common {

// {kind: asha, metric, mode, min_epochs, max_epochs, reduction}.
struct AshaPolicy {
  std::string metric;    // e.g. "accuracy": a metric the program logs every epoch
  bool maximize = true;  // mode: max (true) or min
  int min_epochs = 1;
  int max_epochs = 1;    // every job's epochs
  int reduction = 3;
};

// {kind: median, metric, mode, warmup_epochs}.
struct MedianPolicy {
  std::string metric;
  bool maximize = true;
  int warmup_epochs = 0;
};

// Bounds beyond which a policy is refused (a typo rather than a plan).
inline constexpr int kMaxSchedulerEpochs = 100'000;
inline constexpr int kMaxReduction = 100;

// OK, or INVALID_ARGUMENT naming the field: "asha: reduction must be at
// least 2, got 1". Checks: metric not empty, 2 <= reduction <= kMaxReduction,
// 1 <= min_epochs <= max_epochs <= kMaxSchedulerEpochs.
absl::Status ValidateAsha(const AshaPolicy& policy);
// Metric not empty, 0 <= warmup_epochs <= kMaxSchedulerEpochs.
absl::Status ValidateMedian(const MedianPolicy& policy);

struct SchedulerSpec {
  enum class Kind { kNone, kAsha, kMedian };
  Kind kind = Kind::kNone;
  AshaPolicy asha;      // kind kAsha
  MedianPolicy median;  // kind kMedian
};

const char* SchedulerKindName(SchedulerSpec::Kind kind);  // "none", "asha", "median"
bool ParseSchedulerKind(std::string_view name, SchedulerSpec::Kind* kind);
std::vector<std::string> SchedulerKindNames();            // asha, median, none
// The fields each kind takes, in the order a sweep file shows them.
std::vector<std::string> SchedulerFields(SchedulerSpec::Kind kind);

// The policy of its kind checked; OK for none.
absl::Status ValidateScheduler(const SchedulerSpec& scheduler);

// The stored form (sweeps.scheduler_json): "" for none, else one object,
// {"kind":"asha","metric":"accuracy","mode":"max","min_epochs":1,...}.
std::string SchedulerToJson(const SchedulerSpec& scheduler);
// The inverse; INVALID_ARGUMENT for text SchedulerToJson does not write or
// a policy ValidateScheduler refuses.
absl::StatusOr<SchedulerSpec> SchedulerFromJson(std::string_view json);

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_SWEEP_SCHEDULER_H_
