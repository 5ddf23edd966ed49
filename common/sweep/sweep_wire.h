// The one wire conversion of a sweep: a SweepDefinition (common/sweep/grid.h)
// to and from the SweepSpec that SubmitSweep carries. The CLI, the
// coordinator's handlers and the tests all call these, so a value keeps its
// kind (integer, number, string) the same way on both sides and the grid a
// file describes is the grid the coordinator expands.
//
// Thread safety: pure functions.
#ifndef SWITCHYARD_COMMON_SWEEP_SWEEP_WIRE_H_
#define SWITCHYARD_COMMON_SWEEP_SWEEP_WIRE_H_

#include "absl/status/statusor.h"
#include "common/sweep/grid.h"
#include "switchyard/v1/switchyard.pb.h"

namespace switchyard::common {

// Replaces `out` with the axis: key and values, each value in the oneof
// member of its kind.
void AxisToProto(const SweepAxis& axis, ::switchyard::v1::Axis* out);

// Replaces `out` with the scheduler (kind "" for none).
void SchedulerToProto(const SchedulerSpec& scheduler, ::switchyard::v1::Scheduler* out);

// Replaces `out` with the whole definition (name, priority, max_attempts,
// axes in their order, distributions, search and scheduler).
void SweepToProto(const SweepDefinition& sweep, ::switchyard::v1::SweepSpec* out);

// Checks the spec's shape only: a value whose oneof is unset, a key or a
// string value longer than 1024 bytes, or an unknown distribution kind, is
// INVALID_ARGUMENT naming the axis (and the value's 1-based position). Meaning (known keys, kinds, ranges,
// grid size) is CountCells' and ExpandGrid's to check.
absl::StatusOr<SweepDefinition> SweepFromProto(const ::switchyard::v1::SweepSpec& spec);

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_SWEEP_SWEEP_WIRE_H_
