#include "server/core/early_stopping.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <tuple>

namespace switchyard::server {
namespace {

AshaPolicy Asha(int min_epochs = 1, int max_epochs = 27, int reduction = 3, bool maximize = true) {
  return AshaPolicy{"accuracy", maximize, min_epochs, max_epochs, reduction};
}

TrialState Paused(int64_t id, std::map<int, double> values) {
  TrialState t;
  t.job_id = id;
  t.phase = TrialState::kPaused;
  t.rung = values.empty() ? -1 : values.rbegin()->first;
  t.value_at_rung = std::move(values);
  return t;
}

TrialState With(TrialState t, TrialState::Phase phase) {
  t.phase = phase;
  return t;
}

TrialState NotStarted(int64_t id) {
  TrialState t;
  t.job_id = id;
  return t;
}

AshaDecision Next(const AshaPolicy& policy, const std::vector<TrialState>& trials) {
  absl::StatusOr<AshaDecision> d = NextForFreeSlot(policy, trials);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : AshaDecision{};
}

TrialState& Find(std::vector<TrialState>& trials, int64_t id) {
  return *std::find_if(trials.begin(), trials.end(),
                       [id](const TrialState& t) { return t.job_id == id; });
}

// Applies a promote or start decision: the job runs toward decision.to_rung.
void Apply(std::vector<TrialState>& trials, const AshaDecision& d) {
  ASSERT_TRUE(d.kind == AshaDecision::kPromote || d.kind == AshaDecision::kStartNew);
  Find(trials, d.job_id).phase = TrialState::kRunning;
}

// The running job reports the end of `rung`; AfterRung pauses it or marks it done.
void FinishRung(const AshaPolicy& policy, std::vector<TrialState>& trials, int64_t id, int rung,
                double value) {
  absl::StatusOr<AshaAfterRung> after = AfterRung(policy, id, rung, value);
  ASSERT_TRUE(after.ok()) << after.status();
  TrialState& t = Find(trials, id);
  ASSERT_EQ(t.phase, TrialState::kRunning);
  t.rung = rung;
  t.value_at_rung[rung] = value;
  t.phase = after->done ? TrialState::kDone : TrialState::kPaused;
}

// ------------------------------------------------------------ rungs ----

TEST(AshaRungsTest, EpochsForSeveralPolicies) {
  struct Row {
    int min, max, reduction;
    std::vector<int> rungs;
  };
  const Row rows[] = {
      {1, 27, 3, {1, 3, 9, 27}},
      {1, 10, 3, {1, 3, 9, 10}},  // max not a power: the top rung is max_epochs
      {1, 26, 3, {1, 3, 9, 26}},
      {1, 28, 3, {1, 3, 9, 27, 28}},
      {2, 16, 2, {2, 4, 8, 16}},
      {2, 17, 2, {2, 4, 8, 16, 17}},
      {5, 5, 2, {5}},
      {3, 4, 4, {3, 4}},
      {1, 100000, 100, {1, 100, 10000, 100000}},
      {1, 100000, 2, {}},  // filled below: 2^0 .. 2^16, then the maximum
  };
  for (const Row& row : rows) {
    std::vector<int> want = row.rungs;
    if (row.max == 100000 && row.reduction == 2) {
      for (int k = 0; k <= 16; ++k) want.push_back(1 << k);
      want.push_back(100000);
    }
    EXPECT_EQ(RungEpochs(Asha(row.min, row.max, row.reduction)), want)
        << row.min << " " << row.max << " " << row.reduction;
  }
  EXPECT_TRUE(RungEpochs(Asha(1, 27, 1)).empty());  // invalid
  EXPECT_TRUE(RungEpochs(Asha(1, 100001, 2)).empty());  // over common::kMaxSchedulerEpochs
}

TEST(AshaRungsTest, ValidationNamesTheField) {
  EXPECT_TRUE(ValidateAsha(Asha()).ok());
  struct Row {
    AshaPolicy policy;
    std::string message;
  };
  const Row rows[] = {
      {{"", true, 1, 27, 3}, "asha: metric must not be empty"},
      {{"accuracy", true, 1, 27, 1}, "asha: reduction must be 2 to 100, got 1"},
      {{"accuracy", true, 1, 27, 0}, "asha: reduction must be 2 to 100, got 0"},
      {{"accuracy", true, 0, 27, 3}, "asha: min_epochs must be at least 1, got 0"},
      {{"accuracy", true, -2, 27, 3}, "asha: min_epochs must be at least 1, got -2"},
      {{"accuracy", true, 5, 4, 3}, "asha: max_epochs (4) must be at least min_epochs (5)"},
      {{"accuracy", true, 1, 100001, 3}, "asha: max_epochs must be at most 100000, got 100001"},
      {{"accuracy", true, 1, 27, 101}, "asha: reduction must be 2 to 100, got 101"},
  };
  for (const Row& row : rows) {
    absl::Status s = ValidateAsha(row.policy);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), row.message);
    EXPECT_EQ(NextForFreeSlot(row.policy, {}).status(), s);
    EXPECT_EQ(AfterRung(row.policy, 1, 0, 0.5).status(), s);
  }
}

