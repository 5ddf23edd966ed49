// The client's name for the sweep's one wire conversion,
// common::SweepToProto (common/sweep/sweep_wire.h), which the coordinator
// and the tests call as well.
//
// Thread safety: pure functions.
#ifndef SWITCHYARD_CLIENT_SWEEP_SPEC_H_
#define SWITCHYARD_CLIENT_SWEEP_SPEC_H_

#include "common/sweep/sweep_wire.h"

namespace switchyard::client {

inline void SweepDefinitionToSpec(const common::SweepDefinition& sweep,
                                  ::switchyard::v1::SweepSpec* out) {
  common::SweepToProto(sweep, out);
}

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_SWEEP_SPEC_H_
