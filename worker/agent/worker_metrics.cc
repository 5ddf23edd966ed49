#include "worker/agent/worker_metrics.h"

#include <algorithm>
#include <utility>

#include "common/metrics/prometheus.h"

namespace switchyard::worker {

using common::AddCounter;
using common::AddGauge;
using common::MetricFamily;
using prometheus::MetricType;

WorkerMetricsCollector::WorkerMetricsCollector(
    std::string name, std::string version, std::function<WorkerStats()> stats)
    : name_(std::move(name)), version_(std::move(version)),
      stats_(std::move(stats)) {}

std::vector<prometheus::MetricFamily> WorkerMetricsCollector::Collect() const {
  const WorkerStats stats = stats_();
  std::vector<prometheus::MetricFamily> families;
  auto gauge = [&](std::string name, std::string help, double value) {
    auto family =
        MetricFamily(std::move(name), std::move(help), MetricType::Gauge);
    AddGauge(&family, {}, value);
    families.push_back(std::move(family));
  };

  auto info =
      MetricFamily("switchyard_worker_info", "The worker's name, id and build.",
                   MetricType::Gauge);
  AddGauge(&info,
           {{"name", name_},
            {"worker_id", std::to_string(stats.worker_id)},
            {"version", version_}},
           1);
  families.push_back(std::move(info));
  gauge("switchyard_worker_coordinator_reachable",
        "1 when the last heartbeat reached the coordinator.",
        stats.coordinator_reachable ? 1 : 0);
  gauge("switchyard_worker_draining", "1 while the worker drains.",
        stats.draining ? 1 : 0);

  auto slots = MetricFamily("switchyard_worker_slots",
                            "Job slots, busy or free.", MetricType::Gauge);
  AddGauge(&slots, {{"state", "busy"}}, stats.busy_slots);
  AddGauge(&slots, {{"state", "free"}},
           std::max(0, stats.slots - stats.busy_slots));
  families.push_back(std::move(slots));

  gauge("switchyard_worker_jobs_running",
        "Jobs whose trainer runs on this worker.", stats.busy_slots);
  gauge("switchyard_worker_samples_per_second",
        "Training windows per second, summed over the running jobs (each "
        "trainer's last report).",
        stats.samples_per_sec);
  gauge("switchyard_worker_metric_upload_backlog_batches",
        "Metric batches not yet acknowledged by the coordinator (in memory or "
        "spilled).",
        static_cast<double>(stats.unacked_metric_batches));
  gauge("switchyard_worker_checkpoint_upload_backlog",
        "Checkpoints waiting to be uploaded.",
        static_cast<double>(stats.checkpoints_waiting));

  auto claimed = MetricFamily("switchyard_worker_jobs_claimed_total",
                              "Jobs this worker claimed since it started.",
                              MetricType::Counter);
  AddCounter(&claimed, {}, static_cast<double>(stats.jobs_claimed));
  families.push_back(std::move(claimed));

  auto ended = MetricFamily("switchyard_worker_attempts_ended_total",
                            "Attempts that ended on this worker, by how.",
                            MetricType::Counter);
  for (const char *how : {"succeeded", "failed", "config_error",
                          "environment_error", "cancelled", "preempted",
                          "abandoned", "unreported"}) {
    auto it = stats.attempts_ended.find(how);
    AddCounter(
        &ended, {{"how", how}},
        it == stats.attempts_ended.end() ? 0 : static_cast<double>(it->second));
  }
  families.push_back(std::move(ended));
  return families;
}

} // namespace switchyard::worker
