#include "server/core/coordinator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>
#include <tuple>
#include <variant>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/base/log.h"
#include "common/base/random_hex.h"
#include "server/core/state_machine.h"

namespace switchyard::server {
namespace {

// 128 random bits from the OS, as hex: a fencing token cannot be guessed by
// another holder of the worker token.
std::string NewFencingToken() { return common::RandomHex(16); }

// The submitted axes as one JSON object, in the order given: {"model":["mlp"],"lr":[0.001]}.
// Strings arrived as protobuf strings, so they are UTF-8; `replace` keeps
// dump() from throwing should that ever change.
std::string SweepToJson(const common::SweepDefinition& sweep) {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (const common::SweepAxis& axis : sweep.axes) {
    nlohmann::ordered_json values = nlohmann::ordered_json::array();
    for (const config::Value& v : axis.values) {
      std::visit([&values](const auto& value) { values.push_back(value); }, v);
    }
    object[axis.key] = std::move(values);
  }
  for (const common::SweepDistribution& d : sweep.distributions) {
    nlohmann::ordered_json draw = nlohmann::ordered_json::object();
    if (d.kind == common::SweepDistribution::Kind::kChoice) {
      nlohmann::ordered_json choices = nlohmann::ordered_json::array();
      for (const config::Value& v : d.choices) {
        std::visit([&choices](const auto& value) { choices.push_back(value); }, v);
      }
      draw[common::DistributionKindName(d.kind)] = std::move(choices);
    } else {
      draw[common::DistributionKindName(d.kind)] = {d.low, d.high};
    }
    object[d.key] = std::move(draw);
  }
  if (!sweep.search.method.empty()) {
    object["search"] = {{"method", sweep.search.method},
                        {"trials", sweep.search.trials},
                        {"seed", sweep.search.seed}};
  }
  if (sweep.scheduler.kind != common::SchedulerSpec::Kind::kNone) {
    object["scheduler"] = nlohmann::ordered_json::parse(common::SchedulerToJson(sweep.scheduler));
  }
  return object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

Coordinator::Coordinator(Store* store, common::Clock* clock, CheckpointFiles* files,
                         CoordinatorOptions options)
    : store_(store), clock_(clock), files_(files), options_(options) {}

Coordinator::~Coordinator() { Stop(); }

void Coordinator::Start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (reaper_.joinable() || stopping_) return;
  reaper_ = std::thread([this] { ReaperLoop(); });
}

void Coordinator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  fanout_.Close();
  if (reaper_.joinable()) reaper_.join();
}

void Coordinator::NotifyChange() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
  }
  changed_.notify_all();
}

void Coordinator::ReaperLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    changed_.wait_for(lock, absl::ToChronoMilliseconds(options_.reaper_interval),
                      [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    absl::StatusOr<int64_t> expired = ExpireLeasesNow();
    if (!expired.ok()) {
      SY_LOG(Warning) << "lease reaper: " << expired.status();
    }
    lock.lock();
  }
}

absl::StatusOr<int64_t> Coordinator::ExpireLeasesNow() {
  absl::StatusOr<int64_t> expired = store_->ExpireLeases(clock_->Now());
  if (expired.ok() && *expired > 0) {
    leases_expired_.fetch_add(*expired, std::memory_order_relaxed);
    SY_LOG(Info) << "lease reaper: " << *expired << " attempt(s) lost, their jobs requeued";
    NotifyChange();
  }
  return expired;
}

absl::StatusOr<SubmitResult> Coordinator::SubmitSweep(const common::SweepDefinition& sweep,
                                                      bool dry_run) {
  absl::StatusOr<std::vector<common::GridCell>> cells = common::ExpandGrid(sweep);
  if (!cells.ok()) return cells.status();
  SubmitResult result;
  result.job_count = static_cast<int64_t>(cells->size());
  for (size_t i = 0; i < cells->size() && i < 10; ++i) {
    result.first_configs.push_back((*cells)[i].config.ToJson());
  }
  if (dry_run) return result;

  SweepRecord record;
  record.name = sweep.name;
  record.priority = sweep.priority;
  record.max_attempts = sweep.max_attempts > 0 ? sweep.max_attempts : common::kDefaultMaxAttempts;
  record.spec_json = SweepToJson(sweep);
  record.scheduler_json = common::SchedulerToJson(sweep.scheduler);
  record.created_at = clock_->Now();
  std::vector<NewJob> jobs;
  jobs.reserve(cells->size());
  for (const common::GridCell& cell : *cells) {
    std::string json = cell.config.ToJson();
    jobs.push_back(NewJob{cell.index, common::CellKey(cell.config), std::move(json),
                          cell.config.Str("program")});
  }
  absl::StatusOr<int64_t> id = store_->CreateSweep(record, jobs);
  if (!id.ok()) return id.status();
  result.sweep_id = *id;
  sweeps_submitted_.fetch_add(1, std::memory_order_relaxed);
  SY_LOG(Info) << "sweep " << *id << " '" << sweep.name << "' submitted with " << jobs.size()
               << " job(s)";
  NotifyChange();
  return result;
}

