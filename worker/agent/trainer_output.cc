#include "worker/agent/trainer_output.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace switchyard::worker {
namespace {

absl::Status Invalid(std::string_view line, std::string_view what) {
  // Long lines are cut: the message ends up in logs.
  std::string shown(line.substr(0, 200));
  return absl::InvalidArgumentError(
      absl::StrCat("trainer output: ", std::string(what), ": ", shown));
}

// A JSON number that is an integer >= 0 (the trainer may print 400 or 400.0).
bool ReadStep(const nlohmann::json& value, int64_t* step) {
  if (value.is_number_integer() || value.is_number_unsigned()) {
    *step = value.get<int64_t>();
    return *step >= 0;
  }
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (!std::isfinite(d) || d < 0 || d != std::floor(d) || d > 9.0e15) return false;
    *step = static_cast<int64_t>(d);
    return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<TrainerEvent> ParseTrainerLine(std::string_view line, double wall_time) {
  std::string trimmed(
      absl::StripAsciiWhitespace(absl::string_view(line.data(), line.size())));
  nlohmann::json object = nlohmann::json::parse(trimmed, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) return Invalid(line, "not a JSON object");

  TrainerEvent event;
  event.json = trimmed;
  if (object.contains("summary")) {
    event.kind = TrainerEvent::Kind::kSummary;
    return event;
  }
  if (object.contains("error")) {
    // Checked before the metrics shape: an error line carries a step too.
    event.kind = TrainerEvent::Kind::kError;
    const nlohmann::json& message = object["error"];
    event.error = message.is_string() ? message.get<std::string>() : message.dump();
    return event;
  }
  if (object.contains("checkpoint")) {
    const nlohmann::json& path = object["checkpoint"];
    if (!path.is_string() || path.get<std::string>().empty()) {
      return Invalid(line, "a checkpoint line needs a path");
    }
    if (!object.contains("step") || !ReadStep(object["step"], &event.step)) {
      return Invalid(line, "a checkpoint line needs a non-negative integer step");
    }
    event.kind = TrainerEvent::Kind::kCheckpoint;
    event.checkpoint_path = path.get<std::string>();
    return event;
  }
  if (!object.contains("step")) return event;  // kOther: a shape this daemon does not know
  if (!ReadStep(object["step"], &event.step)) {
    return Invalid(line, "a metrics line needs a non-negative integer step");
  }
  event.kind = TrainerEvent::Kind::kMetrics;
  for (const auto& [key, value] : object.items()) {
    if (key == "step" || !value.is_number()) continue;
    double v = value.get<double>();
    if (!std::isfinite(v)) continue;
    switchyard::v1::MetricPoint& point = event.points.emplace_back();
    point.set_name(key);
    point.set_step(event.step);
    point.set_value(v);
    point.set_wall_time(wall_time);
  }
  return event;
}

}  // namespace switchyard::worker
