// The CLI and the coordinator agree number for number. The coordinator's
// Aggregate RPC and the client's `results` / `figure` run the same engine
// (common/results/stats.h); this checks that they also feed it the same jobs
// and series: the client's own conversion of ListJobs (ToJobData) and of
// QueryMetrics (SeriesByEpoch) against the RPC's answer, double for double.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "client/commands/commands.h"
#include "tests/server/service/grpc_fixture.h"

namespace switchyard::server {
namespace {

// Equal as doubles, NaN equal to NaN (sd of a group of one).
void ExpectSame(double coordinator, double cli, const std::string& what) {
  if (std::isnan(cli)) {
    EXPECT_TRUE(std::isnan(coordinator)) << what << ": " << coordinator;
  } else {
    EXPECT_EQ(coordinator, cli) << what;
  }
}

class CliAgreementTest : public GrpcTest {
 protected:
  // transformer x {softmax, expressive}, mlp and lstm, x 3 seeds: 12 jobs
  // logging accuracy and epoch at each of 4 epochs (seeded noise); one job
  // fails, one succeeds without logging accuracy.
  void SetUp() override {
    GrpcTest::SetUp();
    pb::SweepSpec spec;
    spec.set_name("agreement");
    auto axis = [&](const std::string& key, const std::vector<std::string>& values) {
      pb::Axis* a = spec.add_axes();
      a->set_key(key);
      for (const std::string& v : values) a->add_values()->set_string_value(v);
    };
    axis("model", {"transformer", "mlp", "lstm"});
    axis("attention", {"softmax", "expressive"});
    pb::Axis* seeds = spec.add_axes();
    seeds->set_key("seed");
    for (int s = 1; s <= 3; ++s) seeds->add_values()->set_int_value(s);
    pb::Axis* epochs = spec.add_axes();
    epochs->set_key("epochs");
    epochs->add_values()->set_int_value(4);
    {
      grpc::ClientContext context;
      pb::SubmitSweepRequest request;
      *request.mutable_spec() = spec;
      pb::SubmitSweepResponse response;
      grpc::Status status = client_->SubmitSweep(&context, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ASSERT_EQ(response.job_count(), 12);
      sweep_ = response.sweep_id();
    }
    const int64_t worker = Register();
    std::mt19937_64 rng(15);
    std::uniform_real_distribution<double> noise(0, 0.1);
    for (int i = 0; i < 12; ++i) {
      pb::Assignment a = Claim(worker);
      pb::MetricBatch batch;
      *batch.mutable_attempt() = a.attempt();
      batch.set_seq(1);
      for (int epoch = 1; epoch <= 4; ++epoch) {
        const int64_t step = epoch * 50;
        if (i != 5) {
          pb::MetricPoint* p = batch.add_points();
          p->set_name("accuracy");
          p->set_step(step);
          p->set_value(0.4 + 0.1 * epoch + noise(rng));
          p->set_wall_time(1.7e9);
        }
        pb::MetricPoint* e = batch.add_points();
        e->set_name("epoch");
        e->set_step(step);
        e->set_value(epoch);
        e->set_wall_time(1.7e9);
      }
      auto [acked, status] = Report({batch});
      ASSERT_TRUE(status.ok()) << status.error_message();
      grpc::ClientContext context;
      pb::FinishJobRequest finish;
      *finish.mutable_attempt() = a.attempt();
      finish.set_outcome(i == 7 ? pb::ATTEMPT_OUTCOME_CONFIG_ERROR : pb::ATTEMPT_OUTCOME_SUCCEEDED);
      pb::FinishJobResponse finished;
      ASSERT_TRUE(worker_->FinishJob(&context, finish, &finished).ok());
    }
  }

  // The jobs as `switchyard results` builds them.
  std::vector<client::JobData> CliJobs() {
    grpc::ClientContext context;
    pb::ListJobsRequest request;
    request.set_sweep_id(sweep_);
    pb::ListJobsResponse response;
    EXPECT_TRUE(client_->ListJobs(&context, request, &response).ok());
    std::vector<client::JobData> jobs;
    for (const pb::Job& job : response.jobs()) jobs.push_back(client::ToJobData(job));
    return jobs;
  }

  pb::AggregateResponse Aggregate(const std::string& x, const std::vector<std::string>& group_by) {
    grpc::ClientContext context;
    pb::AggregateRequest request;
    request.set_sweep_id(sweep_);
    request.set_name("accuracy");
    for (const std::string& key : group_by) request.add_group_by(key);
    request.set_x(x);
    pb::AggregateResponse response;
    grpc::Status status = client_->Aggregate(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  int64_t sweep_ = 0;
};

TEST_F(CliAgreementTest, FinalMetricsAgreeWithResults) {
  const std::vector<std::string> group_by = {"model", "attention"};
  std::vector<client::GroupResult> cli =
      client::GroupFinalMetrics(CliJobs(), "accuracy", group_by, client::ResultFilter{});
  pb::AggregateResponse coordinator = Aggregate("final", group_by);
  ASSERT_EQ(cli.size(), 4u);  // transformer softmax, transformer expressive, mlp none, lstm none
  ASSERT_EQ(coordinator.groups_size(), static_cast<int>(cli.size()));
  for (size_t g = 0; g < cli.size(); ++g) {
    const pb::AggregateGroup& group = coordinator.groups(static_cast<int>(g));
    const std::string what = cli[g].key[0] + "/" + cli[g].key[1];
    EXPECT_EQ(group.key().at("model"), cli[g].key[0]) << g;
    EXPECT_EQ(group.key().at("attention"), cli[g].key[1]) << g;
    EXPECT_EQ(std::vector<int64_t>(group.job_ids().begin(), group.job_ids().end()),
              cli[g].job_ids)
        << what;
    ASSERT_EQ(group.points_size(), 1) << what;
    const pb::AggregatePoint& p = group.points(0);
    EXPECT_EQ(p.n(), cli[g].summary.n) << what;
    ExpectSame(p.mean(), cli[g].summary.mean, what + " mean");
    ExpectSame(p.sd(), cli[g].summary.stddev, what + " sd");
    ExpectSame(p.min(), cli[g].summary.min, what + " min");
    ExpectSame(p.max(), cli[g].summary.max, what + " max");
  }
  // The failed job and the one without accuracy are in neither.
  int64_t n = 0;
  for (const client::GroupResult& r : cli) n += r.summary.n;
  EXPECT_EQ(n, 10);
}

TEST_F(CliAgreementTest, EpochCurvesAgreeWithFigure) {
  const std::vector<std::string> group_by = {"model", "attention"};
  std::vector<client::JobData> jobs = CliJobs();
  // As `figure --kind curves` loads them: accuracy against the epoch logged
  // at the same step.
  std::map<int64_t, std::map<int64_t, double>> value_at, epoch_at;
  {
    grpc::ClientContext context;
    pb::QueryMetricsRequest request;
    request.set_sweep_id(sweep_);
    request.add_names("accuracy");
    request.add_names("epoch");
    auto reader = client_->QueryMetrics(&context, request);
    pb::QueryMetricsResponse chunk;
    while (reader->Read(&chunk)) {
      for (const pb::JobMetricPoint& p : chunk.points()) {
        (p.point().name() == "epoch" ? epoch_at : value_at)[p.job_id()][p.point().step()] =
            p.point().value();
      }
    }
    ASSERT_TRUE(reader->Finish().ok());
  }
  std::map<int64_t, client::Series> series;
  for (const client::JobData& job : jobs) {
    if (!value_at.count(job.id)) continue;
    bool by_epoch = true;
    series[job.id] = client::SeriesByEpoch(value_at[job.id], epoch_at[job.id], 0, &by_epoch);
    EXPECT_TRUE(by_epoch);
  }
  std::vector<client::Curve> cli = client::GroupCurves(jobs, series, group_by, {});
  pb::AggregateResponse coordinator = Aggregate("epoch", group_by);
  ASSERT_EQ(cli.size(), 4u);
  ASSERT_EQ(coordinator.groups_size(), static_cast<int>(cli.size()));
  for (size_t g = 0; g < cli.size(); ++g) {
    const pb::AggregateGroup& group = coordinator.groups(static_cast<int>(g));
    EXPECT_EQ(group.key().at("model"), cli[g].key[0]);
    EXPECT_EQ(std::vector<int64_t>(group.job_ids().begin(), group.job_ids().end()),
              cli[g].job_ids);
    ASSERT_EQ(group.points_size(), static_cast<int>(cli[g].points.size()));
    ASSERT_EQ(group.points_size(), 4);
    for (int i = 0; i < group.points_size(); ++i) {
      const std::string what = cli[g].key[0] + "/" + cli[g].key[1] + " x=" +
                               std::to_string(cli[g].points[i].x);
      const client::CurvePoint& want = cli[g].points[i];
      EXPECT_EQ(group.points(i).x(), want.x) << what;
      EXPECT_EQ(group.points(i).n(), want.y.n) << what;
      ExpectSame(group.points(i).mean(), want.y.mean, what + " mean");
      ExpectSame(group.points(i).sd(), want.y.stddev, what + " sd");
      ExpectSame(group.points(i).min(), want.y.min, what + " min");
      ExpectSame(group.points(i).max(), want.y.max, what + " max");
    }
  }
}

}  // namespace
}  // namespace switchyard::server
