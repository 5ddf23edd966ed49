// The `switchyard watch` view: a sweep's progress as a frame of lines that a
// terminal redraws in place, or as plain lines for a pipe.
//
// ProgressView keeps the latest counts and the best value of one metric per
// (model, attention) seen so far; the watch command feeds it with the
// coordinator's events. Rendering takes `now` so tests need no clock.
//
// Thread safety: not synchronised; one thread owns a view.
#ifndef SWITCHYARD_CLIENT_RENDER_PROGRESS_H_
#define SWITCHYARD_CLIENT_RENDER_PROGRESS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "client/render/stats.h"

namespace switchyard::client {

// A sweep's jobs by state. Paused jobs (ASHA: a rung done, waiting for
// promotion) have not ended; stopped ones (cut short by the sweep's
// early-stopping scheduler) have.
struct JobCounts {
  int64_t pending = 0;
  int64_t running = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  int64_t lost = 0;
  int64_t cancelled = 0;
  int64_t paused = 0;
  int64_t stopped = 0;

  int64_t total() const { return pending + running + paused + ended(); }
  int64_t ended() const { return succeeded + failed + lost + cancelled + stopped; }
  // Jobs that may still run: pending, running or paused.
  int64_t left() const { return pending + running + paused; }
  // Nothing pending, running or paused: the sweep is finished.
  bool Settled() const { return left() == 0; }
  bool operator==(const JobCounts&) const = default;
};

struct SweepSnapshot {
  int64_t id = 0;
  std::string name;
  JobCounts counts;
  double created_at = 0;   // unix seconds
  double finished_at = 0;  // 0 while active
  bool done = false;
};

class ProgressView {
 public:
  explicit ProgressView(std::string metric = "accuracy") : metric_(std::move(metric)) {}

  void SetSnapshot(const SweepSnapshot& snapshot) { snapshot_ = snapshot; }
  const SweepSnapshot& snapshot() const { return snapshot_; }

  // Takes the job's current value of the metric (from final_metrics) into the
  // best-so-far table, whatever the job's state except failed and cancelled.
  // Returns true when the table changed.
  bool NoteJob(const JobData& job);

  // The frame for a terminal: title, bar, counts, times, best values.
  // Lines are at most `width` characters (>= 20).
  std::vector<std::string> Frame(double now, int width) const;

  // One plain line of progress, e.g.
  // "sweep 3: 5/12 ended (41.7%) | done 5 running 2 pending 5 failed 0 lost 0 | elapsed 1m02s eta
  // 1m27s"; paused, stopped and cancelled counts are added when not 0.
  std::string Line(double now) const;

  // One line about a job that ended, e.g.
  // "job 17 succeeded: transformer softmax IARC seed 1, accuracy 0.8731".
  std::string JobEndedLine(const JobData& job) const;

  // The best-so-far table as lines ("best accuracy so far: ..."), for the
  // end of a piped watch.
  std::vector<std::string> BestLines() const;

  // Seconds since the sweep was created (until it finished), and the
  // estimated seconds left (-1 when unknown: nothing ended yet). The jobs
  // left are the pending, running and paused ones.
  double Elapsed(double now) const;
  double Eta(double now) const;

 private:
  struct Best {
    double value = 0;
    int64_t job_id = 0;
    int64_t first_cell = 0;
  };
  std::string metric_;
  SweepSnapshot snapshot_;
  // (model, attention) -> best so far.
  std::map<std::pair<std::string, std::string>, Best> best_;  // by JobData::Trains()
  bool own_programs_ = false;  // a job of a program of the user's own was seen
};

// Repaints a block of lines in place on an ANSI terminal: each call moves the
// cursor back over the previous block and clears it first.
class InPlacePainter {
 public:
  // The bytes to write for `lines`.
  std::string Repaint(const std::vector<std::string>& lines);

 private:
  size_t previous_lines_ = 0;
};

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_RENDER_PROGRESS_H_