absl::StatusOr<SweepRecord> Coordinator::GetSweep(int64_t sweep_id) {
  return store_->GetSweep(sweep_id);
}

absl::StatusOr<std::vector<SweepRecord>> Coordinator::ListSweeps() { return store_->ListSweeps(); }

absl::StatusOr<std::vector<JobRecord>> Coordinator::ListJobs(int64_t sweep_id,
                                                             std::optional<JobState> state) {
  return store_->ListJobs(sweep_id, state);
}

absl::StatusOr<JobRecord> Coordinator::GetJob(int64_t job_id) { return store_->GetJob(job_id); }

absl::StatusOr<CancelResult> Coordinator::Cancel(int64_t sweep_id, int64_t job_id) {
  if ((sweep_id == 0) == (job_id == 0)) {
    return absl::InvalidArgumentError("cancel: give exactly one of sweep_id and job_id");
  }
  absl::StatusOr<CancelResult> result = store_->Cancel(sweep_id, job_id, clock_->Now());
  if (result.ok()) NotifyChange();
  return result;
}

absl::StatusOr<int64_t> Coordinator::Retry(int64_t sweep_id, const std::vector<JobState>& states) {
  std::vector<JobState> wanted = states;
  if (wanted.empty()) wanted = {JobState::kFailed, JobState::kLost};
  for (JobState s : wanted) {
    if (s != JobState::kFailed && s != JobState::kLost && s != JobState::kStopped) {
      return absl::InvalidArgumentError(absl::StrCat(
          "retry: only failed, lost and stopped jobs can be retried, not ", JobStateName(s)));
    }
  }
  absl::StatusOr<int64_t> requeued = store_->Retry(sweep_id, wanted, clock_->Now());
  if (requeued.ok()) NotifyChange();
  return requeued;
}

absl::Status Coordinator::QueryMetrics(
    const MetricQuery& query, const std::function<bool(const std::vector<JobMetricPoint>&)>& sink) {
  if (absl::StatusOr<SweepRecord> sweep = store_->GetSweep(query.sweep_id); !sweep.ok()) {
    return sweep.status();
  }
  return store_->QueryMetrics(query, /*chunk=*/4096, sink);
}

absl::StatusOr<std::vector<std::pair<WorkerRecord, std::string>>> Coordinator::ListWorkers() {
  absl::StatusOr<std::vector<WorkerRecord>> workers = store_->ListWorkers();
  if (!workers.ok()) return workers.status();
  absl::Time now = clock_->Now();
  std::vector<std::pair<WorkerRecord, std::string>> out;
  for (WorkerRecord& worker : *workers) {
    std::string state = WorkerState(worker, now);
    out.emplace_back(std::move(worker), std::move(state));
  }
  return out;
}

std::string Coordinator::WorkerState(const WorkerRecord& worker, absl::Time now) const {
  if (now - worker.last_seen > options_.worker_gone_after) return "gone";
  if (worker.quarantined_at.has_value()) return "quarantined";
  return worker.draining ? "draining" : "alive";
}

absl::StatusOr<std::pair<WorkerRecord, std::string>> Coordinator::UnquarantineWorker(
    int64_t worker_id) {
  absl::StatusOr<bool> lifted = store_->UnquarantineWorker(worker_id);
  if (!lifted.ok()) return lifted.status();
  if (*lifted) SY_LOG(Info) << "worker " << worker_id << ": quarantine lifted by an operator";
  absl::StatusOr<WorkerRecord> worker = store_->GetWorker(worker_id);
  if (!worker.ok()) return worker.status();
  std::string state = WorkerState(*worker, clock_->Now());
  return std::make_pair(*std::move(worker), std::move(state));
}

