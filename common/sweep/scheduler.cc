#include "common/sweep/scheduler.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace switchyard::common {

absl::Status ValidateAsha(const AshaPolicy& p) {
  if (p.metric.empty()) return absl::InvalidArgumentError("asha: metric must not be empty");
  if (p.reduction < 2 || p.reduction > kMaxReduction) {
    return absl::InvalidArgumentError(absl::StrCat("asha: reduction must be 2 to ", kMaxReduction,
                                                   ", got ", p.reduction));
  }
  if (p.min_epochs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("asha: min_epochs must be at least 1, got ", p.min_epochs));
  }
  if (p.max_epochs < p.min_epochs) {
    return absl::InvalidArgumentError(absl::StrCat("asha: max_epochs (", p.max_epochs,
                                                   ") must be at least min_epochs (",
                                                   p.min_epochs, ")"));
  }
  if (p.max_epochs > kMaxSchedulerEpochs) {
    return absl::InvalidArgumentError(absl::StrCat("asha: max_epochs must be at most ",
                                                   kMaxSchedulerEpochs, ", got ", p.max_epochs));
  }
  return absl::OkStatus();
}

absl::Status ValidateMedian(const MedianPolicy& p) {
  if (p.metric.empty()) return absl::InvalidArgumentError("median: metric must not be empty");
  if (p.warmup_epochs < 0 || p.warmup_epochs > kMaxSchedulerEpochs) {
    return absl::InvalidArgumentError(absl::StrCat("median: warmup_epochs must be 0 to ",
                                                   kMaxSchedulerEpochs, ", got ",
                                                   p.warmup_epochs));
  }
  return absl::OkStatus();
}

const char* SchedulerKindName(SchedulerSpec::Kind kind) {
  switch (kind) {
    case SchedulerSpec::Kind::kNone: return "none";
    case SchedulerSpec::Kind::kAsha: return "asha";
    case SchedulerSpec::Kind::kMedian: return "median";
  }
  return "none";
}

bool ParseSchedulerKind(std::string_view name, SchedulerSpec::Kind* kind) {
  for (SchedulerSpec::Kind k :
       {SchedulerSpec::Kind::kNone, SchedulerSpec::Kind::kAsha, SchedulerSpec::Kind::kMedian}) {
    if (name == SchedulerKindName(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

std::vector<std::string> SchedulerKindNames() { return {"asha", "median", "none"}; }

std::vector<std::string> SchedulerFields(SchedulerSpec::Kind kind) {
  switch (kind) {
    case SchedulerSpec::Kind::kNone: return {"kind"};
    case SchedulerSpec::Kind::kAsha:
      return {"kind", "metric", "mode", "min_epochs", "max_epochs", "reduction"};
    case SchedulerSpec::Kind::kMedian: return {"kind", "metric", "mode", "warmup_epochs"};
  }
  return {"kind"};
}

absl::Status ValidateScheduler(const SchedulerSpec& s) {
  switch (s.kind) {
    case SchedulerSpec::Kind::kNone: return absl::OkStatus();
    case SchedulerSpec::Kind::kAsha: return ValidateAsha(s.asha);
    case SchedulerSpec::Kind::kMedian: return ValidateMedian(s.median);
  }
  return absl::OkStatus();
}

std::string SchedulerToJson(const SchedulerSpec& s) {
  nlohmann::ordered_json j;
  switch (s.kind) {
    case SchedulerSpec::Kind::kNone: return "";
    case SchedulerSpec::Kind::kAsha:
      j = {{"kind", "asha"},
           {"metric", s.asha.metric},
           {"mode", s.asha.maximize ? "max" : "min"},
           {"min_epochs", s.asha.min_epochs},
           {"max_epochs", s.asha.max_epochs},
           {"reduction", s.asha.reduction}};
      break;
    case SchedulerSpec::Kind::kMedian:
      j = {{"kind", "median"},
           {"metric", s.median.metric},
           {"mode", s.median.maximize ? "max" : "min"},
           {"warmup_epochs", s.median.warmup_epochs}};
      break;
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

absl::StatusOr<SchedulerSpec> SchedulerFromJson(std::string_view text) {
  SchedulerSpec s;
  if (text.empty()) return s;
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler: not a stored scheduler: ", std::string(text.substr(0, 200))));
  };
  if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string() ||
      !ParseSchedulerKind(j["kind"].get<std::string>(), &s.kind)) {
    return bad();
  }
  auto text_field = [&](const char* name, std::string* out) {
    if (!j.contains(name) || !j[name].is_string()) return false;
    *out = j[name].get<std::string>();
    return true;
  };
  auto int_field = [&](const char* name, int* out) {
    if (!j.contains(name) || !j[name].is_number_integer()) return false;
    *out = j[name].get<int>();
    return true;
  };
  std::string mode;
  switch (s.kind) {
    case SchedulerSpec::Kind::kNone: break;
    case SchedulerSpec::Kind::kAsha:
      if (!text_field("metric", &s.asha.metric) || !text_field("mode", &mode) ||
          !int_field("min_epochs", &s.asha.min_epochs) ||
          !int_field("max_epochs", &s.asha.max_epochs) ||
          !int_field("reduction", &s.asha.reduction)) {
        return bad();
      }
      s.asha.maximize = mode == "max";
      break;
    case SchedulerSpec::Kind::kMedian:
      if (!text_field("metric", &s.median.metric) || !text_field("mode", &mode) ||
          !int_field("warmup_epochs", &s.median.warmup_epochs)) {
        return bad();
      }
      s.median.maximize = mode == "max";
      break;
  }
  if (mode != "" && mode != "max" && mode != "min") return bad();
  if (absl::Status status = ValidateScheduler(s); !status.ok()) return status;
  return s;
}

}  // namespace switchyard::common
