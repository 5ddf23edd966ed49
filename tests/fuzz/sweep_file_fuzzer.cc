// libFuzzer harness: sweep files (common/sweep/sweep_file), the text a person
// or a script hands to `switchyard submit`.
// Properties: no crash, no sanitizer report; every error is INVALID_ARGUMENT
// with a message; a file that parses is a sweep the coordinator accepts, and
// it survives the trip through the wire message unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/sweep/grid.h"
#include "common/sweep/sweep_file.h"
#include "server/service/convert.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<switchyard::common::SweepDefinition> sweep =
      switchyard::common::ParseSweepText(text, "fuzz.yaml");
  if (!sweep.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(sweep.status()),
               sweep.status().ToString());
    FUZZ_CHECK(!sweep.status().message().empty(), "an error without a message");
    return 0;
  }
  absl::StatusOr<int64_t> cells = switchyard::common::CountCells(*sweep);
  FUZZ_CHECK(cells.ok(), cells.status().ToString());
  FUZZ_CHECK(*cells >= 1 && *cells <= switchyard::common::kMaxCells,
             std::to_string(*cells));
  // What the CLI sends is what the coordinator reads back.
  switchyard::v1::SweepSpec spec;
  switchyard::server::SweepToProto(*sweep, &spec);
  absl::StatusOr<switchyard::common::SweepDefinition> back =
      switchyard::server::SweepFromProto(spec);
  FUZZ_CHECK(back.ok(), back.status().ToString());
  absl::StatusOr<int64_t> cells_back = switchyard::common::CountCells(*back);
  FUZZ_CHECK(cells_back.ok() && *cells_back == *cells,
             "the cell count changed on the wire");
  absl::StatusOr<std::vector<switchyard::common::GridCell>> first =
      switchyard::common::ExpandGrid(*back, /*limit=*/16);
  FUZZ_CHECK(first.ok(), first.status().ToString());
  FUZZ_CHECK(!first->empty(), "no cell");
  return 0;
}
