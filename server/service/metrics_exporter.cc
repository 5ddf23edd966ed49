#include "server/service/metrics_exporter.h"

#include <filesystem>
#include <limits>
#include <map>


namespace switchyard::server {
namespace {

using common::AddCounter;
using common::AddGauge;

int64_t FileBytes(const std::string& path) {
  std::error_code error;
  auto size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<int64_t>(size);
}

}  // namespace

MetricsCollector::MetricsCollector(Coordinator* coordinator, Store* store,
                                   std::string database_path)
    : coordinator_(coordinator), store_(store), database_path_(std::move(database_path)) {}

std::vector<prometheus::MetricFamily> MetricsCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;

  auto jobs = common::MetricFamily("switchyard_jobs", "Jobs by sweep and state.", MetricType::Gauge);
  if (auto sweeps = coordinator_->ListSweeps(); sweeps.ok()) {
    for (const SweepRecord& sweep : *sweeps) {
      std::string id = std::to_string(sweep.id);
      StateCounts counts = sweep.counts;
      for (JobState state : kAllJobStates) {
        AddGauge(&jobs, {{"sweep", id}, {"state", JobStateName(state)}},
                 static_cast<double>(counts.For(state)));
      }
    }
  }
  families.push_back(std::move(jobs));

  auto workers = common::MetricFamily("switchyard_workers", "Registered workers by state.", MetricType::Gauge);
  auto slots = common::MetricFamily("switchyard_slots", "Slots of alive workers, busy or free.", MetricType::Gauge);
  if (auto listed = coordinator_->ListWorkers(); listed.ok()) {
    std::map<std::string, int64_t> by_state = {{"alive", 0}, {"draining", 0}, {"gone", 0}};
    int64_t busy = 0, total = 0;
    for (const auto& [worker, state] : *listed) {
      by_state[state] += 1;
      if (state == "gone") continue;
      for (const DeviceRecord& device : worker.devices) total += device.slots;
      busy += worker.slots_busy;
    }
    for (const auto& [state, count] : by_state) {
      AddGauge(&workers, {{"state", state}}, static_cast<double>(count));
    }
    AddGauge(&slots, {{"state", "busy"}}, static_cast<double>(busy));
    AddGauge(&slots, {{"state", "free"}}, static_cast<double>(std::max<int64_t>(0, total - busy)));
  }
  families.push_back(std::move(workers));
  families.push_back(std::move(slots));

  CoordinatorStats stats = coordinator_->stats();
  auto claims = common::MetricFamily("switchyard_claims_total", "ClaimJob calls by result.", MetricType::Counter);
  AddCounter(&claims, {{"result", "job"}}, static_cast<double>(stats.claims_served));
  AddCounter(&claims, {{"result", "empty"}}, static_cast<double>(stats.claims_empty));
  families.push_back(std::move(claims));
  auto counter = [&](std::string name, std::string help, int64_t value) {
    auto family = common::MetricFamily(std::move(name), std::move(help), MetricType::Counter);
    AddCounter(&family, {}, static_cast<double>(value));
    families.push_back(std::move(family));
  };
  counter("switchyard_lease_expiries_total", "Attempts marked lost because their lease expired.",
          stats.leases_expired);
  counter("switchyard_metric_points_ingested_total", "Metric points in acknowledged batches.",
          stats.points_ingested);
  counter("switchyard_metric_batches_ingested_total", "Acknowledged metric batches.",
          stats.batches_ingested);
  counter("switchyard_checkpoints_stored_total", "Checkpoints stored.", stats.checkpoints_stored);

  StoreStats store_stats = store_->Stats();
  auto latency = common::MetricFamily("switchyard_write_transaction_seconds",
                        "Latency of the store's group-commit write transactions.",
                        MetricType::Histogram);
  prometheus::ClientMetric histogram;
  histogram.histogram.sample_count = static_cast<std::uint64_t>(store_stats.commits);
  histogram.histogram.sample_sum = store_stats.commit_seconds_sum;
  for (size_t i = 0; i < store_stats.commit_bucket_bounds.size(); ++i) {
    prometheus::ClientMetric::Bucket bucket;
    bucket.upper_bound = store_stats.commit_bucket_bounds[i];
    bucket.cumulative_count = static_cast<std::uint64_t>(store_stats.commit_bucket_counts[i]);
    histogram.histogram.bucket.push_back(bucket);
  }
  prometheus::ClientMetric::Bucket infinity;
  infinity.upper_bound = std::numeric_limits<double>::infinity();
  infinity.cumulative_count = static_cast<std::uint64_t>(store_stats.commits);
  histogram.histogram.bucket.push_back(infinity);
  latency.metric.push_back(std::move(histogram));
  families.push_back(std::move(latency));

  auto size = common::MetricFamily("switchyard_database_bytes", "Size of the database and its WAL file.",
                     MetricType::Gauge);
  AddGauge(&size, {}, static_cast<double>(FileBytes(database_path_) +
                                          FileBytes(database_path_ + "-wal")));
  families.push_back(std::move(size));
  return families;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                                    Coordinator* coordinator,
                                                                    Store* store,
                                                                    std::string database_path) {
  auto server = std::unique_ptr<MetricsServer>(new MetricsServer());
  absl::StatusOr<std::unique_ptr<common::MetricsEndpoint>> endpoint =
      common::StartMetricsEndpoint(
          "--metrics-listen", listen,
          std::make_shared<MetricsCollector>(coordinator, store, std::move(database_path)));
  if (!endpoint.ok()) return endpoint.status();
  server->endpoint_ = std::move(*endpoint);
  return server;
}

}  // namespace switchyard::server
