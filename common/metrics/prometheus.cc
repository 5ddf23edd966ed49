#include "common/metrics/prometheus.h"

#include <exception>

#include "absl/strings/str_cat.h"

namespace switchyard::common {

prometheus::MetricFamily MetricFamily(std::string name, std::string help,
                                      prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void AddGauge(prometheus::MetricFamily *family, MetricLabels labels,
              double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family->metric.push_back(std::move(metric));
}

void AddCounter(prometheus::MetricFamily *family, MetricLabels labels,
                double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.counter.value = value;
  family->metric.push_back(std::move(metric));
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>>
StartMetricsEndpoint(const std::string &flag, const std::string &listen,
                     std::shared_ptr<prometheus::Collectable> collectable) {
  auto endpoint = std::make_unique<MetricsEndpoint>();
  try {
    // civetweb throws when it cannot bind; this is the border to that library.
    endpoint->exposer = std::make_unique<prometheus::Exposer>(listen);
  } catch (const std::exception &e) {
    return absl::UnavailableError(
        absl::StrCat(flag, " ", listen, ": ", e.what()));
  }
  endpoint->collectable = std::move(collectable);
  endpoint->exposer->RegisterCollectable(endpoint->collectable);
  return endpoint;
}

} // namespace switchyard::common
