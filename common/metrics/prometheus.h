// Helpers for Prometheus collectors that compute their families at scrape
// time (the coordinator's and the worker's): building families by hand, and
// starting the HTTP endpoint with a Status instead of an exception.
#ifndef SWITCHYARD_COMMON_METRICS_PROMETHEUS_H_
#define SWITCHYARD_COMMON_METRICS_PROMETHEUS_H_

#include <memory>
#include <string>
#include <vector>

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include "absl/status/statusor.h"

namespace switchyard::common {

using MetricLabels = std::vector<prometheus::ClientMetric::Label>;

prometheus::MetricFamily MetricFamily(std::string name, std::string help,
                                      prometheus::MetricType type);
void AddGauge(prometheus::MetricFamily *family, MetricLabels labels,
              double value);
void AddCounter(prometheus::MetricFamily *family, MetricLabels labels,
                double value);

// An HTTP endpoint serving one collectable on /metrics until destroyed. It
// owns the collectable: the exposer itself holds only a weak pointer, and
// would serve nothing of it once the caller's copy was gone.
struct MetricsEndpoint {
  std::shared_ptr<prometheus::Collectable> collectable;
  std::unique_ptr<prometheus::Exposer> exposer; // destroyed first
  std::vector<int> ports() const { return exposer->GetListeningPorts(); }
};

// Serves `collectable` on http://LISTEN/metrics. `listen` is HOST:PORT; port
// 0 is not supported by prometheus-cpp. UNAVAILABLE (naming `flag` and the
// address) when the port cannot be bound.
absl::StatusOr<std::unique_ptr<MetricsEndpoint>>
StartMetricsEndpoint(const std::string &flag, const std::string &listen,
                     std::shared_ptr<prometheus::Collectable> collectable);

} // namespace switchyard::common

#endif // SWITCHYARD_COMMON_METRICS_PROMETHEUS_H_