absl::StatusOr<SweepProgress> Coordinator::WaitForProgress(int64_t sweep_id, absl::Duration timeout,
                                                           std::vector<int64_t>* reported) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    uint64_t seen = generation_;
    changed_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                      [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return absl::CancelledError("the coordinator is shutting down");
  }
  SweepProgress progress;
  absl::StatusOr<SweepRecord> sweep = store_->GetSweep(sweep_id);
  if (!sweep.ok()) return sweep.status();
  progress.sweep = *std::move(sweep);
  int64_t ended = progress.sweep.counts.succeeded + progress.sweep.counts.failed +
                  progress.sweep.counts.lost + progress.sweep.counts.cancelled +
                  progress.sweep.counts.stopped;
  if (ended > static_cast<int64_t>(reported->size())) {
    absl::StatusOr<std::vector<JobRecord>> jobs = store_->ListJobs(sweep_id, std::nullopt);
    if (!jobs.ok()) return jobs.status();
    std::set<int64_t> known(reported->begin(), reported->end());
    for (JobRecord& job : *jobs) {
      if (IsTerminal(job.state) && !known.count(job.id)) {
        reported->push_back(job.id);
        progress.newly_finished.push_back(std::move(job));
      }
    }
  }
  progress.done = progress.sweep.counts.AllEnded();
  return progress;
}

absl::StatusOr<int64_t> Coordinator::RegisterWorker(WorkerRecord worker) {
  if (worker.name.empty() || worker.name.size() > 200) {
    return absl::InvalidArgumentError("worker name: must be 1 to 200 characters");
  }
  if (worker.devices.empty() || worker.devices.size() > 64) {
    return absl::InvalidArgumentError("devices: a worker offers 1 to 64 devices");
  }
  for (const DeviceRecord& device : worker.devices) {
    if (device.slots < 1 || device.slots > 256) {
      return absl::InvalidArgumentError(
          absl::StrCat("devices: ", device.name, " offers ", device.slots,
                       " slots; allowed 1 to 256"));
    }
  }
  worker.registered_at = worker.last_seen = clock_->Now();
  absl::StatusOr<int64_t> id = store_->RegisterWorker(worker);
  if (id.ok()) SY_LOG(Info) << "worker " << *id << " '" << worker.name << "' registered";
  return id;
}

absl::StatusOr<Coordinator::HeartbeatResult> Coordinator::Heartbeat(
    int64_t worker_id, const std::vector<AttemptRef>& attempts, bool draining, int32_t slots_busy) {
  absl::Time now = clock_->Now();
  if (absl::Status s = store_->TouchWorker(worker_id, draining, slots_busy, now); !s.ok()) {
    return s;
  }
  HeartbeatResult result;
  if (!attempts.empty()) {
    absl::StatusOr<std::vector<Order>> orders =
        store_->RenewLeases(worker_id, attempts, now + options_.lease, now);
    if (!orders.ok()) return orders.status();
    result.orders = *std::move(orders);
  }
  return result;
}

ClaimParams Coordinator::NewClaim(int64_t worker_id, const std::string& device) const {
  ClaimParams params;
  params.worker_id = worker_id;
  params.device = device;
  params.fencing_token = NewFencingToken();
  params.now = clock_->Now();
  params.lease_expires = params.now + options_.lease;
  return params;
}

absl::StatusOr<std::optional<Assignment>> Coordinator::ClaimJob(int64_t worker_id,
                                                                const std::string& device) {
  absl::StatusOr<std::optional<Assignment>> claimed =
      store_->ClaimJob(NewClaim(worker_id, device));
  if (claimed.ok()) {
    CountClaim(claimed->has_value());
    if (claimed->has_value()) NotifyChange();
  }
  return claimed;
}

void Coordinator::CountClaim(bool served) {
  (served ? claims_served_ : claims_empty_).fetch_add(1, std::memory_order_relaxed);
}

