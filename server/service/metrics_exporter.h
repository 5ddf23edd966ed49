// The coordinator's Prometheus endpoint (--metrics-listen HOST:PORT, path
// /metrics). Everything is computed at scrape time from the Coordinator's
// counters and a few cheap queries, so nothing on the hot path knows about
// Prometheus.
//
// Families:
//   switchyard_jobs{sweep,state}                 gauge
//   switchyard_workers{state}                    gauge  alive, draining, gone
//   switchyard_slots{state}                      gauge  busy, free (alive workers)
//   switchyard_claims_total{result}              counter  job, empty
//   switchyard_lease_expiries_total              counter
//   switchyard_metric_points_ingested_total      counter
//   switchyard_metric_batches_ingested_total     counter
//   switchyard_checkpoints_stored_total          counter
//   switchyard_write_transaction_seconds         histogram (group commits)
//   switchyard_database_bytes                    gauge  database + WAL files
#ifndef SWITCHYARD_SERVER_SERVICE_METRICS_EXPORTER_H_
#define SWITCHYARD_SERVER_SERVICE_METRICS_EXPORTER_H_

#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "absl/status/statusor.h"
#include "common/metrics/prometheus.h"
#include "server/core/coordinator.h"

namespace switchyard::server {

// Thread-safe: Collect() runs on the exposer's threads.
class MetricsCollector : public prometheus::Collectable {
 public:
  // Does not own its arguments; they must outlive the collector.
  MetricsCollector(Coordinator* coordinator, Store* store, std::string database_path);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Coordinator* const coordinator_;
  Store* const store_;
  const std::string database_path_;
};

// Serves /metrics on `listen` (HOST:PORT; port 0 is not supported by the
// exposer). UNAVAILABLE when the port cannot be bound.
class MetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              Coordinator* coordinator,
                                                              Store* store,
                                                              std::string database_path);
  std::vector<int> ports() const { return endpoint_->ports(); }

 private:
  MetricsServer() = default;
  std::unique_ptr<common::MetricsEndpoint> endpoint_;
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_SERVICE_METRICS_EXPORTER_H_
