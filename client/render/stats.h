// The CLI's statistics are the shared aggregation engine
// (common/results/stats.h), which the coordinator's Aggregate RPC also runs:
// the names below forward to it so that the client's code reads as before.
#ifndef SWITCHYARD_CLIENT_RENDER_STATS_H_
#define SWITCHYARD_CLIENT_RENDER_STATS_H_

#include "common/results/stats.h"

namespace switchyard::client {

using results::Curve;
using results::CurvePoint;
using results::GroupCurves;
using results::GroupFinalMetrics;
using results::GroupResult;
using results::JobData;
using results::ResultFilter;
using results::Series;
using results::SeriesByEpoch;
using results::Summarize;
using results::Summary;

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_RENDER_STATS_H_
