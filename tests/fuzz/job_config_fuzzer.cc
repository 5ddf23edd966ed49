// libFuzzer harness: a job's config JSON (common/config JobConfig::FromJson),
// which the coordinator hands to workers in every Assignment and the trainer
// reads back.
// Properties: no crash, no exception, no sanitizer report; an accepted config
// has canonical JSON that parses back to the same config, and Validate()
// answers without crashing either way.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config/job_config.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  switchyard::config::JobConfig config;
  std::string error = switchyard::config::JobConfig::FromJson(json, &config);
  if (!error.empty()) return 0;
  (void)config.Validate();
  std::string canonical = config.ToJson();
  switchyard::config::JobConfig back;
  error = switchyard::config::JobConfig::FromJson(canonical, &back);
  FUZZ_CHECK(error.empty(), error + " in " + canonical);
  FUZZ_CHECK(back == config, canonical);
  FUZZ_CHECK(back.ToJson() == canonical, canonical);
  return 0;
}