absl::StatusOr<std::vector<absl::Status>> Coordinator::ReportMetrics(
    const std::vector<MetricBatchWrite>& batches) {
  for (const MetricBatchWrite& batch : batches) {
    if (static_cast<int64_t>(batch.points.size()) > options_.max_points_per_batch) {
      return absl::InvalidArgumentError(absl::StrCat("metrics: a batch holds at most ",
                                                     options_.max_points_per_batch, " points"));
    }
    for (const MetricPoint& point : batch.points) {
      if (point.name.empty() || static_cast<int64_t>(point.name.size()) > options_.max_metric_name_bytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "metrics: a name must be 1 to ", options_.max_metric_name_bytes, " bytes"));
      }
      if (point.step < 0 || point.step > (int64_t{1} << 53)) {
        return absl::InvalidArgumentError(
            absl::StrCat("metrics: ", point.name, ": step ", point.step,
                         " is out of range [0, 2^53]"));
      }
      // SQLite cannot tell NaN from NULL; refusing keeps every stored value a
      // real number (docs/results-schema.md).
      if (!std::isfinite(point.value)) {
        return absl::InvalidArgumentError(absl::StrCat("metrics: ", point.name, " at step ",
                                                       point.step, " is not a finite number"));
      }
      // wall_time is REAL NOT NULL: SQLite would take a NaN for NULL and
      // refuse the row with a misleading code, and store an infinity.
      if (!std::isfinite(point.wall_time)) {
        return absl::InvalidArgumentError(absl::StrCat("metrics: ", point.name, " at step ",
                                                       point.step,
                                                       ": wall_time is not a finite number"));
      }
    }
  }
  absl::StatusOr<std::vector<absl::Status>> results = store_->AppendMetrics(batches);
  if (results.ok()) {
    for (size_t i = 0; i < batches.size(); ++i) {
      if (!(*results)[i].ok()) continue;
      batches_ingested_.fetch_add(1, std::memory_order_relaxed);
      points_ingested_.fetch_add(static_cast<int64_t>(batches[i].points.size()),
                                 std::memory_order_relaxed);
    }
    PublishMetrics(batches, *results);
  }
  return results;
}

void Coordinator::PublishMetrics(const std::vector<MetricBatchWrite>& batches,
                                 const std::vector<absl::Status>& results) {
  if (!fanout_.HasSubscribers()) return;  // nobody listens: not even a lookup
  for (size_t i = 0; i < batches.size() && i < results.size(); ++i) {
    if (!results[i].ok() || batches[i].points.empty()) continue;
    absl::StatusOr<AttemptOwner> owner = OwnerOf(batches[i].attempt.attempt_id);
    if (!owner.ok()) {
      // The batch is stored and acknowledged; only the live tail misses it.
      SY_LOG(Warning) << "metric tail: attempt " << batches[i].attempt.attempt_id << ": "
                      << owner.status();
      continue;
    }
    fanout_.Publish(owner->sweep_id, owner->job_id, batches[i].points);
  }
}

absl::StatusOr<AttemptOwner> Coordinator::OwnerOf(int64_t attempt_id) {
  {
    absl::MutexLock lock(&owners_mutex_);
    if (auto it = owners_.find(attempt_id); it != owners_.end()) return it->second;
  }
  absl::StatusOr<AttemptOwner> owner = store_->OwnerOfAttempt(attempt_id);
  if (owner.ok()) {
    absl::MutexLock lock(&owners_mutex_);
    if (owners_.size() >= kMaxCachedOwners) owners_.clear();
    owners_[attempt_id] = *owner;
  }
  return owner;
}

void Coordinator::ForgetOwner(int64_t attempt_id) {
  absl::MutexLock lock(&owners_mutex_);
  owners_.erase(attempt_id);
}

// ---- views