// -------------------------------------------------------- after rung ---

TEST(AshaAfterRungTest, PausesBelowTheTopAndIsDoneAtIt) {
  absl::StatusOr<AshaAfterRung> paused = AfterRung(Asha(), 7, 1, 0.412);
  ASSERT_TRUE(paused.ok());
  EXPECT_FALSE(paused->done);
  EXPECT_EQ(paused->epoch, 3);
  EXPECT_EQ(paused->reason, "paused at rung 1 (epoch 3): accuracy 0.412; waits for promotion");
  absl::StatusOr<AshaAfterRung> done = AfterRung(Asha(), 7, 3, 0.71);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->done);
  EXPECT_EQ(done->epoch, 27);
  EXPECT_EQ(done->reason, "done at rung 3 (epoch 27): accuracy 0.71, the top rung");
  EXPECT_EQ(AfterRung(Asha(), 7, 4, 0.5).status().message(),
            "job 7: rung 4 is outside [0, 3]");
  EXPECT_EQ(AfterRung(Asha(), 7, -1, 0.5).status().code(), absl::StatusCode::kInvalidArgument);
  // A single-rung policy: the first rung is the top one.
  absl::StatusOr<AshaAfterRung> single = AfterRung(Asha(5, 5, 2), 1, 0, 0.5);
  ASSERT_TRUE(single.ok());
  EXPECT_TRUE(single->done);
}

// ---------------------------------------------------------- promotion --

