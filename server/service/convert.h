// Conversions between the wire messages (switchyard.v1) and the core's plain
// types. Requests are checked for shape here (unset oneofs, unknown enum
// values, missing ids) so the core only sees well-formed values; meaning
// (known keys, ranges) is checked by the core.
#ifndef SWITCHYARD_SERVER_SERVICE_CONVERT_H_
#define SWITCHYARD_SERVER_SERVICE_CONVERT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "common/sweep/grid.h"
#include "common/sweep/sweep_wire.h"
#include "server/core/store.h"
#include "server/core/types.h"
#include "switchyard/v1/switchyard.pb.h"

namespace switchyard::server {

namespace pb = ::switchyard::v1;

// A sweep's conversion is common/sweep/sweep_wire.h's, shared with the CLI and
// the tests; named here so that every conversion a handler calls is found in
// this header.
using common::SweepFromProto;
using common::SweepToProto;

// INVALID_ARGUMENT for UNSPECIFIED or a value this build does not know.
absl::StatusOr<JobState> JobStateFromProto(pb::JobState state);
absl::StatusOr<AttemptOutcome> AttemptOutcomeFromProto(pb::AttemptOutcome outcome);
pb::JobState JobStateToProto(JobState state);
pb::AttemptOutcome AttemptOutcomeToProto(AttemptOutcome outcome);

// INVALID_ARGUMENT when the id is not positive or the token is empty or huge.
absl::StatusOr<AttemptRef> AttemptRefFromProto(const pb::AttemptRef& ref);
void AttemptRefToProto(const AttemptRef& ref, pb::AttemptRef* out);

void SweepRecordToProto(const SweepRecord& record, pb::Sweep* out);
void JobRecordToProto(const JobRecord& record, pb::Job* out);
void WorkerRecordToProto(const WorkerRecord& record, const std::string& state, pb::Worker* out);
absl::StatusOr<WorkerRecord> WorkerFromRegisterRequest(const pb::RegisterWorkerRequest& request);
void AssignmentToProto(const Assignment& assignment, double lease_seconds, pb::Assignment* out);
absl::StatusOr<MetricBatchWrite> MetricBatchFromProto(const pb::MetricBatch& batch);
// The quarantine fields of pb::Worker; WorkerRecordToProto fills the rest.
void WorkerHealthToProto(const WorkerRecord& record, pb::Worker* out);

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_SERVICE_CONVERT_H_