absl::StatusOr<std::vector<SeriesResult>> Coordinator::QuerySeries(const SeriesQuery& query) {
  if (absl::Status s = CheckSeriesQuery(query, options_.max_metric_name_bytes); !s.ok()) return s;
  const int64_t max_buckets = query.max_points == 0 ? kDefaultSeriesPoints : query.max_points;
  MetricQuery metric_query{query.sweep_id, query.job_ids, query.names, query.after_step,
                           /*wall_time=*/false};
  absl::StatusOr<std::vector<SeriesCount>> counts = store_->CountMetrics(metric_query);
  if (!counts.ok()) return counts.status();
  int64_t buckets = 0;
  for (const SeriesCount& count : *counts) buckets += std::min(count.points, max_buckets);
  if (buckets > options_.max_view_points_per_call) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "QuerySeries: ", counts->size(), " series at up to ", max_buckets, " buckets each make ",
        buckets, " buckets, more than the ", options_.max_view_points_per_call,
        " one answer holds; ask for fewer jobs, names or max_points"));
  }
  std::vector<SeriesResult> out(counts->size());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].job_id = (*counts)[i].job_id;
    out[i].name = (*counts)[i].name;
    out[i].last_step = query.after_step.value_or(-1);
  }
  // The stream comes in the order of the counts: (job id, name), then step.
  size_t at = 0;                      // the series of the current point
  std::optional<Downsampler> sampler;  // of series `sampling`
  size_t sampling = 0;
  const auto flush = [&] {
    if (!sampler.has_value()) return;
    out[sampling].points = sampler->points();
    out[sampling].buckets = sampler->Take();
    sampler.reset();
  };
  absl::Status status = store_->QueryMetrics(
      metric_query, /*chunk=*/4096, [&](const std::vector<JobMetricPoint>& chunk) {
        for (const JobMetricPoint& p : chunk) {
          while (at < out.size() &&
                 std::tie(out[at].job_id, out[at].name) < std::tie(p.job_id, p.point.name)) {
            ++at;
          }
          if (at == out.size() || out[at].job_id != p.job_id || out[at].name != p.point.name) {
            continue;  // a series first logged after the count: the next call has it
          }
          if (!sampler.has_value() || sampling != at) {
            flush();
            sampler.emplace((*counts)[at].points, max_buckets);
            sampling = at;
          }
          sampler->Add(p.point.step, p.point.value);
          out[at].last_step = p.point.step;
        }
        return true;
      });
  if (!status.ok()) return status;
  flush();
  return out;
}

absl::StatusOr<std::map<int64_t, results::Series>> Coordinator::ReadAggregateSeries(
    const AggregateQuery& query, bool by_epoch, const std::vector<int64_t>& job_ids,
    const std::map<int64_t, const results::JobData*>& jobs, std::atomic<int64_t>* read) {
  std::map<int64_t, results::Series> series;
  if (job_ids.empty()) return series;
  MetricQuery metric_query;
  metric_query.sweep_id = query.sweep_id;
  metric_query.job_ids = job_ids;
  metric_query.names.push_back(query.name);
  metric_query.wall_time = false;
  if (by_epoch && query.name != "epoch") metric_query.names.push_back("epoch");
  // Built job by job from a stream ordered by (job, name, step). Of job
  // `current`: by epoch, its values and epochs by step; by step, its points
  // as they come (ascending step, one per step: the table's key).
  int64_t current = 0;
  std::map<int64_t, double> value_at, epoch_at;
  results::Series by_step;
  const auto finish_job = [&] {
    if (current != 0 && by_epoch && !value_at.empty()) {
      bool epochs = true;  // the CLI labels its axis with it; Aggregate has no label
      double steps_per_epoch = std::atof(jobs.at(current)->Config("steps_per_epoch").c_str());
      series[current] = results::SeriesByEpoch(value_at, epoch_at, steps_per_epoch, &epochs);
    }
    if (current != 0 && !by_step.empty()) series[current] = std::move(by_step);
    value_at.clear();
    epoch_at.clear();
    by_step.clear();
  };
  bool too_many = false;
  absl::Status status = store_->QueryMetrics(
      metric_query, /*chunk=*/4096, [&](const std::vector<JobMetricPoint>& chunk) {
        if (read->fetch_add(static_cast<int64_t>(chunk.size())) + static_cast<int64_t>(chunk.size()) >
            options_.max_aggregate_points_read) {
          too_many = true;
          return false;
        }
        for (const JobMetricPoint& p : chunk) {
          if (p.job_id != current) {
            finish_job();
            current = p.job_id;
          }
          if (std::isnan(p.point.value)) continue;  // missing (stored as NULL)
          if (p.point.name == query.name) {
            if (by_epoch) {
              value_at[p.point.step] = p.point.value;
            } else {
              by_step.emplace_back(static_cast<double>(p.point.step), p.point.value);
            }
          }
          if (by_epoch && p.point.name == "epoch") epoch_at[p.point.step] = p.point.value;
        }
        return true;
      });
  if (!status.ok()) return status;
  if (too_many) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "Aggregate: the jobs of sweep ", query.sweep_id, " hold more than ",
        options_.max_aggregate_points_read, " points of '", query.name,
        "'; aggregate fewer jobs at once (x=final reads no points)"));
  }
  finish_job();
  return series;
}