// 27 trials, reduction 3, driven rung by rung: exactly the top third of each
// rung is promoted, best first, and the sweep ends by stopping the rest.
TEST(AshaPromotionTest, TwentySevenTrialsRungByRung) {
  const AshaPolicy policy = Asha();
  std::vector<TrialState> trials;
  for (int64_t id = 1; id <= 27; ++id) trials.push_back(NotStarted(id));

  // One slot frees 27 times: with nothing paused yet, trials start in id order.
  for (int64_t id = 1; id <= 27; ++id) {
    AshaDecision d = Next(policy, trials);
    ASSERT_EQ(d.kind, AshaDecision::kStartNew);
    EXPECT_EQ(d.job_id, id);
    EXPECT_EQ(d.epochs, 1);
    Apply(trials, d);
  }
  EXPECT_EQ(Next(policy, trials).kind, AshaDecision::kNothing);
  // Rung 0: job j scores (7j mod 27)/27, a permutation of 0..26/27.
  for (int64_t id = 1; id <= 27; ++id) FinishRung(policy, trials, id, 0, (7 * id % 27) / 27.0);

  // Top 9 of 27, best first: 7j mod 27 = 26, 25, ..., 18, i.e. j = 4r mod 27.
  const std::vector<int64_t> rung0_top = {23, 19, 15, 11, 7, 3, 26, 22, 18};
  std::vector<int64_t> promoted;
  for (;;) {
    AshaDecision d = Next(policy, trials);
    if (d.kind != AshaDecision::kPromote) {
      EXPECT_EQ(d.kind, AshaDecision::kNothing);  // the promoted ones run
      break;
    }
    EXPECT_EQ(d.from_rung, 0);
    EXPECT_EQ(d.to_rung, 1);
    EXPECT_EQ(d.epochs, 3);
    EXPECT_EQ(d.jobs_seen, 27);
    EXPECT_EQ(d.top_count, 9);
    EXPECT_EQ(d.rank, int(promoted.size()) + 1);
    promoted.push_back(d.job_id);
    Apply(trials, d);
  }
  EXPECT_EQ(promoted, rung0_top);

  // Rung 1 reverses the order: 1 - rung 0's value. Top 3 of 9: 18, 22, 26.
  for (int64_t id : rung0_top) {
    FinishRung(policy, trials, id, 1, 1 - Find(trials, id).value_at_rung[0]);
  }
  promoted.clear();
  for (AshaDecision d = Next(policy, trials); d.kind == AshaDecision::kPromote;
       d = Next(policy, trials)) {
    EXPECT_EQ(d.from_rung, 1);
    EXPECT_EQ(d.epochs, 9);
    promoted.push_back(d.job_id);
    Apply(trials, d);
  }
  EXPECT_EQ(promoted, (std::vector<int64_t>{18, 22, 26}));

  // Rung 2: only the best of three goes on to 27 epochs.
  FinishRung(policy, trials, 18, 2, 0.5);
  FinishRung(policy, trials, 22, 2, 0.9);
  EXPECT_EQ(Next(policy, trials).kind, AshaDecision::kNothing);  // 26 still runs
  FinishRung(policy, trials, 26, 2, 0.7);
  AshaDecision top = Next(policy, trials);
  ASSERT_EQ(top.kind, AshaDecision::kPromote);
  EXPECT_EQ(top.job_id, 22);
  EXPECT_EQ(top.to_rung, 3);
  EXPECT_EQ(top.epochs, 27);
  EXPECT_EQ(top.reason,
            "promoted from rung 2 (epoch 9) to rung 3 (epoch 27): accuracy 0.9, rank 1 of 3 "
            "jobs seen, within the rung's top third (1)");
  Apply(trials, top);
  EXPECT_EQ(Next(policy, trials).kind, AshaDecision::kNothing);
  FinishRung(policy, trials, 22, 3, 0.95);
  EXPECT_EQ(Find(trials, 22).phase, TrialState::kDone);

  // Everything started, nothing runs, nothing promotable: stop the 26 paused.
  AshaDecision end = Next(policy, trials);
  ASSERT_EQ(end.kind, AshaDecision::kFinish);
  ASSERT_EQ(end.stops.size(), 26u);
  for (size_t i = 1; i < end.stops.size(); ++i) {
    EXPECT_LT(end.stops[i - 1].job_id, end.stops[i].job_id);
  }
  int at_rung[3] = {0, 0, 0};
  for (const AshaStop& s : end.stops) ++at_rung[s.rung];
  EXPECT_EQ(at_rung[0], 18);
  EXPECT_EQ(at_rung[1], 6);
  EXPECT_EQ(at_rung[2], 2);
  EXPECT_EQ(end.reason,
            "sweep finished: every trial started and none can be promoted; 26 paused jobs "
            "stopped");
  // Job 1 scored 7/27 at rung 0; the rung's ninth best (job 18) scored 18/27.
  const AshaStop& first = end.stops[0];
  EXPECT_EQ(first.job_id, 1);
  EXPECT_EQ(first.rung, 0);
  EXPECT_EQ(first.epoch, 1);
  EXPECT_TRUE(first.has_threshold);
  EXPECT_DOUBLE_EQ(first.threshold, 18 / 27.0);
  EXPECT_EQ(first.jobs_seen, 27);
  EXPECT_EQ(first.reason,
            "stopped at rung 0 (epoch 1): accuracy 0.2593, below the rung's top third "
            "(0.6667, 27 jobs seen)");
}

