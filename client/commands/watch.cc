// watch: follows a sweep until it ends. On a terminal the view is redrawn in
// place once a second; into a pipe it prints a line per change. Stopping it
// (Ctrl-C) changes nothing on the coordinator, and starting it again shows
// the same sweep from its beginning.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/commands/commands.h"
#include "client/errors.h"
#include "client/render/progress.h"

namespace switchyard::client {
namespace {

SweepSnapshot ToSnapshot(const pb::SweepEvent& event) {
  SweepSnapshot s;
  s.id = event.sweep().id();
  s.name = event.sweep().name();
  const pb::StateCounts& c = event.sweep().counts();
  s.counts = JobCounts{c.pending(), c.running(),   c.succeeded(), c.failed(),
                       c.lost(),    c.cancelled(), c.paused(),    c.stopped()};
  s.created_at = event.sweep().created_at();
  s.finished_at = event.sweep().finished_at();
  // Finished when the coordinator says so and nothing is pending, running or
  // paused (a paused job may still be promoted).
  s.done = event.done() && s.counts.Settled();
  return s;
}

// Reads a WatchSweep stream on its own thread, so the main thread can redraw
// the clock between events.
class EventPump {
 public:
  explicit EventPump(std::unique_ptr<SweepEventReader> reader)
      : reader_(std::move(reader)), thread_([this] { Loop(); }) {}
  ~EventPump() {
    reader_->Cancel();
    thread_.join();
  }

  // Waits up to `timeout` for events; returns those that arrived and whether
  // the stream has ended (then no more will come).
  std::deque<pb::SweepEvent> Wait(std::chrono::milliseconds timeout, bool* ended) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (timeout.count() > 0) {
      changed_.wait_for(lock, timeout, [&] { return ended_ || !events_.empty(); });
    } else {
      changed_.wait(lock, [&] { return ended_ || !events_.empty(); });
    }
    std::deque<pb::SweepEvent> events;
    events.swap(events_);
    *ended = ended_ && events.empty();
    return events;
  }

  // Why the stream ended; call only after Wait() reported the end.
  absl::Status Finish() { return reader_->Finish(); }

 private:
  void Loop() {
    pb::SweepEvent event;
    while (reader_->Read(&event)) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(event);
      changed_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = true;
    changed_.notify_all();
  }

