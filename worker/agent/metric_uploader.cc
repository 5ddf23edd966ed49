#include "worker/agent/metric_uploader.h"

#include <cstdio>
#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/log.h"

namespace switchyard::worker {
namespace {

// Waits on `cv` until `done()` or `deadline`, in slices so that an infinite
// deadline never reaches std::chrono (whose time_point would overflow).
template <typename Pred>
bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
               absl::Time deadline, Pred done) {
  while (!done()) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    cv.wait_for(lock, absl::ToChronoMilliseconds(std::min(left, absl::Seconds(1))) +
                          std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

MetricUploader::MetricUploader(CoordinatorClient* client, v1::AttemptRef attempt,
                               MetricUploaderOptions options)
    : client_(client), attempt_(std::move(attempt)), options_(std::move(options)) {}

MetricUploader::~MetricUploader() { Abort(); }

void MetricUploader::Start() {
  std::lock_guard<std::mutex> join_lock(join_mutex_);
  std::lock_guard<std::mutex> lock(mutex_);
  if (started_ || DoneLocked()) return;
  started_ = true;
  sender_ = std::thread([this] { SenderLoop(); });
  sender_id_.store(sender_.get_id());
}

int64_t MetricUploader::Enqueue(std::vector<v1::MetricPoint> points) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (DoneLocked()) return last_seq_;
  const size_t per_batch = std::max<size_t>(1, options_.max_points_per_batch);
  for (size_t begin = 0; begin < points.size(); begin += per_batch) {
    Batch batch;
    batch.seq = ++last_seq_;
    *batch.message.mutable_attempt() = attempt_;
    batch.message.set_seq(batch.seq);
    size_t end = std::min(points.size(), begin + per_batch);
    for (size_t i = begin; i < end; ++i) *batch.message.add_points() = std::move(points[i]);
    AddBatchLocked(std::move(batch));
  }
  changed_.notify_all();
  return last_seq_;
}

void MetricUploader::AddBatchLocked(Batch batch) {
  const size_t max_memory = std::max<size_t>(1, options_.max_batches_in_memory);
  // Once anything is spilled, later batches follow it into the file, so the
  // file always holds one contiguous run of the newest batches.
  if (!options_.spill_path.empty() && !spill_disabled_ &&
      (spilled_pending_ > 0 || memory_.size() >= max_memory)) {
    if (!spill_out_.is_open()) {
      spill_out_.open(options_.spill_path, std::ios::binary | std::ios::app);
    }
    std::string bytes = batch.message.SerializeAsString();
    uint32_t size = static_cast<uint32_t>(bytes.size());
    spill_out_.write(reinterpret_cast<const char*>(&size), sizeof size);
    spill_out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    spill_out_.flush();
    if (spill_out_) {
      ++spilled_pending_;
      ++spilled_total_;
      return;
    }
    // A full disk must not lose points: take back what the file holds (its
    // complete records; spilled_pending_ counts only those) and keep
    // everything in memory from now on.
    SY_LOG(Error) << options_.label << ": cannot write the metric spill file "
                  << options_.spill_path << "; keeping metric batches in memory";
    spill_disabled_ = true;
    RefillFromSpillLocked(std::numeric_limits<size_t>::max());
  }
  memory_.push_back(std::move(batch));
}

void MetricUploader::PopAckedLocked() {
  while (!memory_.empty() && memory_.front().seq <= acked_seq_) memory_.pop_front();
  // Refilling skips spilled batches an ack already covers.
  RefillFromSpillLocked(std::max<size_t>(1, options_.max_batches_in_memory));
}

void MetricUploader::RefillFromSpillLocked(size_t max_memory) {
  if (spilled_pending_ == 0 || memory_.size() >= max_memory) return;
  if (spill_out_.is_open()) spill_out_.flush();
  std::ifstream in(options_.spill_path, std::ios::binary);
  in.seekg(spill_read_offset_);
  while (spilled_pending_ > 0 && memory_.size() < max_memory) {
    uint32_t size = 0;
    std::string bytes;
    if (in.read(reinterpret_cast<char*>(&size), sizeof size)) {
      bytes.resize(size);
      in.read(bytes.data(), size);
    }
    Batch batch;
    if (!in || !batch.message.ParseFromString(bytes)) {
      SY_LOG(Error) << options_.label << ": the metric spill file " << options_.spill_path
                    << " cannot be read back; " << spilled_pending_ << " batch(es) are lost";
      dropped_ += spilled_pending_;
      // The lost batches count as done so that waiters are not stuck forever.
      acked_seq_ = std::max(acked_seq_, last_seq_);
      spilled_pending_ = 0;
      break;
    }
    spill_read_offset_ += static_cast<int64_t>(sizeof size + size);
    --spilled_pending_;
    batch.seq = batch.message.seq();
    if (batch.seq > acked_seq_) memory_.push_back(std::move(batch));
  }
  if (spilled_pending_ == 0) {
    // Start the file afresh so that a long job with many outages does not
    // grow it forever.
    spill_out_.close();
    std::error_code ignored;
    std::filesystem::remove(options_.spill_path, ignored);
    spill_read_offset_ = 0;
  }
}

void MetricUploader::RemoveSpillLocked() {
  if (spill_out_.is_open()) spill_out_.close();
  spilled_pending_ = 0;
  spill_read_offset_ = 0;
  if (!options_.spill_path.empty()) {
    std::error_code ignored;
    std::filesystem::remove(options_.spill_path, ignored);
  }
}

absl::Status MetricUploader::WaitForAck(int64_t seq, absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  WaitUntil(changed_, lock, deadline, [&] { return acked_seq_ >= seq || DoneLocked(); });
  if (fenced_) {
    return absl::FailedPreconditionError(
        absl::StrCat(options_.label, ": the coordinator refused the attempt's fencing token"));
  }
  if (aborted_ && acked_seq_ < seq) return absl::CancelledError(options_.label + ": aborted");
  if (acked_seq_ >= seq) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(options_.label, ": metric batches up to ", seq,
                                                  " not acknowledged in time (acked ",
                                                  acked_seq_, ")"));
}

absl::Status MetricUploader::Close(absl::Time deadline) {
  int64_t last;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
    last = last_seq_;
  }
  changed_.notify_all();
  absl::Status status = WaitForAck(last, deadline);
  if (!status.ok()) {
    Abort();
    return status;
  }
  // Everything is acknowledged: the sender half-closes and leaves by itself.
  JoinSender();
  std::lock_guard<std::mutex> lock(mutex_);
  RemoveSpillLocked();
  return absl::OkStatus();
}