TEST(AshaPromotionTest, ReasonMatchesTheIssueExample) {
  // Nine jobs finished rung 1; the third best scored 0.553.
  std::vector<TrialState> trials;
  const double rung1[] = {0.7, 0.6, 0.553, 0.52, 0.5, 0.45, 0.43, 0.42, 0.412};
  for (int i = 0; i < 9; ++i) {
    TrialState t = Paused(i + 1, {{0, 0.3}, {1, rung1[i]}});
    if (i < 3) {  // promoted, finished rung 2, then stopped: nothing promotable
      t.rung = 2;
      t.value_at_rung[2] = 0.8;
      t.phase = TrialState::kStopped;
    }
    trials.push_back(t);
  }
  AshaDecision end = Next(Asha(), trials);
  ASSERT_EQ(end.kind, AshaDecision::kFinish);
  ASSERT_EQ(end.stops.size(), 6u);
  EXPECT_EQ(end.stops.back().job_id, 9);
  EXPECT_EQ(end.stops.back().reason,
            "stopped at rung 1 (epoch 3): accuracy 0.412, below the rung's top third "
            "(0.553, 9 jobs seen)");
}

TEST(AshaPromotionTest, TiesGoToTheLowerJobId) {
  // Three equal values: the top one of three is the lowest id.
  std::vector<TrialState> trials = {Paused(5, {{0, 0.5}}), Paused(2, {{0, 0.5}}),
                                    Paused(9, {{0, 0.5}})};
  AshaDecision d = Next(Asha(), trials);
  ASSERT_EQ(d.kind, AshaDecision::kPromote);
  EXPECT_EQ(d.job_id, 2);
  // A tie across the cut of the top third: 6 jobs, top 2, three share second place.
  trials = {Paused(10, {{0, 0.9}}), Paused(8, {{0, 0.7}}), Paused(4, {{0, 0.7}}),
            Paused(6, {{0, 0.7}}), Paused(1, {{0, 0.1}}), Paused(3, {{0, 0.2}})};
  std::vector<int64_t> order;
  for (AshaDecision next = Next(Asha(), trials); next.kind == AshaDecision::kPromote;
       next = Next(Asha(), trials)) {
    order.push_back(next.job_id);
    Apply(trials, next);
  }
  EXPECT_EQ(order, (std::vector<int64_t>{10, 4}));
  // The input order does not matter.
  std::reverse(trials.begin(), trials.end());
  for (TrialState& t : trials) t.phase = TrialState::kPaused;
  EXPECT_EQ(Next(Asha(), trials).job_id, 10);
}

TEST(AshaPromotionTest, ARungWithFewerThanReductionJobsPromotesNothing) {
  std::vector<TrialState> trials = {Paused(1, {{0, 0.9}}), Paused(2, {{0, 0.1}}),
                                    NotStarted(3)};
  AshaDecision d = Next(Asha(), trials);
  ASSERT_EQ(d.kind, AshaDecision::kStartNew);
  EXPECT_EQ(d.job_id, 3);
  EXPECT_EQ(d.to_rung, 0);
  EXPECT_EQ(d.epochs, 1);
  EXPECT_EQ(d.reason, "started at rung 0 (epoch 1): no paused job is in its rung's top third");
  // With every trial started, the sweep ends with the two paused.
  trials.pop_back();
  AshaDecision end = Next(Asha(), trials);
  ASSERT_EQ(end.kind, AshaDecision::kFinish);
  ASSERT_EQ(end.stops.size(), 2u);
  EXPECT_FALSE(end.stops[0].has_threshold);
  EXPECT_EQ(end.stops[0].reason,
            "stopped at rung 0 (epoch 1): accuracy 0.9, below the rung's top third (none: 2 "
            "jobs seen, fewer than 3)");
  // Reduction 2: two jobs are enough to promote one.
  AshaDecision half = Next(Asha(1, 8, 2), trials);
  ASSERT_EQ(half.kind, AshaDecision::kPromote);
  EXPECT_EQ(half.job_id, 1);
  EXPECT_EQ(half.epochs, 2);
  EXPECT_NE(half.reason.find("top half (1)"), std::string::npos) << half.reason;
}

