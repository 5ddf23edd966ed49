// The worker daemon's Prometheus endpoint (--metrics-listen HOST:PORT, path
// /metrics). Families are computed at scrape time from a WorkerStats
// snapshot, so the daemon's threads never wait on a scrape.
//
// Families:
//   switchyard_worker_info{name,worker_id,version}     gauge  1
//   switchyard_worker_coordinator_reachable            gauge  1 or 0 (last
//   heartbeat) switchyard_worker_draining                         gauge  1 or 0
//   switchyard_worker_slots{state}                     gauge  busy, free
//   switchyard_worker_jobs_running                     gauge
//   switchyard_worker_samples_per_second               gauge  summed over
//   running jobs switchyard_worker_metric_upload_backlog_batches    gauge
//   unacknowledged batches switchyard_worker_checkpoint_upload_backlog gauge
//   checkpoints waiting switchyard_worker_jobs_claimed_total counter
//   switchyard_worker_attempts_ended_total{how}        counter
#ifndef SWITCHYARD_WORKER_AGENT_WORKER_METRICS_H_
#define SWITCHYARD_WORKER_AGENT_WORKER_METRICS_H_

#include <functional>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "worker/agent/daemon.h"

namespace switchyard::worker {

// Thread-safe if `stats` is: Collect() runs on the exposer's threads.
class WorkerMetricsCollector : public prometheus::Collectable {
public:
  WorkerMetricsCollector(std::string name, std::string version,
                         std::function<WorkerStats()> stats);
  std::vector<prometheus::MetricFamily> Collect() const override;

private:
  const std::string name_;
  const std::string version_;
  const std::function<WorkerStats()> stats_;
};

} // namespace switchyard::worker

#endif // SWITCHYARD_WORKER_AGENT_WORKER_METRICS_H_