void MetricUploader::Abort() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!aborted_) {
      aborted_ = true;
      if (live_stream_ != nullptr) live_stream_->Cancel();
      memory_.clear();
      RemoveSpillLocked();
    }
  }
  changed_.notify_all();
  JoinSender();
}

void MetricUploader::JoinSender() {
  // Abort may run on the sender itself (on_fenced); it leaves on its own
  // then, and must not wait for a join that another thread holds.
  if (std::this_thread::get_id() == sender_id_.load()) return;
  // Close and Abort may race on two threads: one joins.
  std::lock_guard<std::mutex> lock(join_mutex_);
  if (sender_.joinable()) sender_.join();
}

int64_t MetricUploader::last_seq() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_seq_;
}
int64_t MetricUploader::acked_seq() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return acked_seq_;
}
int64_t MetricUploader::dropped_batches() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return dropped_;
}
int64_t MetricUploader::spilled_batches() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return spilled_total_;
}
bool MetricUploader::fenced() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fenced_;
}

void MetricUploader::SenderLoop() {
  Backoff backoff(options_.backoff, options_.seed);
  bool announced_loss = false;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    // A stream is opened only when there is something to send.
    changed_.wait(lock, [&] { return DoneLocked() || !memory_.empty() || closing_; });
    if (DoneLocked() || (closing_ && memory_.empty())) return;
    const int64_t unacked_before = last_seq_ - acked_seq_;
    lock.unlock();

    absl::Status status;
    int64_t acks = 0;
    absl::StatusOr<std::unique_ptr<MetricStream>> stream = client_->OpenMetricStream();
    if (!stream.ok()) {
      status = stream.status();
    } else {
      {
        // Announced by the reader at the first ack: a stream opens lazily,
        // so only an ack shows it really works.
        std::lock_guard<std::mutex> announce_lock(mutex_);
        replaying_ = announced_loss ? unacked_before : -1;
      }
      status = RunStream(stream->get(), &acks);
      stream->reset();
    }

    lock.lock();
    if (DoneLocked()) return;
    if (status.ok()) {
      if (closing_ && memory_.empty()) return;
      // The coordinator ended the stream without an error while batches
      // remain: treat it as a broken stream.
      status = absl::UnavailableError("the coordinator closed the metric stream");
    }
    if (status.code() == absl::StatusCode::kFailedPrecondition ||
        status.code() == absl::StatusCode::kNotFound) {
      fenced_ = true;
      memory_.clear();
      RemoveSpillLocked();
      lock.unlock();
      changed_.notify_all();
      if (!options_.on_fenced) {
        SY_LOG(Warning) << options_.label << ": the coordinator refused the attempt (" << status
                        << "); its metrics are dropped";
      }
      if (options_.on_fenced) options_.on_fenced(status);
      return;
    }
    if (status.code() == absl::StatusCode::kInvalidArgument && !memory_.empty()) {
      // The coordinator handles batches in order and acknowledges each one,
      // so the batch it refused is the oldest unacknowledged one.
      const int64_t bad = memory_.front().seq;
      acked_seq_ = bad;
      ++dropped_;
      PopAckedLocked();
      changed_.notify_all();
      SY_LOG(Error) << options_.label << ": metric batch " << bad
                    << " refused as malformed and dropped: " << status.message();
      backoff.Reset();
      continue;
    }
    if (acks > 0) {
      backoff.Reset();
      announced_loss = false;
    }
    absl::Duration delay = backoff.NextDelay();
    announced_loss = true;
    SY_LOG(Warning) << options_.label << ": metric stream lost (" << status << "); "
                    << (last_seq_ - acked_seq_) << " batch(es) unacknowledged; retrying in "
                    << absl::StrFormat("%.1f", absl::ToDoubleSeconds(delay)) << " s";
    WaitUntil(changed_, lock, absl::Now() + delay,
              [&] { return DoneLocked() || (closing_ && memory_.empty()); });
  }
}

