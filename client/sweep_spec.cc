#include "client/sweep_spec.h"

#include <variant>

namespace switchyard::client {

void SweepDefinitionToSpec(const common::SweepDefinition& sweep, ::switchyard::v1::SweepSpec* out) {
  out->Clear();
  out->set_name(sweep.name);
  out->set_priority(sweep.priority);
  out->set_max_attempts(sweep.max_attempts);
  for (const common::SweepAxis& axis : sweep.axes) {
    ::switchyard::v1::Axis* a = out->add_axes();
    a->set_key(axis.key);
    for (const config::Value& value : axis.values) {
      ::switchyard::v1::ParamValue* p = a->add_values();
      if (const auto* i = std::get_if<int64_t>(&value)) {
        p->set_int_value(*i);
      } else if (const auto* d = std::get_if<double>(&value)) {
        p->set_float_value(*d);
      } else {
        p->set_string_value(std::get<std::string>(value));
      }
    }
  }
}

}  // namespace switchyard::client
