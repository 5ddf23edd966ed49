#include "common/sweep/sweep_wire.h"

#include <variant>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace switchyard::common {
namespace {

namespace pb = ::switchyard::v1;

// Known keys and string values are short names; a long one would only be
// echoed back in the error.
constexpr size_t kMaxShortString = 1024;

}  // namespace

void AxisToProto(const SweepAxis& axis, pb::Axis* out) {
  out->Clear();
  out->set_key(axis.key);
  for (const config::Value& value : axis.values) {
    pb::ParamValue* p = out->add_values();
    if (const auto* i = std::get_if<int64_t>(&value)) {
      p->set_int_value(*i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      p->set_float_value(*d);
    } else {
      p->set_string_value(std::get<std::string>(value));
    }
  }
}

void SweepToProto(const SweepDefinition& sweep, pb::SweepSpec* out) {
  out->Clear();
  out->set_name(sweep.name);
  out->set_priority(sweep.priority);
  out->set_max_attempts(sweep.max_attempts);
  for (const SweepAxis& axis : sweep.axes) AxisToProto(axis, out->add_axes());
}

absl::StatusOr<SweepDefinition> SweepFromProto(const pb::SweepSpec& spec) {
  SweepDefinition sweep;
  sweep.name = spec.name();
  sweep.priority = spec.priority();
  sweep.max_attempts = spec.max_attempts();
  for (int a = 0; a < spec.axes_size(); ++a) {
    const pb::Axis& axis = spec.axes(a);
    if (axis.key().size() > kMaxShortString) {
      return absl::InvalidArgumentError(absl::StrCat("axes[", a, "]: key longer than 1024 bytes"));
    }
    SweepAxis out{axis.key(), {}};
    for (int i = 0; i < axis.values_size(); ++i) {
      const pb::ParamValue& value = axis.values(i);
      switch (value.kind_case()) {
        case pb::ParamValue::kIntValue: out.values.emplace_back(value.int_value()); break;
        case pb::ParamValue::kFloatValue: out.values.emplace_back(value.float_value()); break;
        case pb::ParamValue::kStringValue:
          if (value.string_value().size() > kMaxShortString) {
            return absl::InvalidArgumentError(
                absl::StrCat(axis.key(), ": value ", i + 1, " is longer than 1024 bytes"));
          }
          out.values.emplace_back(value.string_value());
          break;
        default:
          return absl::InvalidArgumentError(
              absl::StrCat(axis.key(), ": value ", i + 1, " is unset"));
      }
    }
    sweep.axes.push_back(std::move(out));
  }
  return sweep;
}

}  // namespace switchyard::common