TEST(AshaPromotionTest, FailedAndLostJobsAreNeverPromotedAndDoNotBlock) {
  // Job 1 finished rung 0 best, then failed during rung 1: it counts at rung 0
  // (its result is real) and takes a top slot, but is not promoted. Job 2
  // failed before finishing rung 0 and job 3 got lost then: they do not count.
  std::vector<TrialState> trials = {
      With(Paused(1, {{0, 0.99}}), TrialState::kFailed),
      With(Paused(2, {}), TrialState::kFailed),
      With(Paused(3, {}), TrialState::kLost),
      Paused(4, {{0, 0.5}}), Paused(5, {{0, 0.4}}), Paused(6, {{0, 0.3}})};
  // Four finished rung 0: top 1 is job 1, failed. Nothing to promote, nothing
  // running, nothing to start: the failed and lost do not hold the sweep open.
  AshaDecision end = Next(Asha(), trials);
  ASSERT_EQ(end.kind, AshaDecision::kFinish);
  ASSERT_EQ(end.stops.size(), 3u);
  EXPECT_EQ(end.stops[0].job_id, 4);
  EXPECT_EQ(end.stops[0].jobs_seen, 4);
  EXPECT_DOUBLE_EQ(end.stops[0].threshold, 0.99);
  // Two more finish rung 0: six seen, top 2 = {1 (failed), 4}: job 4 goes on.
  trials.push_back(Paused(7, {{0, 0.2}}));
  trials.push_back(With(Paused(8, {{0, 0.1}}), TrialState::kLost));
  AshaDecision d = Next(Asha(), trials);
  ASSERT_EQ(d.kind, AshaDecision::kPromote);
  EXPECT_EQ(d.job_id, 4);
  EXPECT_EQ(d.rank, 2);
  EXPECT_EQ(d.jobs_seen, 6);
  Apply(trials, d);
  // Job 4 gets lost during rung 1: it is never promoted again, and nothing waits for it.
  Find(trials, 4).phase = TrialState::kLost;
  AshaDecision after = Next(Asha(), trials);
  ASSERT_EQ(after.kind, AshaDecision::kFinish);
  std::vector<int64_t> stopped;
  for (const AshaStop& s : after.stops) stopped.push_back(s.job_id);
  EXPECT_EQ(stopped, (std::vector<int64_t>{5, 6, 7}));
}

TEST(AshaPromotionTest, PromotionIsPreferredToNewTrialsAndHigherRungsFirst) {
  std::vector<TrialState> trials = {Paused(1, {{0, 0.9}}), Paused(2, {{0, 0.5}}),
                                    Paused(3, {{0, 0.4}}), NotStarted(4)};
  AshaDecision d = Next(Asha(), trials);
  ASSERT_EQ(d.kind, AshaDecision::kPromote);
  EXPECT_EQ(d.job_id, 1);
  // Three jobs at rung 1 (one promotable) and six at rung 0 (two promotable):
  // rung 1 goes first.
  trials = {Paused(1, {{0, 0.9}, {1, 0.95}}), Paused(2, {{0, 0.8}, {1, 0.85}}),
            Paused(3, {{0, 0.7}, {1, 0.75}}), Paused(4, {{0, 0.6}}), Paused(5, {{0, 0.5}}),
            Paused(6, {{0, 0.4}}),           NotStarted(7)};
  // Rung 0: 1, 2 are top 2 but past it; rung 1: job 1 is top 1.
  d = Next(Asha(), trials);
  ASSERT_EQ(d.kind, AshaDecision::kPromote);
  EXPECT_EQ(d.job_id, 1);
  EXPECT_EQ(d.from_rung, 1);
  EXPECT_EQ(d.epochs, 9);
  Apply(trials, d);
  // Jobs 1 and 2 already left rung 0 and job 1 left rung 1: the next slot starts job 7.
  d = Next(Asha(), trials);
  ASSERT_EQ(d.kind, AshaDecision::kStartNew);
  EXPECT_EQ(d.job_id, 7);
}

