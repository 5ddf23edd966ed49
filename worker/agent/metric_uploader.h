// Uploads one attempt's metric points to the coordinator on its own
// ReportMetrics stream, without ever making the training loop wait.
//
// Enqueue() turns points into batches numbered 1, 2, 3... (the attempt's
// sequence numbers) and returns at once. A sender thread writes them in order
// on the stream (up to `max_in_flight` ahead of the acks) and a reader thread
// takes the acks. Every batch is kept until an ack covers it: at most
// `max_batches_in_memory` in memory, the rest appended to a spill file in the
// work folder and read back, in order, as acks make room. When the stream
// breaks, the uploader reconnects with exponential backoff and jitter and
// replays exactly the unacknowledged batches, oldest first; an acknowledged
// batch is never sent again. (A batch stored whose ack was lost is sent
// again; the coordinator's insert-or-ignore makes that harmless.)
//
// How the stream's end is handled (proto/switchyard/v1/switchyard.proto):
//   FAILED_PRECONDITION, NOT_FOUND  the fencing pair is stale: the uploader
//                       stops, drops everything and calls on_fenced once; the
//                       owner must stop the job at once.
//   INVALID_ARGUMENT    the first unacknowledged batch was refused as
//                       malformed: it is dropped (counted in dropped_batches),
//                       never replayed, and the rest go on.
//   anything else       reconnect after a backoff delay.
//
// Thread safety: every public method may be called from any thread. The
// uploader owns two threads (sender and, per stream, ack reader) between
// Start() and Close()/Abort()/destruction.
#ifndef SWITCHYARD_WORKER_AGENT_METRIC_UPLOADER_H_
#define SWITCHYARD_WORKER_AGENT_METRIC_UPLOADER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "worker/agent/backoff.h"
#include "worker/agent/coordinator_client.h"

namespace switchyard::worker {

struct MetricUploaderOptions {
  std::string label = "metrics";     // for log lines, e.g. "job 12"
  size_t max_batches_in_memory = 256;  // more are spilled to spill_path
  size_t max_points_per_batch = 2000;  // larger Enqueue calls are split
  size_t max_in_flight = 64;           // batches written ahead of the acks
  // Where batches beyond max_batches_in_memory go; "" keeps everything in
  // memory. Removed by Close() and Abort().
  std::string spill_path;
  BackoffOptions backoff;
  uint64_t seed = 1;                   // of the backoff jitter
  std::function<void(const absl::Status&)> on_fenced;  // called once, on the sender thread
};

class MetricUploader {
 public:
  // `client` must outlive this.
  MetricUploader(CoordinatorClient* client, v1::AttemptRef attempt, MetricUploaderOptions options);
  ~MetricUploader();  // Abort() unless Close() finished

  MetricUploader(const MetricUploader&) = delete;
  MetricUploader& operator=(const MetricUploader&) = delete;

  void Start();

  // Queues the points as one batch (several when larger than
  // max_points_per_batch). Never blocks on the network. Returns the sequence
  // number of the last batch made, or the previous one for no points. After
  // Abort or a fence the points are dropped.
  int64_t Enqueue(std::vector<v1::MetricPoint> points);

  // Blocks until every batch up to `seq` is acknowledged (OK), `deadline`
  // passes (DEADLINE_EXCEEDED), the attempt is fenced (FAILED_PRECONDITION)
  // or the uploader is aborted (CANCELLED).
  absl::Status WaitForAck(int64_t seq, absl::Time deadline);

  // Waits until everything enqueued is acknowledged (see WaitForAck), then
  // half-closes the stream and stops the threads. On any error the uploader
  // is aborted. Call once, after the last Enqueue.
  absl::Status Close(absl::Time deadline);

  // Stops at once: cancels the stream, drops what was not acknowledged.
  void Abort();

  int64_t last_seq() const;
  int64_t acked_seq() const;
  int64_t dropped_batches() const;
  int64_t spilled_batches() const;  // ever written to the spill file
  bool fenced() const;

 private:
  struct Batch {
    int64_t seq = 0;
    v1::MetricBatch message;
  };

  void SenderLoop();
  void JoinSender();
  // One stream's life: replays the unacknowledged batches and sends new ones
  // until the stream ends. Returns the stream's final status (OK after a
  // clean close).
  absl::Status RunStream(MetricStream* stream, int64_t* acks_seen);
  void ReaderLoop(MetricStream* stream, bool* ended);

  // All below: mutex_ held.
  void AddBatchLocked(Batch batch);
  void PopAckedLocked();
  // Moves spilled batches into memory until it holds max_memory.
  void RefillFromSpillLocked(size_t max_memory);
  bool DoneLocked() const { return aborted_ || fenced_; }
  void RemoveSpillLocked();

  CoordinatorClient* const client_;
  const v1::AttemptRef attempt_;
  const MetricUploaderOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> memory_;     // unacknowledged, contiguous seqs from acked_seq_ + 1
  int64_t spilled_pending_ = 0;  // batches in the spill file after memory_.back()
  int64_t spill_read_offset_ = 0;
  std::ofstream spill_out_;
  int64_t spilled_total_ = 0;
  bool spill_disabled_ = false;  // the file could not be written
  int64_t last_seq_ = 0;
  int64_t acked_seq_ = 0;
  int64_t dropped_ = 0;
  bool started_ = false;
  bool closing_ = false;
  bool aborted_ = false;
  bool fenced_ = false;
  bool stream_broken_ = false;   // the current stream's reader saw its end
  int64_t replaying_ = -1;       // >= 0: log the recovery at the next ack
  MetricStream* live_stream_ = nullptr;  // for Abort's Cancel
  std::mutex join_mutex_;  // serialises joins of sender_
  std::thread sender_;
  std::atomic<std::thread::id> sender_id_{};
};

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_METRIC_UPLOADER_H_
