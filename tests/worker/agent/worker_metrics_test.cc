// The worker's Prometheus families, rendered in the text format a scrape
// returns, from a WorkerStats snapshot.
#include "worker/agent/worker_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <string>

namespace switchyard::worker {
namespace {

std::string Scrape(const WorkerMetricsCollector &collector) {
  return prometheus::TextSerializer().Serialize(collector.Collect());
}

TEST(WorkerMetricsTest, RendersEveryFamilyFromTheSnapshot) {
  WorkerStats stats;
  stats.worker_id = 7;
  stats.coordinator_reachable = true;
  stats.slots = 4;
  stats.busy_slots = 3;
  stats.samples_per_sec = 1234.5;
  stats.unacked_metric_batches = 17;
  stats.checkpoints_waiting = 2;
  stats.jobs_claimed = 9;
  stats.attempts_ended = {{"succeeded", 5}, {"preempted", 1}};
  WorkerMetricsCollector collector("gpu-node-1", "0.1.0",
                                   [&] { return stats; });

  const std::string text = Scrape(collector);
  for (const char *line : {
           "switchyard_worker_info{name=\"gpu-node-1\",worker_id=\"7\",version="
           "\"0.1.0\"} 1",
           "switchyard_worker_coordinator_reachable 1",
           "switchyard_worker_draining 0",
           "switchyard_worker_slots{state=\"busy\"} 3",
           "switchyard_worker_slots{state=\"free\"} 1",
           "switchyard_worker_jobs_running 3",
           "switchyard_worker_samples_per_second 1234.5",
           "switchyard_worker_metric_upload_backlog_batches 17",
           "switchyard_worker_checkpoint_upload_backlog 2",
           "switchyard_worker_jobs_claimed_total 9",
           "switchyard_worker_attempts_ended_total{how=\"succeeded\"} 5",
           "switchyard_worker_attempts_ended_total{how=\"preempted\"} 1",
           "switchyard_worker_attempts_ended_total{how=\"failed\"} 0",
       }) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos)
        << line << "\nin:\n"
        << text;
  }
  EXPECT_NE(text.find("# TYPE switchyard_worker_jobs_claimed_total counter"),
            std::string::npos);
}

TEST(WorkerMetricsTest, EachScrapeTakesAFreshSnapshot) {
  WorkerStats stats;
  stats.slots = 2;
  WorkerMetricsCollector collector("w", "v", [&] { return stats; });
  EXPECT_NE(Scrape(collector).find("switchyard_worker_jobs_running 0\n"),
            std::string::npos);
  stats.busy_slots = 2;
  stats.draining = true;
  const std::string text = Scrape(collector);
  EXPECT_NE(text.find("switchyard_worker_jobs_running 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("switchyard_worker_slots{state=\"free\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("switchyard_worker_draining 1\n"), std::string::npos)
      << text;
}

} // namespace
} // namespace switchyard::worker
