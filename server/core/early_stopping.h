// Early-stopping policy for a sweep (issue 19): asynchronous successive
// halving (ASHA, with pause-and-promote) and median stopping.
//
// Contract. Every function here is pure: it reads only its arguments (no
// clock, no store, no protobuf, no randomness) and returns a plain value, so
// the same inputs always give the same decision. A decision carries the
// numbers it was made from and a human-readable `reason`; the caller is meant
// to store it with its inputs, so `why JOB` can repeat it later without
// recomputing. Time never matters to a decision: only the order of the
// results the caller passes in.
//
// The coordinator's store calls these inside the transactions that act on
// their decisions (server/store/scheduling.h).
//
// Thread safety: none needed; no shared state.
#ifndef SWITCHYARD_SERVER_CORE_EARLY_STOPPING_H_
#define SWITCHYARD_SERVER_CORE_EARLY_STOPPING_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/sweep/scheduler.h"

namespace switchyard::server {

// ---------------------------------------------------------------- ASHA --

// The policy's parameters and their checks belong to the sweep
// (common/sweep/scheduler.h), which the sweep file, the wire and the store share.
using common::AshaPolicy;
using common::ValidateAsha;

// The epoch budget of each rung, lowest first: min_epochs * reduction^k for
// every k with that product below max_epochs, then max_epochs itself as the
// top rung (so a job that survives every rung trains the full budget even
// when max_epochs is not min_epochs times a power of reduction).
// {1, 27, 3} -> 1 3 9 27; {1, 10, 3} -> 1 3 9 10; {5, 5, 2} -> 5.
// `policy` must be valid (ValidateAsha); an invalid one gives {}.
std::vector<int> RungEpochs(const AshaPolicy& policy);

// What the caller knows of one trial (one job of the sweep).
struct TrialState {
  enum Phase {
    kNotStarted,  // not yet given a slot
    kRunning,     // training toward its next rung
    kPaused,      // finished `rung`, keeps its checkpoint, may be promoted
    kFailed,      // ended by an error; terminal for this policy
    kLost,        // its worker vanished; terminal for this policy
    kStopped,     // stopped by this policy
    kDone,        // finished the top rung
  };
  int64_t job_id = 0;
  Phase phase = kNotStarted;
  int rung = -1;                       // highest rung finished, -1 for none
  std::map<int, double> value_at_rung;  // rung index -> metric at its end
};

const char* PhaseName(TrialState::Phase phase);

// One paused job the sweep stops when it ends, with the numbers behind it.
struct AshaStop {
  int64_t job_id = 0;
  int rung = 0;           // the rung it stopped at (0-based)
  int epoch = 0;          // that rung's epoch budget
  double value = 0;       // its metric at that rung
  bool has_threshold = false;
  double threshold = 0;   // the worst value inside the rung's top 1/reduction
  int jobs_seen = 0;      // jobs that finished the rung
  // "stopped at rung 1 (epoch 3): accuracy 0.412, below the rung's top third
  //  (0.553, 9 jobs seen)"
  std::string reason;
};

// What to do with one free slot.
struct AshaDecision {
  enum Kind {
    kPromote,   // resume paused `job_id` from its checkpoint up to `epochs`
    kStartNew,  // start not-started `job_id` with `epochs` = rung 0's budget
    kNothing,   // leave the slot idle: running jobs may still change things
    kFinish,    // the sweep ends: stop every job in `stops`
  };
  Kind kind = kNothing;
  int64_t job_id = 0;      // kPromote, kStartNew
  int from_rung = -1;      // kPromote: the rung it finished
  int to_rung = 0;         // kPromote, kStartNew: the rung it now runs to
  int epochs = 0;          // kPromote, kStartNew: that rung's epoch budget
  double value = 0;        // kPromote: its metric at from_rung
  int rank = 0;            // kPromote: 1-based rank within from_rung
  int top_count = 0;       // kPromote: floor(jobs_seen / reduction)
  int jobs_seen = 0;       // kPromote: jobs that finished from_rung
  std::vector<AshaStop> stops;  // kFinish, by job id
  std::string reason;
};

const char* AshaDecisionKindName(AshaDecision::Kind kind);

// The decision for one free slot, given every trial of the sweep.
//
// Promotion (Li et al., MLSys 2020, Algorithm 2): for rungs from the top
// down, the n_k jobs that finished rung k (those with value_at_rung[k],
// whatever their phase now: a job that failed or got lost after finishing
// rung k still counts, one that failed before does not) are ranked best
// first by their value there; ties go to the lower job id, and a NaN value
// ranks last. The top floor(n_k / reduction) of them are promotable if they
// are paused at rung k (a job promoted earlier is past rung k, so it is never
// promoted twice). A rung with fewer than `reduction` jobs promotes nothing.
// The first promotable job of the highest rung wins: kPromote.
// Otherwise, the not-started job with the lowest id: kStartNew.
// Otherwise, if any job is running: kNothing (its result may make a paused
// job promotable). Otherwise kFinish, listing every paused job to stop.
// Failed and lost jobs are never promoted and never waited for.
//
// INVALID_ARGUMENT for an invalid policy or inconsistent trials: a duplicate
// job id, a rung outside [-1, top), a paused job without a value at its rung
// or paused at rung -1 (jobs at the top rung are done, not paused).
absl::StatusOr<AshaDecision> NextForFreeSlot(const AshaPolicy& policy,
                                             const std::vector<TrialState>& trials);

// What happens to a job that just finished rung `rung` with `value`.
struct AshaAfterRung {
  bool done = false;  // true at the top rung; else the job is paused
  int64_t job_id = 0;
  int rung = 0;
  int epoch = 0;
  double value = 0;
  // "paused at rung 1 (epoch 3): accuracy 0.412; waits for promotion"
  // "done at rung 3 (epoch 27): accuracy 0.71, the top rung"
  std::string reason;
};
// INVALID_ARGUMENT for an invalid policy or a rung outside [0, top].
absl::StatusOr<AshaAfterRung> AfterRung(const AshaPolicy& policy, int64_t job_id, int rung,
                                        double value);

// -------------------------------------------------------------- median --

using common::MedianPolicy;
using common::ValidateMedian;

// Epoch (1-based) -> the metric at the end of that epoch.
using Curve = std::map<int, double>;

struct MedianDecision {
  bool stop = false;
  int epoch = 0;          // the epoch boundary decided at: the job's last
  double best = 0;        // the job's best value up to `epoch` (by mode)
  bool has_median = false;
  double median = 0;      // of the others' values at `epoch`
  int others_seen = 0;    // other jobs with a value at `epoch`
  // "stopped at epoch 4: best accuracy 0.41, below the median 0.55 of 7
  //  other jobs at epoch 4"
  std::string reason;
};

// Whether a running job stops at the epoch boundary it just reached (the
// last epoch of `curve`), with a checkpoint. It stops when its best value so
// far (max or min by mode, over its epochs up to that one) is strictly worse
// than the median of the values the other jobs reported at that same epoch
// (mean of the two middle ones for an even count). No decision (continue)
// when the epoch is below warmup_epochs or no other job reached it. A job's
// own curve must not be among `others`.
// INVALID_ARGUMENT for an invalid policy or an empty curve.
absl::StatusOr<MedianDecision> ShouldStop(const MedianPolicy& policy, const Curve& curve,
                                          const std::vector<Curve>& others);

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_CORE_EARLY_STOPPING_H_
