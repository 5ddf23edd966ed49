#include "server/core/early_stopping.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace switchyard::server {
namespace {

// Four significant digits: enough to tell 0.9981 from 0.9978, short enough
// for `why`.
std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string TopFraction(int reduction) {
  switch (reduction) {
    case 2: return "top half";
    case 3: return "top third";
    case 4: return "top quarter";
    default: return absl::StrCat("top 1/", reduction);
  }
}

// True when `a` is strictly better than `b` under the mode; NaN is worst.
bool Better(double a, double b, bool maximize) {
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return maximize ? a > b : a < b;
}

struct Ranked {
  int64_t job_id;
  double value;
  const TrialState* trial;
};

// The jobs that finished rung k, best first, ties to the lower job id.
std::vector<Ranked> RankRung(const std::vector<TrialState>& trials, int k, bool maximize) {
  std::vector<Ranked> out;
  for (const TrialState& t : trials) {
    auto it = t.value_at_rung.find(k);
    if (it != t.value_at_rung.end()) out.push_back({t.job_id, it->second, &t});
  }
  std::sort(out.begin(), out.end(), [maximize](const Ranked& a, const Ranked& b) {
    if (Better(a.value, b.value, maximize)) return true;
    if (Better(b.value, a.value, maximize)) return false;
    return a.job_id < b.job_id;
  });
  return out;
}

std::string RungLabel(int rung, int epoch) {
  return absl::StrCat("rung ", rung, " (epoch ", epoch, ")");
}

}  // namespace

std::vector<int> RungEpochs(const AshaPolicy& p) {
  std::vector<int> out;
  if (!ValidateAsha(p).ok()) return out;
  // int64 so min_epochs * reduction^k cannot overflow before it passes max.
  for (int64_t e = p.min_epochs; e < p.max_epochs; e *= p.reduction) out.push_back(int(e));
  out.push_back(p.max_epochs);
  return out;
}

const char* PhaseName(TrialState::Phase phase) {
  switch (phase) {
    case TrialState::kNotStarted: return "not_started";
    case TrialState::kRunning: return "running";
    case TrialState::kPaused: return "paused";
    case TrialState::kFailed: return "failed";
    case TrialState::kLost: return "lost";
    case TrialState::kStopped: return "stopped";
    case TrialState::kDone: return "done";
  }
  return "unknown";
}

const char* AshaDecisionKindName(AshaDecision::Kind kind) {
  switch (kind) {
    case AshaDecision::kPromote: return "promote";
    case AshaDecision::kStartNew: return "start_new";
    case AshaDecision::kNothing: return "nothing";
    case AshaDecision::kFinish: return "finish";
  }
  return "unknown";
}

absl::StatusOr<AshaDecision> NextForFreeSlot(const AshaPolicy& p,
                                             const std::vector<TrialState>& trials) {
  if (absl::Status s = ValidateAsha(p); !s.ok()) return s;
  const std::vector<int> rungs = RungEpochs(p);
  const int top = int(rungs.size()) - 1;
  std::set<int64_t> ids;
  for (const TrialState& t : trials) {
    if (!ids.insert(t.job_id).second) {
      return absl::InvalidArgumentError(absl::StrCat("job ", t.job_id, ": listed twice"));
    }
    if (t.rung < -1 || t.rung >= top + (t.phase == TrialState::kDone ? 1 : 0)) {
      return absl::InvalidArgumentError(absl::StrCat("job ", t.job_id, ": rung ", t.rung,
                                                     " is out of range for a ",
                                                     PhaseName(t.phase), " job (top rung ",
                                                     top, ")"));
    }
    if (t.phase == TrialState::kPaused &&
        (t.rung < 0 || !t.value_at_rung.contains(t.rung))) {
      return absl::InvalidArgumentError(
          absl::StrCat("job ", t.job_id, ": paused at rung ", t.rung, " without a value there"));
    }
  }

  // Promotion, from the rung below the top down to rung 0.
  for (int k = top - 1; k >= 0; --k) {
    std::vector<Ranked> ranked = RankRung(trials, k, p.maximize);
    const int n = int(ranked.size());
    const int top_count = n / p.reduction;
    for (int i = 0; i < top_count; ++i) {
      const TrialState& t = *ranked[i].trial;
      if (t.phase != TrialState::kPaused || t.rung != k) continue;
      AshaDecision d;
      d.kind = AshaDecision::kPromote;
      d.job_id = t.job_id;
      d.from_rung = k;
      d.to_rung = k + 1;
      d.epochs = rungs[k + 1];
      d.value = ranked[i].value;
      d.rank = i + 1;
      d.top_count = top_count;
      d.jobs_seen = n;
      d.reason = absl::StrCat("promoted from ", RungLabel(k, rungs[k]), " to ",
                              RungLabel(k + 1, rungs[k + 1]), ": ", p.metric, " ",
                              Num(d.value), ", rank ", d.rank, " of ", n,
                              " jobs seen, within the rung's ", TopFraction(p.reduction), " (",
                              top_count, ")");
      return d;
    }
  }

  // A new trial at the lowest rung: the not-started job with the lowest id.
  const TrialState* next = nullptr;
  int running = 0;
  for (const TrialState& t : trials) {
    if (t.phase == TrialState::kRunning) ++running;
    if (t.phase == TrialState::kNotStarted && (next == nullptr || t.job_id < next->job_id)) {
      next = &t;
    }
  }
  if (next != nullptr) {
    AshaDecision d;
    d.kind = AshaDecision::kStartNew;
    d.job_id = next->job_id;
    d.to_rung = 0;
    d.epochs = rungs[0];
    d.reason = absl::StrCat("started at ", RungLabel(0, rungs[0]),
                            ": no paused job is in its rung's ", TopFraction(p.reduction));
    return d;
  }
  if (running > 0) {
    AshaDecision d;
    d.kind = AshaDecision::kNothing;
    d.reason = absl::StrCat("waiting: every trial has started, none can be promoted yet, ",
                            running, " still running");
    return d;
  }

  // The sweep ends: nothing runs, nothing waits to start, nothing is
  // promotable. Stop the paused jobs, each with its rung's numbers.
  AshaDecision d;
  d.kind = AshaDecision::kFinish;
  std::vector<const TrialState*> paused;
  for (const TrialState& t : trials) {
    if (t.phase == TrialState::kPaused) paused.push_back(&t);
  }
  std::sort(paused.begin(), paused.end(),
            [](const TrialState* a, const TrialState* b) { return a->job_id < b->job_id; });
  for (const TrialState* t : paused) {
    std::vector<Ranked> ranked = RankRung(trials, t->rung, p.maximize);
    const int n = int(ranked.size());
    const int top_count = n / p.reduction;
    AshaStop s;
    s.job_id = t->job_id;
    s.rung = t->rung;
    s.epoch = rungs[t->rung];
    s.value = t->value_at_rung.at(t->rung);
    s.jobs_seen = n;
    s.reason = absl::StrCat("stopped at ", RungLabel(s.rung, s.epoch), ": ", p.metric, " ",
                            Num(s.value), ", below the rung's ", TopFraction(p.reduction));
    if (top_count > 0) {
      s.has_threshold = true;
      s.threshold = ranked[top_count - 1].value;
      absl::StrAppend(&s.reason, " (", Num(s.threshold), ", ", n, " jobs seen)");
    } else {
      absl::StrAppend(&s.reason, " (none: ", n, " jobs seen, fewer than ", p.reduction, ")");
    }
    d.stops.push_back(std::move(s));
  }
  d.reason = absl::StrCat("sweep finished: every trial started and none can be promoted; ",
                          d.stops.size(), " paused jobs stopped");
  return d;
}