absl::StatusOr<AggregateResult> Coordinator::Aggregate(const AggregateQuery& query) {
  absl::StatusOr<AggregateX> x = CheckAggregateQuery(query, options_.max_metric_name_bytes);
  if (!x.ok()) return x.status();
  absl::StatusOr<std::vector<JobRecord>> records = store_->ListJobs(query.sweep_id, std::nullopt);
  if (!records.ok()) return records.status();
  std::vector<results::JobData> jobs;
  jobs.reserve(records->size());
  for (const JobRecord& record : *records) jobs.push_back(ToJobData(record));
  const results::ResultFilter filter{query.include_stopped};

  AggregateResult result;
  result.group_by = query.group_by;
  if (*x == AggregateX::kFinal) {
    for (results::GroupResult& group :
         results::GroupFinalMetrics(jobs, query.name, query.group_by, filter)) {
      results::Curve curve;
      curve.key = std::move(group.key);
      curve.points.push_back(results::CurvePoint{0, group.summary});
      curve.job_ids = std::move(group.job_ids);
      result.groups.push_back(std::move(curve));
    }
    return result;
  }

  std::map<int64_t, const results::JobData*> included;
  for (const results::JobData& job : jobs) {
    if (filter.Includes(job)) included[job.id] = &job;
  }
  // The read is most of an Aggregate's time: a big sweep's jobs are read in
  // two halves at once, each on a connection of the store's read pool.
  std::vector<std::vector<int64_t>> parts(
      included.size() >= std::max<size_t>(2, options_.aggregate_split_jobs) ? 2 : 1);
  size_t index = 0;
  for (const auto& [id, job] : included) parts[index++ * parts.size() / included.size()].push_back(id);
  std::atomic<int64_t> read{0};
  std::vector<absl::StatusOr<std::map<int64_t, results::Series>>> read_parts(parts.size());
  const auto read_part = [&](size_t i) {
    read_parts[i] = ReadAggregateSeries(query, *x == AggregateX::kEpoch, parts[i], included, &read);
  };
  std::thread second_half;
  if (parts.size() == 2) second_half = std::thread(read_part, 1);
  read_part(0);
  if (second_half.joinable()) second_half.join();
  std::map<int64_t, results::Series> series;
  for (auto& part : read_parts) {
    if (!part.ok()) return part.status();
    series.merge(*part);
  }
  int64_t points = 0;
  for (results::Curve& curve : results::GroupCurves(jobs, series, query.group_by, filter)) {
    curve.points = ThinCurve(curve.points, query.max_points);
    points += static_cast<int64_t>(curve.points.size());
    result.groups.push_back(std::move(curve));
  }
  if (points > options_.max_view_points_per_call) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "Aggregate: ", result.groups.size(), " groups hold ", points, " points, more than the ",
        options_.max_view_points_per_call, " one answer holds; set max_points"));
  }
  return result;
}

absl::StatusOr<std::unique_ptr<MetricSubscription>> Coordinator::SubscribeMetrics(
    TailFilter filter) {
  if (filter.sweep_id < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sweep_id: must be 0 (every sweep) or a sweep id, got ", filter.sweep_id));
  }
  if (filter.names.size() > kMaxViewNames) {
    return absl::InvalidArgumentError(
        absl::StrCat("names: at most ", kMaxViewNames, " names, got ", filter.names.size()));
  }
  for (const std::string& name : filter.names) {
    if (name.empty() || static_cast<int64_t>(name.size()) > options_.max_metric_name_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "names: a metric name is 1 to ", options_.max_metric_name_bytes, " bytes"));
    }
  }
  if (filter.sweep_id != 0) {
    if (absl::StatusOr<SweepRecord> sweep = store_->GetSweep(filter.sweep_id); !sweep.ok()) {
      return sweep.status();
    }
  }
  std::unique_ptr<MetricSubscription> subscription =
      fanout_.Subscribe(std::move(filter), options_.tail_queue_points);
  if (subscription == nullptr) return absl::CancelledError("the coordinator is shutting down");
  return subscription;
}

absl::StatusOr<std::vector<CheckpointRecord>> Coordinator::ListCheckpoints(int64_t job_id) {
  return store_->ListCheckpoints(job_id);
}

