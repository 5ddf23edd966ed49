// The store-free parts of the views (server/core/views.h): the checks of a
// query, a JobRecord as the aggregation engine's JobData, and the thinning
// of an aggregated curve.
#include "server/core/views.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

namespace switchyard::server {
namespace {

TEST(ViewsTest, SeriesQueryChecksNameTheField) {
  SeriesQuery query;
  query.sweep_id = 1;
  EXPECT_TRUE(CheckSeriesQuery(query, 200).ok());
  query.max_points = 100'000;
  EXPECT_TRUE(CheckSeriesQuery(query, 200).ok());
  query.max_points = 100'001;
  absl::Status s = CheckSeriesQuery(query, 200);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "max_points: must be from 0 (the default, 1000) to 100000, got 100001");
  query.max_points = -1;
  EXPECT_EQ(CheckSeriesQuery(query, 200).code(), absl::StatusCode::kInvalidArgument);
  query.max_points = 0;
  query.names = {"loss", ""};
  s = CheckSeriesQuery(query, 200);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "names[1]: a metric name is 1 to 200 bytes");
  query.names = {std::string(201, 'x')};
  EXPECT_EQ(CheckSeriesQuery(query, 200).code(), absl::StatusCode::kInvalidArgument);
  query.names = {};
  query.job_ids = {3, 0};
  s = CheckSeriesQuery(query, 200);
  EXPECT_EQ(s.message(), "job_ids[1]: must be a positive id, got 0");
}

TEST(ViewsTest, AggregateQueryChecksNameTheField) {
  AggregateQuery query;
  query.sweep_id = 1;
  query.name = "accuracy";
  absl::StatusOr<AggregateX> x = CheckAggregateQuery(query, 200);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(*x, AggregateX::kStep);
  query.x = "epoch";
  EXPECT_EQ(*CheckAggregateQuery(query, 200), AggregateX::kEpoch);
  query.x = "final";
  query.group_by = {"model", "attention", "params.width"};
  EXPECT_EQ(*CheckAggregateQuery(query, 200), AggregateX::kFinal);

  query.x = "time";
  EXPECT_EQ(CheckAggregateQuery(query, 200).status().message(),
            "x: must be step, epoch or final, got 'time'");
  query.x = "step";
  query.group_by = {"model", "modle"};
  absl::Status s = CheckAggregateQuery(query, 200).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("group_by[1]: unknown key 'modle'", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("model"), std::string::npos) << s.message();
  query.group_by = {"params.9bad"};
  EXPECT_EQ(CheckAggregateQuery(query, 200).status().message().rfind("group_by[0]: params.", 0),
            0u);
  query.group_by = {};
  query.name = "";
  EXPECT_EQ(CheckAggregateQuery(query, 200).status().message(),
            "name: a metric name is 1 to 200 bytes");
  query.name = "accuracy";
  query.max_points = 100'001;
  EXPECT_EQ(CheckAggregateQuery(query, 200).status().message(),
            "max_points: must be from 0 (every x) to 100000, got 100001");
}

TEST(ViewsTest, JobDataFromARecordIsWhatTheCliSees) {
  JobRecord job;
  job.id = 7;
  job.sweep_id = 2;
  job.cell_index = 3;
  job.state = JobState::kStopped;
  job.config_json =
      R"({"attention":"softmax","lr":0.001,"model":"transformer",)"
      R"("params":{"depth":4,"kind":"ssm"},"seed":11})";
  job.final_metrics = {{"accuracy", 0.75}};
  job.last_cause = "stopped at rung 1";
  results::JobData data = ToJobData(job);
  EXPECT_EQ(data.id, 7);
  EXPECT_EQ(data.sweep_id, 2);
  EXPECT_EQ(data.cell_index, 3);
  EXPECT_EQ(data.state, "stopped");
  EXPECT_EQ(data.Config("model"), "transformer");
  EXPECT_EQ(data.Config("lr"), "0.001");
  EXPECT_EQ(data.Config("seed"), "11");
  EXPECT_EQ(data.Config("params.depth"), "4");
  EXPECT_EQ(data.Config("params.kind"), "ssm");
  EXPECT_EQ(data.Config("params"), "");
  EXPECT_EQ(data.final_metrics.at("accuracy"), 0.75);
  EXPECT_FALSE(results::ResultFilter{}.Includes(data));
  EXPECT_TRUE(results::ResultFilter{true}.Includes(data));
}

std::vector<results::CurvePoint> Curve(const std::vector<double>& means) {
  std::vector<results::CurvePoint> points;
  for (size_t i = 0; i < means.size(); ++i) {
    results::CurvePoint p;
    p.x = static_cast<double>(i) * 10;
    p.y = results::Summarize({means[i]});
    points.push_back(p);
  }
  return points;
}

TEST(ViewsTest, ThinCurveKeepsEverythingOrTheExtremesAndEvenlySpacedPoints) {
  std::vector<double> means;
  for (int i = 0; i < 1000; ++i) means.push_back(std::sin(i * 0.01));
  means[333] = 5;    // a spike between the spaced picks
  means[667] = -5;   // a dip
  const std::vector<results::CurvePoint> curve = Curve(means);

  EXPECT_EQ(ThinCurve(curve, 0).size(), 1000u);
  EXPECT_EQ(ThinCurve(curve, 1000).size(), 1000u);
  EXPECT_EQ(ThinCurve(curve, 5000).size(), 1000u);

  for (int k : {1, 2, 3, 4, 10, 50, 999}) {
    std::vector<results::CurvePoint> thin = ThinCurve(curve, k);
    SCOPED_TRACE(k);
    EXPECT_LE(thin.size(), static_cast<size_t>(std::max(k, 2)));
    std::set<double> xs;
    for (size_t i = 0; i < thin.size(); ++i) {
      xs.insert(thin[i].x);
      if (i > 0) EXPECT_LT(thin[i - 1].x, thin[i].x);
    }
    EXPECT_TRUE(xs.count(3330)) << "the highest mean is kept";
    EXPECT_TRUE(xs.count(6670)) << "the lowest mean is kept";
    if (k >= 3) EXPECT_TRUE(xs.count(9990)) << "the last x";
    if (k >= 4) EXPECT_TRUE(xs.count(0)) << "the first x";
  }
  std::vector<results::CurvePoint> ten = ThinCurve(curve, 10);
  EXPECT_EQ(ten.size(), 10u);  // 2 extremes + 8 spaced, none coinciding
}

}  // namespace
}  // namespace switchyard::server
