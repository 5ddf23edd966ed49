// libFuzzer harness: every WorkerService and SweepService request conversion
// other than SubmitSweep (submit_sweep_fuzzer), as the coordinator receives
// them. The first byte picks the request type, the rest is its wire bytes:
//   0 RegisterWorkerRequest -> WorkerRecord       (WorkerFromRegisterRequest)
//   1 MetricBatch           -> MetricBatchWrite   (MetricBatchFromProto)
//   2 FinishJobRequest      -> AttemptRef, AttemptOutcome
//   3 HeartbeatRequest      -> AttemptRefs
//   4 CheckpointChunk / GetCheckpointRequest -> AttemptRef
//   5 ListJobsRequest / RetrySweepRequest    -> JobStates
// Properties: no crash, no sanitizer report; every refusal is
// INVALID_ARGUMENT; what is accepted is within the documented bounds and
// converts back to the same wire values.
#include <cstddef>
#include <cstdint>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "server/service/convert.h"
#include "tests/fuzz/fuzz_check.h"

namespace pb = ::switchyard::v1;
namespace server = ::switchyard::server;

namespace {

void CheckRefused(const absl::Status& status) {
  FUZZ_CHECK(absl::IsInvalidArgument(status), status.ToString());
  FUZZ_CHECK(!status.message().empty(), "an error without a message");
}

void CheckAttempt(const pb::AttemptRef& ref) {
  absl::StatusOr<server::AttemptRef> converted =
      server::AttemptRefFromProto(ref);
  if (!converted.ok()) return CheckRefused(converted.status());
  FUZZ_CHECK(converted->attempt_id > 0, "attempt id");
  FUZZ_CHECK(!converted->fencing_token.empty() &&
                 converted->fencing_token.size() <= 256,
             "fencing token size");
  pb::AttemptRef back;
  server::AttemptRefToProto(*converted, &back);
  FUZZ_CHECK(back.SerializeAsString() == ref.SerializeAsString() ||
                 (back.attempt_id() == ref.attempt_id() &&
                  back.fencing_token() == ref.fencing_token()),
             "attempt round trip");
}

void CheckJobState(int value) {
  absl::StatusOr<server::JobState> state =
      server::JobStateFromProto(static_cast<pb::JobState>(value));
  if (!state.ok()) return CheckRefused(state.status());
  FUZZ_CHECK(server::JobStateToProto(*state) == value, "job state round trip");
}

void CheckOutcome(int value) {
  absl::StatusOr<server::AttemptOutcome> outcome =
      server::AttemptOutcomeFromProto(static_cast<pb::AttemptOutcome>(value));
  if (!outcome.ok()) return CheckRefused(outcome.status());
  FUZZ_CHECK(server::AttemptOutcomeToProto(*outcome) == value,
             "outcome round trip");
}

}  // namespace

// protobuf logs every string field with invalid UTF-8 it refuses to parse;
// at thousands of inputs a second that is all a run would print.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t kind = data[0] % 6;
  const void* bytes = data + 1;
  const int n = static_cast<int>(size - 1);
  switch (kind) {
    case 0: {
      pb::RegisterWorkerRequest request;
      if (!request.ParseFromArray(bytes, n)) return 0;
      absl::StatusOr<server::WorkerRecord> worker =
          server::WorkerFromRegisterRequest(request);
      if (!worker.ok()) return CheckRefused(worker.status()), 0;
      FUZZ_CHECK(worker->name.size() <= 1024 && worker->hostname.size() <= 1024,
                 "names");
      FUZZ_CHECK(
          worker->devices.size() == static_cast<size_t>(request.devices_size()),
          "devices");
      for (const server::DeviceRecord& device : worker->devices) {
        FUZZ_CHECK(!device.name.empty() && device.name.size() <= 64,
                   "device name");
      }
      pb::Worker back;
      server::WorkerRecordToProto(*worker, "alive", &back);
      FUZZ_CHECK(back.name() == request.name(), "worker name round trip");
      return 0;
    }
    case 1: {
      pb::MetricBatch batch;
      if (!batch.ParseFromArray(bytes, n)) return 0;
      absl::StatusOr<server::MetricBatchWrite> write =
          server::MetricBatchFromProto(batch);
      if (!write.ok()) return CheckRefused(write.status()), 0;
      FUZZ_CHECK(
          write->points.size() == static_cast<size_t>(batch.points_size()),
          "points");
      FUZZ_CHECK(write->attempt.attempt_id == batch.attempt().attempt_id(),
                 "attempt");
      return 0;
    }
    case 2: {
      pb::FinishJobRequest request;
      if (!request.ParseFromArray(bytes, n)) return 0;
      CheckAttempt(request.attempt());
      CheckOutcome(request.outcome());
      return 0;
    }
    case 3: {
      pb::HeartbeatRequest request;
      if (!request.ParseFromArray(bytes, n)) return 0;
      for (const pb::AttemptRef& ref : request.attempts()) CheckAttempt(ref);
      return 0;
    }
    case 4: {
      pb::CheckpointChunk chunk;
      if (chunk.ParseFromArray(bytes, n)) CheckAttempt(chunk.attempt());
      pb::GetCheckpointRequest request;
      if (request.ParseFromArray(bytes, n)) CheckAttempt(request.attempt());
      return 0;
    }
    case 5: {
      pb::ListJobsRequest list;
      if (list.ParseFromArray(bytes, n)) CheckJobState(list.state());
      pb::RetrySweepRequest retry;
      if (retry.ParseFromArray(bytes, n)) {
        for (int state : retry.states()) CheckJobState(state);
      }
      return 0;
    }
  }
  return 0;
}
