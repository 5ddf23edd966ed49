// The client side of the wire conversion for sweeps: a parsed sweep file
// (common::SweepDefinition) becomes the SweepSpec that SubmitSweep carries.
// The coordinator converts back with server/service/convert.cc; both keep a
// value's kind (integer, number, string) so the grid is the same on both
// sides.
//
// Thread safety: pure functions.
#ifndef SWITCHYARD_CLIENT_SWEEP_SPEC_H_
#define SWITCHYARD_CLIENT_SWEEP_SPEC_H_

#include "common/sweep/grid.h"
#include "switchyard/v1/switchyard.pb.h"

namespace switchyard::client {

void SweepDefinitionToSpec(const common::SweepDefinition& sweep, ::switchyard::v1::SweepSpec* out);

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_SWEEP_SPEC_H_