  std::unique_ptr<SweepEventReader> reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<pb::SweepEvent> events_;
  bool ended_ = false;
  std::thread thread_;  // last: starts after the members it uses exist
};

absl::Status RunWatch(const Args& args, CommandEnv& env) {
  std::string text = args.positionals()[0];
  if (absl::StartsWith(text, "sweep/")) text = text.substr(6);
  absl::StatusOr<int64_t> id = ParseId("SWEEP", text);
  if (!id.ok()) return id.status();
  const std::string metric = args.Get("metric", "accuracy");
  const bool in_place = env.out_is_tty() && !args.Has("plain");
  absl::StatusOr<CoordinatorClient*> connected = env.Client();
  if (!connected.ok()) return connected.status();
  CoordinatorClient* client = *connected;

  ProgressView view(metric);
  InPlacePainter painter;
  // Jobs ended before this watch started are shown in the table but not
  // announced one by one.
  std::set<int64_t> announced;
  absl::StatusOr<std::vector<pb::Job>> jobs = client->ListJobs(*id, pb::JOB_STATE_UNSPECIFIED);
  if (!jobs.ok()) return jobs.status();
  for (const pb::Job& job : *jobs) {
    JobData data = ToJobData(job);
    view.NoteJob(data);
    if (data.state != "pending" && data.state != "running" && data.state != "paused") {
      announced.insert(data.id);
    }
  }

  bool done = false;
  bool have_snapshot = false;
  JobCounts last_printed{-1};
  int reconnects_left = 15;
  auto last_poll = std::chrono::steady_clock::now();
  while (!done) {
    absl::StatusOr<std::unique_ptr<SweepEventReader>> reader = client->WatchSweep(*id);
    if (!reader.ok()) return reader.status();
    EventPump pump(*std::move(reader));
    bool ended = false;
    while (!ended && !done) {
      std::deque<pb::SweepEvent> events =
          pump.Wait(std::chrono::milliseconds(in_place ? 1000 : 0), &ended);
      for (const pb::SweepEvent& event : events) {
        view.SetSnapshot(ToSnapshot(event));
        have_snapshot = true;
        // A "done" whose counts still hold pending, running or paused jobs
        // is not the end: the stream is followed again, but not forever.
        if (!event.done() || view.snapshot().done) reconnects_left = 15;
        for (const pb::Job& job : event.newly_finished()) {
          JobData data = ToJobData(job);
          view.NoteJob(data);
          if (announced.insert(data.id).second && !in_place) {
            env.out() << view.JobEndedLine(data) << "\n";
          }
        }
        if (view.snapshot().done) done = true;
        if (!in_place && !(view.snapshot().counts == last_printed)) {
          last_printed = view.snapshot().counts;
          env.out() << view.Line(env.Now()) << "\n";
          env.out().flush();
        }
      }
      if (in_place) {
        // Running jobs report a value per epoch: fold them into "best so far".
        auto now = std::chrono::steady_clock::now();
        if (now - last_poll > std::chrono::seconds(5) && !done) {
          last_poll = now;
          absl::StatusOr<std::vector<pb::Job>> running =
              client->ListJobs(*id, pb::JOB_STATE_RUNNING);
          if (running.ok()) {
            for (const pb::Job& job : *running) view.NoteJob(ToJobData(job));
          }
        }
        if (have_snapshot) {
          env.out() << painter.Repaint(view.Frame(env.Now(), env.terminal_width()));
          env.out().flush();
        }
      }
    }
    if (done) break;
    absl::Status status = pump.Finish();
    // The coordinator restarted (it ends streams with CANCELLED when it
    // stops) or the network blinked: follow the sweep again.
    if (status.ok() || status.code() == absl::StatusCode::kCancelled ||
        ExitCodeFor(status) == kExitUnreachable) {
      if (reconnects_left-- > 0) {
        env.err() << "watch: lost the coordinator ("
                  << (status.ok() ? std::string("stream ended") : std::string(status.message()))
                  << "); reconnecting\n";
        std::this_thread::sleep_for(std::chrono::seconds(2));
        continue;
      }
      return UnreachableError(env.globals().coordinator, "the watch stream kept ending");
    }
    return status;
  }
  if (!in_place) {
    for (const std::string& line : view.BestLines()) env.out() << line << "\n";
  }
  env.out().flush();
  const JobCounts& c = view.snapshot().counts;
  // Jobs the sweep's early-stopping scheduler stopped did what the sweep
  // asked for: they are no failure.
  if (c.failed + c.lost + c.cancelled == 0) return absl::OkStatus();
  return SweepOutcomeError(absl::StrCat(
      "sweep ", *id, " ended: ", c.succeeded, " of ", c.total(), " jobs succeeded",
      c.stopped > 0 ? absl::StrCat(", ", c.stopped, " stopped early") : std::string(),
      " (failed ", c.failed, ", lost ", c.lost, ", cancelled ", c.cancelled,
      "); see switchyard jobs ", *id, " and switchyard why JOB"));
}

}  // namespace

Command WatchCommand() {
  return {{"watch",
           "SWEEP",
           "follow a sweep until it ends",
           "A live view: a progress bar, done/running/pending/failed/lost (and paused,\n"
           "stopped and cancelled when there are any), elapsed time and ETA, and the best\n"
           "value of a metric so far per model and attention. Redrawn in place on a terminal;\n"
           "one line per change when piped. Stop it at any time (Ctrl-C) and start it again:\n"
           "the sweep goes on. Exits when nothing is pending, running or paused: 0 if every\n"
           "job succeeded or was stopped by the sweep's early-stopping scheduler, 4 if a job\n"
           "failed, was lost or was cancelled.",
           {{"metric", "M", "the metric of the best-so-far table (default accuracy)"},
            {"plain", "", "plain lines even on a terminal"}},
           1,
           1},
          RunWatch};
}

}  // namespace switchyard::client