TEST(AshaPromotionTest, MinimizeModePromotesTheLowest) {
  AshaPolicy policy = Asha(1, 9, 3, /*maximize=*/false);
  policy.metric = "loss";
  std::vector<TrialState> trials = {Paused(1, {{0, 2.0}}), Paused(2, {{0, 0.7}}),
                                    Paused(3, {{0, 1.1}}), Paused(4, {{0, 0.9}}),
                                    Paused(5, {{0, 3.0}}), Paused(6, {{0, 0.8}}),
                                    Paused(7, {{0, std::nan("")}})};
  std::vector<int64_t> order;
  for (AshaDecision d = Next(policy, trials); d.kind == AshaDecision::kPromote;
       d = Next(policy, trials)) {
    order.push_back(d.job_id);
    Apply(trials, d);
  }
  EXPECT_EQ(order, (std::vector<int64_t>{2, 6}));  // top 2 of 7; NaN ranks last
  // Both get stopped later at rung 1; the rest of rung 0 is stopped at the end.
  for (int64_t id : order) Find(trials, id).phase = TrialState::kStopped;
  AshaDecision end = Next(policy, trials);
  ASSERT_EQ(end.kind, AshaDecision::kFinish);
  EXPECT_EQ(end.stops[0].reason,
            "stopped at rung 0 (epoch 1): loss 2, below the rung's top third (0.8, 7 jobs seen)");
}

TEST(AshaPromotionTest, InconsistentTrialsAreRejected) {
  EXPECT_EQ(NextForFreeSlot(Asha(), {Paused(1, {{0, 0.5}}), Paused(1, {{0, 0.4}})})
                .status()
                .message(),
            "job 1: listed twice");
  EXPECT_EQ(NextForFreeSlot(Asha(), {Paused(1, {})}).status().message(),
            "job 1: paused at rung -1 without a value there");
  EXPECT_EQ(NextForFreeSlot(Asha(), {Paused(1, {{3, 0.5}})}).status().message(),
            "job 1: rung 3 is out of range for a paused job (top rung 3)");
  EXPECT_TRUE(NextForFreeSlot(Asha(), {With(Paused(1, {{3, 0.5}}), TrialState::kDone)}).ok());
  // Nothing at all: the sweep is trivially finished.
  AshaDecision empty = Next(Asha(), {});
  EXPECT_EQ(empty.kind, AshaDecision::kFinish);
  EXPECT_TRUE(empty.stops.empty());
}

// A whole sweep on a fake clock: `slots` workers, each rung takes its
// epochs (minus those already trained) in time units, events in time then id
// order. Checks ASHA's invariants rather than one schedule.
TEST(AshaPromotionTest, FakeClockSweepKeepsTheInvariants) {
  for (int slots : {1, 2, 5}) {
    const AshaPolicy policy = Asha(1, 27, 3);
    const std::vector<int> rungs = RungEpochs(policy);
    std::vector<TrialState> trials;
    for (int64_t id = 1; id <= 27; ++id) trials.push_back(NotStarted(id));
    // Synthetic learning curves: job j converges to (j * 11 % 27) / 27.
    auto curve = [](int64_t id, int epoch) {
      return (id * 11 % 27) / 27.0 * (1 - std::pow(0.7, epoch));
    };
    using Event = std::tuple<int64_t, int64_t, int>;  // time, job, rung
    std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events;
    int64_t now = 0;
    int free_slots = slots;
    std::map<int64_t, int> starts, promotions;
    std::vector<AshaDecision> decisions;
    bool finished = false;
    while (!finished) {
      while (free_slots > 0) {
        AshaDecision d = Next(policy, trials);
        decisions.push_back(d);
        if (d.kind == AshaDecision::kNothing) break;
        if (d.kind == AshaDecision::kFinish) {
          for (const AshaStop& s : d.stops) Find(trials, s.job_id).phase = TrialState::kStopped;
          finished = true;
          break;
        }
        const int trained = d.kind == AshaDecision::kPromote ? rungs[d.from_rung] : 0;
        if (d.kind == AshaDecision::kStartNew) ++starts[d.job_id];
        if (d.kind == AshaDecision::kPromote) ++promotions[d.job_id];
        Apply(trials, d);
        events.push({now + d.epochs - trained, d.job_id, d.to_rung});
        --free_slots;
      }
      if (finished) break;
      ASSERT_FALSE(events.empty()) << "stalled with " << slots << " slots";
      auto [time, id, rung] = events.top();
      events.pop();
      now = time;
      FinishRung(policy, trials, id, rung, curve(id, rungs[rung]));
      ++free_slots;
    }
    EXPECT_TRUE(events.empty());
    EXPECT_EQ(starts.size(), 27u);
    for (const auto& [id, n] : starts) EXPECT_EQ(n, 1) << "job " << id;
    int done = 0;
    for (const TrialState& t : trials) {
      EXPECT_TRUE(t.phase == TrialState::kDone || t.phase == TrialState::kStopped);
      if (t.phase == TrialState::kDone) ++done;
      EXPECT_EQ(promotions[t.job_id], t.rung) << "job " << t.job_id;  // one per rung climbed
    }
    EXPECT_GE(done, 1) << slots << " slots";
    // Every rung is narrower than the one below. (Not floor(n_k / 3): ASHA may
    // promote a job that later results push out of the top third.)
    for (int k = 0; k + 1 < int(rungs.size()); ++k) {
      int at_k = 0, at_next = 0;
      for (const TrialState& t : trials) {
        at_k += t.value_at_rung.contains(k);
        at_next += t.value_at_rung.contains(k + 1);
      }
      EXPECT_LT(at_next, at_k) << "rung " << k << ", " << slots << " slots";
    }
  }
}