absl::StatusOr<AshaAfterRung> AfterRung(const AshaPolicy& p, int64_t job_id, int rung,
                                        double value) {
  if (absl::Status s = ValidateAsha(p); !s.ok()) return s;
  const std::vector<int> rungs = RungEpochs(p);
  const int top = int(rungs.size()) - 1;
  if (rung < 0 || rung > top) {
    return absl::InvalidArgumentError(
        absl::StrCat("job ", job_id, ": rung ", rung, " is outside [0, ", top, "]"));
  }
  AshaAfterRung r;
  r.done = rung == top;
  r.job_id = job_id;
  r.rung = rung;
  r.epoch = rungs[rung];
  r.value = value;
  r.reason = absl::StrCat(r.done ? "done at " : "paused at ", RungLabel(rung, r.epoch), ": ",
                          p.metric, " ", Num(value),
                          r.done ? ", the top rung" : "; waits for promotion");
  return r;
}

absl::StatusOr<MedianDecision> ShouldStop(const MedianPolicy& p, const Curve& curve,
                                          const std::vector<Curve>& others) {
  if (absl::Status s = ValidateMedian(p); !s.ok()) return s;
  if (curve.empty()) return absl::InvalidArgumentError("median: the job's curve is empty");
  MedianDecision d;
  d.epoch = curve.rbegin()->first;
  d.best = curve.begin()->second;
  for (const auto& [epoch, value] : curve) {
    if (Better(value, d.best, p.maximize)) d.best = value;
  }
  if (d.epoch < p.warmup_epochs) {
    d.reason = absl::StrCat("continues at epoch ", d.epoch, ": within the warmup of ",
                            p.warmup_epochs, " epochs");
    return d;
  }
  std::vector<double> values;
  for (const Curve& other : others) {
    auto it = other.find(d.epoch);
    // A NaN report says nothing about the median.
    if (it != other.end() && !std::isnan(it->second)) values.push_back(it->second);
  }
  d.others_seen = int(values.size());
  if (values.empty()) {
    d.reason = absl::StrCat("continues at epoch ", d.epoch, ": no other job has reached it");
    return d;
  }
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  d.has_median = true;
  d.median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  d.stop = Better(d.median, d.best, p.maximize);
  const std::string jobs = absl::StrCat(n, " other job", n == 1 ? "" : "s");
  d.reason = absl::StrCat(d.stop ? "stopped" : "continues", " at epoch ", d.epoch, ": best ",
                          p.metric, " ", Num(d.best), ", ",
                          d.stop ? (p.maximize ? "below" : "above")
                                 : (p.maximize ? "not below" : "not above"),
                          " the median ", Num(d.median), " of ", jobs, " at epoch ", d.epoch);
  return d;
}

}  // namespace switchyard::server
