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

void ValueToProto(const config::Value& value, pb::ParamValue* p) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    p->set_int_value(*i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    p->set_float_value(*d);
  } else {
    p->set_string_value(std::get<std::string>(value));
  }
}

// `what` names the value in an error ("lr: value 2").
absl::StatusOr<config::Value> ValueFromProto(const pb::ParamValue& value, const std::string& what) {
  switch (value.kind_case()) {
    case pb::ParamValue::kIntValue: return config::Value(value.int_value());
    case pb::ParamValue::kFloatValue: return config::Value(value.float_value());
    case pb::ParamValue::kStringValue:
      if (value.string_value().size() > kMaxShortString) {
        return absl::InvalidArgumentError(absl::StrCat(what, " is longer than 1024 bytes"));
      }
      return config::Value(value.string_value());
    default:
      return absl::InvalidArgumentError(absl::StrCat(what, " is unset"));
  }
}

}  // namespace

void AxisToProto(const SweepAxis& axis, pb::Axis* out) {
  out->Clear();
  out->set_key(axis.key);
  for (const config::Value& value : axis.values) ValueToProto(value, out->add_values());
}

void SchedulerToProto(const SchedulerSpec& sc, pb::Scheduler* p) {
  p->Clear();
  if (sc.kind == SchedulerSpec::Kind::kNone) return;
  p->set_kind(SchedulerKindName(sc.kind));
  const bool asha = sc.kind == SchedulerSpec::Kind::kAsha;
  p->set_metric(asha ? sc.asha.metric : sc.median.metric);
  p->set_mode((asha ? sc.asha.maximize : sc.median.maximize) ? "max" : "min");
  if (asha) {
    p->set_min_epochs(sc.asha.min_epochs);
    p->set_max_epochs(sc.asha.max_epochs);
    p->set_reduction(sc.asha.reduction);
  } else {
    p->set_warmup_epochs(sc.median.warmup_epochs);
  }
}

void SweepToProto(const SweepDefinition& sweep, pb::SweepSpec* out) {
  out->Clear();
  out->set_name(sweep.name);
  out->set_priority(sweep.priority);
  out->set_max_attempts(sweep.max_attempts);
  for (const SweepAxis& axis : sweep.axes) AxisToProto(axis, out->add_axes());
  for (const SweepDistribution& d : sweep.distributions) {
    pb::Distribution* p = out->add_distributions();
    p->set_key(d.key);
    p->set_kind(DistributionKindName(d.kind));
    p->set_low(d.low);
    p->set_high(d.high);
    for (const config::Value& value : d.choices) ValueToProto(value, p->add_choices());
  }
  if (!sweep.search.method.empty()) {
    out->mutable_search()->set_method(sweep.search.method);
    out->mutable_search()->set_trials(sweep.search.trials);
    out->mutable_search()->set_seed(sweep.search.seed);
  }
  if (sweep.scheduler.kind != SchedulerSpec::Kind::kNone) {
    SchedulerToProto(sweep.scheduler, out->mutable_scheduler());
  }
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
      absl::StatusOr<config::Value> value =
          ValueFromProto(axis.values(i), absl::StrCat(axis.key(), ": value ", i + 1));
      if (!value.ok()) return value.status();
      out.values.push_back(*std::move(value));
    }
    sweep.axes.push_back(std::move(out));
  }
  for (int i = 0; i < spec.distributions_size(); ++i) {
    const pb::Distribution& d = spec.distributions(i);
    if (d.key().size() > kMaxShortString) {
      return absl::InvalidArgumentError(
          absl::StrCat("distributions[", i, "]: key longer than 1024 bytes"));
    }
    SweepDistribution out;
    out.key = d.key();
    if (!ParseDistributionKind(d.kind(), &out.kind)) {
      return absl::InvalidArgumentError(absl::StrCat(d.key(), ": unknown distribution kind"));
    }
    out.low = d.low();
    out.high = d.high();
    for (int c = 0; c < d.choices_size(); ++c) {
      absl::StatusOr<config::Value> value =
          ValueFromProto(d.choices(c), absl::StrCat(d.key(), ": choice ", c + 1));
      if (!value.ok()) return value.status();
      out.choices.push_back(*std::move(value));
    }
    sweep.distributions.push_back(std::move(out));
  }
  if (spec.has_search()) {
    if (spec.search().method().size() > kMaxShortString) {
      return absl::InvalidArgumentError("search: method longer than 1024 bytes");
    }
    sweep.search.method = spec.search().method();
    sweep.search.trials = spec.search().trials();
    sweep.search.seed = spec.search().seed();
  }
  if (spec.has_scheduler() && !spec.scheduler().kind().empty()) {
    const pb::Scheduler& p = spec.scheduler();
    SchedulerSpec& sc = sweep.scheduler;
    if (!ParseSchedulerKind(p.kind(), &sc.kind)) {
      return absl::InvalidArgumentError(
          absl::StrCat("scheduler: kind: unknown scheduler '", p.kind().substr(0, 100),
                       "'; known: asha, median, none"));
    }
    if (p.metric().size() > kMaxShortString) {
      return absl::InvalidArgumentError("scheduler: metric longer than 1024 bytes");
    }
    if (sc.kind != SchedulerSpec::Kind::kNone && p.mode() != "max" && p.mode() != "min") {
      return absl::InvalidArgumentError(absl::StrCat("scheduler: mode: expected max or min, got '",
                                                     p.mode().substr(0, 100), "'"));
    }
    sc.asha = AshaPolicy{p.metric(), p.mode() == "max", p.min_epochs(), p.max_epochs(),
                         p.reduction()};
    sc.median = MedianPolicy{p.metric(), p.mode() == "max", p.warmup_epochs()};
  }
  return sweep;
}

}  // namespace switchyard::common