absl::Status MetricUploader::RunStream(MetricStream* stream, int64_t* acks_seen) {
  int64_t next;
  int64_t acked_at_start;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (DoneLocked()) return absl::CancelledError("aborted");
    live_stream_ = stream;
    stream_broken_ = false;
    // Replay starts at the oldest unacknowledged batch: nothing acknowledged
    // is written again.
    next = acked_seq_ + 1;
    acked_at_start = acked_seq_;
  }
  bool reader_ended = false;
  std::thread reader([&] { ReaderLoop(stream, &reader_ended); });

  bool clean_close = false;
  while (true) {
    std::unique_lock<std::mutex> lock(mutex_);
    const size_t max_in_flight = std::max<size_t>(1, options_.max_in_flight);
    auto ready = [&] {
      if (DoneLocked() || stream_broken_) return true;
      next = std::max(next, acked_seq_ + 1);
      if (!memory_.empty() && next <= memory_.back().seq &&
          static_cast<size_t>(next - acked_seq_) <= max_in_flight) {
        return true;
      }
      return closing_ && memory_.empty();
    };
    changed_.wait(lock, ready);
    if (DoneLocked() || stream_broken_) break;
    if (closing_ && memory_.empty()) {
      clean_close = true;
      break;
    }
    v1::MetricBatch message = memory_[static_cast<size_t>(next - memory_.front().seq)].message;
    lock.unlock();
    if (!stream->Write(message)) break;  // the reader sees the end; Finish says why
    ++next;
  }
  if (clean_close) {
    stream->WritesDone();
  }
  {
    // A clean close or a broken call ends the reader by itself; give it a
    // moment, then cancel so that nothing hangs on a silent peer.
    std::unique_lock<std::mutex> lock(mutex_);
    bool ended = WaitUntil(changed_, lock, absl::Now() + absl::Seconds(clean_close ? 30 : 5),
                           [&] { return stream_broken_ || aborted_; });
    if (!ended || aborted_) stream->Cancel();
  }
  reader.join();
  absl::Status status = stream->Finish();
  std::lock_guard<std::mutex> lock(mutex_);
  live_stream_ = nullptr;
  *acks_seen = acked_seq_ - acked_at_start;
  if (aborted_) return absl::CancelledError("aborted");
  return status;
}

void MetricUploader::ReaderLoop(MetricStream* stream, bool* ended) {
  v1::MetricAck ack;
  while (stream->Read(&ack)) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (replaying_ >= 0) {
      SY_LOG(Info) << options_.label << ": metric stream back; replaying " << replaying_
                   << " unacknowledged batch(es)";
      replaying_ = -1;
    }
    if (ack.acked_seq() > acked_seq_ && ack.acked_seq() <= last_seq_) {
      acked_seq_ = ack.acked_seq();
      PopAckedLocked();
      changed_.notify_all();
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  *ended = true;
  stream_broken_ = true;
  changed_.notify_all();
}

}  // namespace switchyard::worker