namespace {

absl::Status CheckFinish(AttemptOutcome outcome, const std::string& cause,
                         const std::string& summary_json) {
  if (!WorkerMayReport(outcome)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "outcome: a worker may report succeeded, failed, config_error, environment_error, "
        "preempted or cancelled, not ",
        AttemptOutcomeName(outcome)));
  }
  if (cause.size() > 64 * 1024 || summary_json.size() > 64 * 1024) {
    return absl::InvalidArgumentError("cause and summary_json: at most 64 KiB each");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Store::FinishAndClaimResult> Coordinator::FinishJobAndClaim(
    const AttemptRef& ref, AttemptOutcome outcome, const std::string& cause,
    const std::string& summary_json, int64_t worker_id, const std::string& device) {
  if (absl::Status s = CheckFinish(outcome, cause, summary_json); !s.ok()) return s;
  absl::StatusOr<Store::FinishAndClaimResult> result = store_->FinishAttemptAndClaim(
      ref, outcome, cause, summary_json, NewClaim(worker_id, device));
  if (result.ok()) {
    ForgetOwner(ref.attempt_id);
    CountClaim(result->next.has_value());
    NotifyChange();
  }
  return result;
}

absl::StatusOr<JobState> Coordinator::FinishJob(const AttemptRef& ref, AttemptOutcome outcome,
                                                const std::string& cause,
                                                const std::string& summary_json) {
  if (absl::Status s = CheckFinish(outcome, cause, summary_json); !s.ok()) return s;
  absl::StatusOr<JobState> state =
      store_->FinishAttempt(ref, outcome, cause, summary_json, clock_->Now());
  if (state.ok()) {
    ForgetOwner(ref.attempt_id);
    NotifyChange();
  }
  return state;
}

absl::StatusOr<std::unique_ptr<CheckpointUpload>> Coordinator::BeginCheckpoint(
    const AttemptRef& ref, int64_t step, int64_t total_bytes, const std::string& sha256) {
  // Fenced before the first byte is written; AddCheckpoint checks again.
  absl::StatusOr<int64_t> job_id = store_->JobOfRunningAttempt(ref);
  if (!job_id.ok()) return job_id.status();
  return files_->Begin(*job_id, ref.attempt_id, step, total_bytes, sha256);
}

absl::StatusOr<int64_t> Coordinator::CommitCheckpoint(const AttemptRef& ref, int64_t step,
                                                      std::unique_ptr<CheckpointUpload> upload) {
  absl::StatusOr<std::string> path = upload->Finish();
  if (!path.ok()) return path.status();
  absl::StatusOr<int64_t> id = store_->AddCheckpoint(ref, step, upload->received(),
                                                     upload->sha256(), *path, clock_->Now());
  if (!id.ok()) {
    files_->Remove(*path);
    return id.status();
  }
  absl::StatusOr<int64_t> job_id = store_->JobOfRunningAttempt(ref);
  if (job_id.ok()) {
    absl::StatusOr<std::vector<std::string>> old =
        store_->PruneCheckpoints(*job_id, options_.checkpoints_kept);
    if (old.ok()) {
      for (const std::string& stale : *old) files_->Remove(stale);
    } else {
      SY_LOG(Warning) << "checkpoint pruning for job " << *job_id << ": " << old.status();
    }
  }
  checkpoints_stored_.fetch_add(1, std::memory_order_relaxed);
  return *id;
}

absl::StatusOr<CheckpointRecord> Coordinator::CheckpointFor(const AttemptRef& ref,
                                                            int64_t checkpoint_id) {
  return store_->GetCheckpointFor(ref, checkpoint_id);
}

CoordinatorStats Coordinator::stats() const {
  CoordinatorStats s;
  s.claims_served = claims_served_.load(std::memory_order_relaxed);
  s.claims_empty = claims_empty_.load(std::memory_order_relaxed);
  s.leases_expired = leases_expired_.load(std::memory_order_relaxed);
  s.points_ingested = points_ingested_.load(std::memory_order_relaxed);
  s.batches_ingested = batches_ingested_.load(std::memory_order_relaxed);
  s.checkpoints_stored = checkpoints_stored_.load(std::memory_order_relaxed);
  s.sweeps_submitted = sweeps_submitted_.load(std::memory_order_relaxed);
  return s;
}

std::string Coordinator::CheckpointPath(const CheckpointRecord& record) const {
  return files_->AbsolutePath(record.path);
}

}  // namespace switchyard::server