// ------------------------------------------------------------- median --

MedianPolicy Median(int warmup = 2, bool maximize = true) {
  return MedianPolicy{maximize ? "accuracy" : "loss", maximize, warmup};
}

MedianDecision Stop(const MedianPolicy& p, const Curve& curve, const std::vector<Curve>& others) {
  absl::StatusOr<MedianDecision> d = ShouldStop(p, curve, others);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : MedianDecision{};
}

TEST(MedianStoppingTest, StopsBelowTheMedianWithItsNumbers) {
  std::vector<Curve> others;
  const double at4[] = {0.3, 0.5, 0.52, 0.55, 0.6, 0.62, 0.7};
  for (double v : at4) others.push_back({{1, 0.1}, {2, 0.2}, {3, 0.25}, {4, v}});
  others.push_back({{1, 0.1}, {2, 0.2}});  // has not reached epoch 4: not counted
  MedianDecision d = Stop(Median(), {{1, 0.1}, {2, 0.3}, {3, 0.35}, {4, 0.41}}, others);
  EXPECT_TRUE(d.stop);
  EXPECT_EQ(d.epoch, 4);
  EXPECT_DOUBLE_EQ(d.best, 0.41);
  EXPECT_DOUBLE_EQ(d.median, 0.55);
  EXPECT_EQ(d.others_seen, 7);
  EXPECT_EQ(d.reason,
            "stopped at epoch 4: best accuracy 0.41, below the median 0.55 of 7 other jobs at "
            "epoch 4");
  // Above it, the job continues, with the same numbers.
  MedianDecision ok = Stop(Median(), {{1, 0.1}, {4, 0.6}}, others);
  EXPECT_FALSE(ok.stop);
  EXPECT_EQ(ok.reason,
            "continues at epoch 4: best accuracy 0.6, not below the median 0.55 of 7 other jobs "
            "at epoch 4");
}

TEST(MedianStoppingTest, NoDecisionDuringWarmupOrAlone) {
  const std::vector<Curve> others = {{{1, 0.9}, {2, 0.9}, {3, 0.9}}};
  MedianDecision warm = Stop(Median(3), {{1, 0.1}, {2, 0.1}}, others);
  EXPECT_FALSE(warm.stop);
  EXPECT_FALSE(warm.has_median);
  EXPECT_EQ(warm.reason, "continues at epoch 2: within the warmup of 3 epochs");
  // At the warmup epoch itself the rule applies.
  EXPECT_TRUE(Stop(Median(3), {{1, 0.1}, {2, 0.1}, {3, 0.1}}, others).stop);
  MedianDecision alone = Stop(Median(0), {{1, 0.1}, {2, 0.1}, {3, 0.1}, {4, 0.1}}, others);
  EXPECT_FALSE(alone.stop);
  EXPECT_EQ(alone.others_seen, 0);
  EXPECT_EQ(alone.reason, "continues at epoch 4: no other job has reached it");
  EXPECT_FALSE(Stop(Median(0), {{1, 0.1}}, {}).stop);
}

