// libFuzzer harness: SubmitSweepRequest as the coordinator receives it, bytes
// on the wire -> SweepSpec -> SweepDefinition (server/service/convert) ->
// grid checks and expansion with every cell's JobConfig validated
// (common/sweep/grid, common/config).
// Properties: no crash, no sanitizer report; a refusal is INVALID_ARGUMENT
// with a bounded message once it goes through ToGrpcStatus; an accepted grid
// has 1 to kMaxCells cells, each with canonical JSON that parses back to the
// same config.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config/job_config.h"
#include "common/rpc/status.h"
#include "common/sweep/grid.h"
#include "google/protobuf/stubs/logging.h"
#include "server/service/convert.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

void CheckRefusal(const absl::Status& status) {
  FUZZ_CHECK(absl::IsInvalidArgument(status), status.ToString());
  grpc::Status wire = switchyard::common::ToGrpcStatus(status);
  FUZZ_CHECK(wire.error_code() == grpc::StatusCode::INVALID_ARGUMENT,
             "code changed");
  FUZZ_CHECK(wire.error_message().size() <=
                 switchyard::common::kMaxStatusMessageBytes + 64,
             "unbounded message");
}

}  // namespace

// protobuf logs every string field with invalid UTF-8 it refuses to parse;
// at thousands of inputs a second that is all a run would print.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  switchyard::v1::SubmitSweepRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<switchyard::common::SweepDefinition> sweep =
      switchyard::server::SweepFromProto(request.spec());
  if (!sweep.ok()) {
    CheckRefusal(sweep.status());
    return 0;
  }
  absl::StatusOr<int64_t> cells = switchyard::common::CountCells(*sweep);
  if (!cells.ok()) {
    CheckRefusal(cells.status());
    return 0;
  }
  FUZZ_CHECK(*cells >= 1 && *cells <= switchyard::common::kMaxCells,
             std::to_string(*cells));
  // Expand a bounded prefix: the whole grid of a large sweep is the
  // coordinator's submit path, too slow to repeat per input.
  absl::StatusOr<std::vector<switchyard::common::GridCell>> first =
      switchyard::common::ExpandGrid(*sweep, /*limit=*/64);
  if (!first.ok()) {
    CheckRefusal(first.status());
    return 0;
  }
  for (const switchyard::common::GridCell& cell : *first) {
    std::string json = cell.config.ToJson();
    switchyard::config::JobConfig back;
    std::string error = switchyard::config::JobConfig::FromJson(json, &back);
    FUZZ_CHECK(error.empty(), error);
    FUZZ_CHECK(back == cell.config, json);
    FUZZ_CHECK(back.Validate().empty(), json);
  }
  return 0;
}