TEST(MedianStoppingTest, SingleOtherJobIsTheMedian) {
  MedianDecision d = Stop(Median(1), {{1, 0.2}, {2, 0.3}}, {{{1, 0.5}, {2, 0.31}}});
  EXPECT_TRUE(d.stop);
  EXPECT_EQ(d.reason,
            "stopped at epoch 2: best accuracy 0.3, below the median 0.31 of 1 other job at "
            "epoch 2");
}

TEST(MedianStoppingTest, TiesAndEvenCounts) {
  // Equal to the median: not worse, so it continues.
  EXPECT_FALSE(Stop(Median(1), {{2, 0.5}}, {{{2, 0.4}}, {{2, 0.5}}, {{2, 0.6}}}).stop);
  // Even count: the mean of the two middle values (0.45), here just above the job.
  MedianDecision even = Stop(Median(1), {{2, 0.44}}, {{{2, 0.4}}, {{2, 0.5}}, {{2, 0.1}},
                                                      {{2, 0.9}}});
  EXPECT_TRUE(even.stop);
  EXPECT_DOUBLE_EQ(even.median, 0.45);
  // NaN reports of others are left out of the median.
  MedianDecision nan = Stop(Median(1), {{2, 0.44}}, {{{2, 0.5}}, {{2, std::nan("")}}});
  EXPECT_EQ(nan.others_seen, 1);
  EXPECT_TRUE(nan.stop);
}

TEST(MedianStoppingTest, BestSoFarCountsAnEarlierEpoch) {
  // The job peaked at epoch 2 (0.7) and dropped to 0.4: its best, 0.7, is
  // above the others' median 0.6 at epoch 4, so it continues.
  const std::vector<Curve> others = {{{4, 0.5}}, {{4, 0.6}}, {{4, 0.65}}};
  MedianDecision d = Stop(Median(1), {{1, 0.3}, {2, 0.7}, {3, 0.5}, {4, 0.4}}, others);
  EXPECT_FALSE(d.stop);
  EXPECT_DOUBLE_EQ(d.best, 0.7);
}

TEST(MedianStoppingTest, MinimizeMode) {
  const std::vector<Curve> others = {{{3, 1.0}}, {{3, 1.2}}, {{3, 0.8}}};
  // Loss 1.3 at epoch 3, best 1.1 at epoch 2: above the median 1.0, stop.
  MedianDecision d = Stop(Median(1, false), {{1, 2.0}, {2, 1.1}, {3, 1.3}}, others);
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.best, 1.1);
  EXPECT_EQ(d.reason,
            "stopped at epoch 3: best loss 1.1, above the median 1 of 3 other jobs at epoch 3");
  MedianDecision keep = Stop(Median(1, false), {{1, 2.0}, {2, 0.9}, {3, 1.3}}, others);
  EXPECT_FALSE(keep.stop);
  EXPECT_EQ(keep.reason,
            "continues at epoch 3: best loss 0.9, not above the median 1 of 3 other jobs at "
            "epoch 3");
}

TEST(MedianStoppingTest, BadInputs) {
  EXPECT_EQ(ShouldStop(Median(), {}, {}).status().message(), "median: the job's curve is empty");
  EXPECT_EQ(ShouldStop(MedianPolicy{"", true, 0}, {{1, 0.5}}, {}).status().message(),
            "median: metric must not be empty");
  EXPECT_EQ(ShouldStop(MedianPolicy{"accuracy", true, -1}, {{1, 0.5}}, {}).status().message(),
            "median: warmup_epochs must be 0 to 100000, got -1");
}

}  // namespace
}  // namespace switchyard::server
