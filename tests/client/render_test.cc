// Tables, number and time formats, statistics and the watch view.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "client/render/format.h"
#include "client/render/progress.h"
#include "client/render/stats.h"
#include "client/render/table.h"

namespace switchyard::client {
namespace {

Table Sample() {
  Table table({{"model"}, {"n"}, {"mean", 3}, {"note", 4, 8}});
  table.AddRow({std::string("lstm"), int64_t{2}, 0.5, std::string("a, \"quoted\"")});
  table.AddRow({std::string("cisformer"), int64_t{10}, 0.12345, Cell{}});
  return table;
}

TEST(Table, AlignedText) {
  EXPECT_EQ(Sample().Render(OutputFormat::kTable),
            "model       n   mean  note\n"
            "lstm        2  0.500  a, \"q...\n"
            "cisformer  10  0.123  -\n");
}

TEST(Table, Json) {
  EXPECT_EQ(Sample().Render(OutputFormat::kJson),
            "[\n"
            "  {\n"
            "    \"model\": \"lstm\",\n"
            "    \"n\": 2,\n"
            "    \"mean\": 0.5,\n"
            "    \"note\": \"a, \\\"quoted\\\"\"\n"
            "  },\n"
            "  {\n"
            "    \"model\": \"cisformer\",\n"
            "    \"n\": 10,\n"
            "    \"mean\": 0.12345,\n"
            "    \"note\": null\n"
            "  }\n"
            "]\n");
  EXPECT_EQ(Table({{"a"}}).Render(OutputFormat::kJson), "[]\n");
}

TEST(Table, CsvKeepsFullPrecisionAndQuotes) {
  EXPECT_EQ(Sample().Render(OutputFormat::kCsv),
            "model,n,mean,note\n"
            "lstm,2,0.5,\"a, \"\"quoted\"\"\"\n"
            "cisformer,10,0.12345,\n");
}

TEST(Table, NanIsEmpty) {
  Table table({{"std"}});
  table.AddRow({std::nan("")});
  EXPECT_EQ(table.Render(OutputFormat::kTable), "std\n  -\n");
  EXPECT_EQ(table.Render(OutputFormat::kCsv), "std\n\n");
  EXPECT_EQ(table.Render(OutputFormat::kJson), "[\n  {\n    \"std\": null\n  }\n]\n");
}

TEST(Table, ParseOutputFormat) {
  EXPECT_EQ(*ParseOutputFormat("csv"), OutputFormat::kCsv);
  EXPECT_EQ(std::string(ParseOutputFormat("xml").status().message()),
            "--output: unknown format 'xml'; expected table, json or csv");
}

TEST(Format, ShortestDoubleReadsBack) {
  EXPECT_EQ(ShortestDouble(0.1), "0.1");
  EXPECT_EQ(ShortestDouble(2), "2");
  EXPECT_EQ(ShortestDouble(10), "10");  // not %.1g's "1e+01"
  EXPECT_EQ(ShortestDouble(400), "400");
  EXPECT_EQ(ShortestDouble(1e-5), "1e-05");
  for (double v : {0.1 + 0.2, 1.0 / 3, 123456.789, -2.5e-300}) {
    EXPECT_EQ(std::strtod(ShortestDouble(v).c_str(), nullptr), v);
  }
}

TEST(Format, Durations) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(42.4), "42s");
  EXPECT_EQ(FormatDuration(185), "3m05s");
  EXPECT_EQ(FormatDuration(2 * 3600 + 7 * 60), "2h07m");
  EXPECT_EQ(FormatDuration(3 * 86400 + 4 * 3600), "3d04h");
  EXPECT_EQ(FormatDuration(-1), "-");
  EXPECT_EQ(FormatTime(0), "-");
  EXPECT_EQ(FormatTime(1700000000), "2023-11-14 22:13:20");
  EXPECT_EQ(FirstLine("\n  boom: out of memory\nmore\n", 80), "boom: out of memory ...");
  EXPECT_EQ(FirstLine("abcdefghij", 6), "abc...");
}

TEST(Stats, SummarizeUsesTheSampleStandardDeviation) {
  Summary s = Summarize({1, 2, 3, 4});
  EXPECT_EQ(s.n, 4);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(5.0 / 3.0));
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 4);
  Summary one = Summarize({0.7});
  EXPECT_DOUBLE_EQ(one.mean, 0.7);
  EXPECT_TRUE(std::isnan(one.stddev));
  EXPECT_TRUE(std::isnan(Summarize({}).mean));
  // Close values: the two-pass formula stays exact.
  Summary close = Summarize({1e9 + 1, 1e9 + 2, 1e9 + 3});
  EXPECT_DOUBLE_EQ(close.stddev, 1.0);
}

JobData Job(int64_t id, int64_t cell, const std::string& model, const std::string& attention,
            const std::string& tasks, int seed, const std::string& state, double accuracy) {
  JobData job;
  job.id = id;
  job.cell_index = cell;
  job.state = state;
  job.config = {
      {"model", model}, {"attention", attention}, {"tasks", tasks}, {"seed", std::to_string(seed)}};
  job.final_metrics = {{"accuracy", accuracy}, {"loss", 1 - accuracy}};
  return job;
}

std::vector<JobData> Jobs() {
  return {
      Job(11, 0, "mlp", "none", "IARC", 1, "succeeded", 0.4),
      Job(12, 1, "mlp", "none", "IARC", 2, "succeeded", 0.6),
      Job(13, 2, "cisformer", "expressive", "IARC", 1, "succeeded", 0.9),
      Job(14, 3, "cisformer", "expressive", "IARC", 2, "failed", 0.1),  // left out
      Job(15, 4, "mlp", "none", "IA", 1, "succeeded", 0.8),
  };
}

TEST(Stats, GroupFinalMetricsInFileOrder) {
  std::vector<GroupResult> groups =
      GroupFinalMetrics(Jobs(), "accuracy", {"model", "attention", "tasks"});
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].key, (std::vector<std::string>{"mlp", "none", "IARC"}));
  EXPECT_DOUBLE_EQ(groups[0].summary.mean, 0.5);
  EXPECT_EQ(groups[0].summary.n, 2);
  EXPECT_EQ(groups[0].job_ids, (std::vector<int64_t>{11, 12}));
  EXPECT_EQ(groups[1].key, (std::vector<std::string>{"cisformer", "expressive", "IARC"}));
  EXPECT_EQ(groups[1].summary.n, 1);  // the failed seed is not a result
  EXPECT_EQ(groups[2].key, (std::vector<std::string>{"mlp", "none", "IA"}));

  std::vector<GroupResult> by_model = GroupFinalMetrics(Jobs(), "accuracy", {"model"});
  ASSERT_EQ(by_model.size(), 2u);
  EXPECT_EQ(by_model[0].summary.n, 3);
  EXPECT_DOUBLE_EQ(by_model[0].summary.mean, (0.4 + 0.6 + 0.8) / 3);
  EXPECT_TRUE(GroupFinalMetrics(Jobs(), "nope", {"model"}).empty());
}

// Stopped and paused jobs (cut short by early stopping) count only when the
// filter asks for them; failed ones never do.
TEST(Stats, StoppedAndPausedJobsCountOnlyWhenIncluded) {
  std::vector<JobData> jobs = Jobs();
  jobs.push_back(Job(16, 5, "mlp", "none", "IARC", 3, "stopped", 0.2));
  jobs.push_back(Job(17, 6, "mlp", "none", "IARC", 4, "paused", 0.1));
  std::vector<GroupResult> groups = GroupFinalMetrics(jobs, "accuracy", {"model", "tasks"});
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].job_ids, (std::vector<int64_t>{11, 12}));
  groups = GroupFinalMetrics(jobs, "accuracy", {"model", "tasks"}, ResultFilter{true});
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].job_ids, (std::vector<int64_t>{11, 12, 16, 17}));
  EXPECT_DOUBLE_EQ(groups[0].summary.mean, (0.4 + 0.6 + 0.2 + 0.1) / 4);
  EXPECT_EQ(groups[1].summary.n, 1);  // the failed seed still is not a result

  std::map<int64_t, Series> series = {{11, {{1, 0.2}}}, {16, {{1, 0.1}}}, {14, {{1, 0.1}}}};
  EXPECT_EQ(GroupCurves(jobs, series, {"model"}).at(0).job_ids, std::vector<int64_t>{11});
  std::vector<Curve> curves = GroupCurves(jobs, series, {"model"}, ResultFilter{true});
  ASSERT_EQ(curves.size(), 1u);  // cisformer's only series is the failed job's
  EXPECT_EQ(curves[0].job_ids, (std::vector<int64_t>{11, 16}));

  const ResultFilter plain, with_stopped{true};
  for (const char* state : {"pending", "running", "failed", "lost", "cancelled"}) {
    JobData job = Job(1, 0, "mlp", "none", "IARC", 1, state, 0.5);
    EXPECT_FALSE(plain.Includes(job)) << state;
    EXPECT_FALSE(with_stopped.Includes(job)) << state;
  }
}

TEST(Stats, GroupCurvesAveragesAtEachX) {
  std::map<int64_t, Series> series = {
      {11, {{1, 0.2}, {2, 0.4}}},
      {12, {{2, 0.6}, {1, 0.4}}},
      {13, {{1, 0.5}, {2, 0.9}, {3, 0.95}}},
      {14, {{1, 0.1}}},  // failed: not drawn
  };
  std::vector<Curve> curves = GroupCurves(Jobs(), series, {"model", "attention"});
  ASSERT_EQ(curves.size(), 2u);
  EXPECT_EQ(curves[0].key, (std::vector<std::string>{"mlp", "none"}));
  ASSERT_EQ(curves[0].points.size(), 2u);
  EXPECT_EQ(curves[0].points[0].x, 1);
  EXPECT_DOUBLE_EQ(curves[0].points[0].y.mean, 0.3);
  EXPECT_EQ(curves[0].points[0].y.n, 2);
  EXPECT_DOUBLE_EQ(curves[0].points[1].y.mean, 0.5);
  EXPECT_EQ(curves[1].points.size(), 3u);
  EXPECT_EQ(curves[1].points[2].y.n, 1);
  EXPECT_EQ(curves[1].job_ids, std::vector<int64_t>{13});
}

// Every job in one group, on grids that differ (some x's in some jobs only),
// in any order, with x's given twice and NaN x's: the values at each x are
// summarised in job order, then series order, exactly as a map from x to
// the list of values would gather them.
TEST(Stats, GroupCurvesMatchesAMapOfValuesOnRaggedGrids) {
  std::vector<JobData> jobs;
  std::map<int64_t, Series> series;
  std::map<double, std::vector<double>> want;
  uint64_t state = 12345;
  const auto next = [&state](uint64_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % bound;
  };
  for (int64_t id = 1; id <= 40; ++id) {
    jobs.push_back(Job(id, static_cast<int>(id), "mlp", "none", "IARC", 1, "succeeded", 0));
    Series& s = series[id];
    const uint64_t kind = next(4);
    for (int step = 0; step < 60; ++step) {
      if (kind == 1 && next(3) == 0) continue;  // a gap
      s.emplace_back(kind == 2 ? step * 0.5 : step, static_cast<double>(next(1000)) / 7);
    }
    if (kind == 3) {
      std::reverse(s.begin(), s.end());
      s.emplace_back(5, 0.25);  // a second value at x = 5
      s.emplace_back(std::nan(""), 1);
    }
  }
  for (auto& [id, s] : series) {
    Series sorted;
    for (const auto& p : s) if (!std::isnan(p.first)) sorted.push_back(p);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [x, v] : sorted) want[x].push_back(v);
  }
  std::vector<Curve> curves = GroupCurves(jobs, series, {"model"});
  ASSERT_EQ(curves.size(), 1u);
  ASSERT_EQ(curves[0].points.size(), want.size());
  size_t i = 0;
  for (const auto& [x, values] : want) {
    const Summary expected = Summarize(values);
    const CurvePoint& got = curves[0].points[i++];
    EXPECT_EQ(got.x, x);
    EXPECT_EQ(got.y.n, expected.n) << "x " << x;
    EXPECT_EQ(got.y.mean, expected.mean) << "x " << x;  // the same sums, bit for bit
    EXPECT_EQ(got.y.min, expected.min);
    EXPECT_EQ(got.y.max, expected.max);
    if (expected.n > 1) EXPECT_EQ(got.y.stddev, expected.stddev);
  }
}

SweepSnapshot Snapshot() {
  SweepSnapshot s;
  s.id = 3;
  s.name = "quick";
  s.counts = JobCounts{5, 2, 4, 1, 0, 0};
  s.created_at = 1000;
  return s;
}

TEST(Progress, LineAndEta) {
  ProgressView view;
  view.SetSnapshot(Snapshot());
  // 5 of 12 ended in 100 s: 7 left at 0.05 jobs/s = 140 s.
  EXPECT_DOUBLE_EQ(view.Elapsed(1100), 100);
  EXPECT_DOUBLE_EQ(view.Eta(1100), 140);
  EXPECT_EQ(view.Line(1100),
            "sweep 3: 5/12 ended (41.7%) | done 4 running 2 pending 5 failed 1 lost 0 | "
            "elapsed 1m40s eta 2m20s");
  SweepSnapshot fresh = Snapshot();
  fresh.counts = JobCounts{12, 0, 0, 0, 0, 0};
  view.SetSnapshot(fresh);
  EXPECT_LT(view.Eta(1100), 0);
  EXPECT_NE(view.Line(1100).find("eta -"), std::string::npos);
}

// Early stopping: paused jobs are left (they may still be promoted), stopped
// ones have ended; both are counted, in the line and in the frame.
TEST(Progress, PausedAndStoppedJobsAreCounted) {
  ProgressView view;
  SweepSnapshot s = Snapshot();
  // pending 1, running 2, succeeded 3, failed 0, lost 0, cancelled 0,
  // paused 4, stopped 6: 16 jobs, 9 ended, 7 left.
  s.counts = JobCounts{1, 2, 3, 0, 0, 0, 4, 6};
  view.SetSnapshot(s);
  EXPECT_EQ(s.counts.total(), 16);
  EXPECT_EQ(s.counts.ended(), 9);
  EXPECT_FALSE(s.counts.Settled());
  // 9 ended in 100 s: 7 left at 0.09 jobs/s.
  EXPECT_DOUBLE_EQ(view.Eta(1100), 7 / 0.09);
  EXPECT_EQ(view.Line(1100),
            "sweep 3: 9/16 ended (56.2%) | done 3 running 2 pending 1 failed 0 lost 0 paused 4 "
            "stopped 6 | elapsed 1m40s eta 1m18s");
  std::vector<std::string> frame = view.Frame(1100, 100);
  ASSERT_GE(frame.size(), 3u);
  EXPECT_EQ(frame[2], "done 3  running 2  pending 1  failed 0  lost 0  paused 4  stopped 6");
  // Only paused jobs left: not settled, and the ETA still counts them.
  s.counts = JobCounts{0, 0, 3, 0, 0, 0, 4, 6};
  view.SetSnapshot(s);
  EXPECT_FALSE(s.counts.Settled());
  EXPECT_GT(view.Eta(1100), 0);
  s.counts = JobCounts{0, 0, 3, 0, 0, 0, 0, 10};
  EXPECT_TRUE(s.counts.Settled());
  EXPECT_EQ(s.counts.ended(), s.counts.total());
}

TEST(Progress, BestSoFarPerModelAndAttention) {
  ProgressView view;
  view.SetSnapshot(Snapshot());
  std::vector<JobData> jobs = Jobs();
  EXPECT_TRUE(view.NoteJob(jobs[0]));   // mlp 0.4
  EXPECT_TRUE(view.NoteJob(jobs[1]));   // mlp 0.6 beats it
  EXPECT_FALSE(view.NoteJob(jobs[0]));  // 0.4 does not
  EXPECT_FALSE(view.NoteJob(jobs[3]));  // failed jobs do not count
  JobData running = jobs[2];
  running.state = "running";
  EXPECT_TRUE(view.NoteJob(running));  // a running job's latest value does
  std::vector<std::string> frame = view.Frame(1100, 80);
  ASSERT_EQ(frame.size(), 8u);
  EXPECT_EQ(frame[0], "sweep 3 'quick'  active");
  EXPECT_EQ(frame[1].substr(0, 1), "[");
  EXPECT_NE(frame[1].find("5/12 ended  41.7%"), std::string::npos);
  EXPECT_EQ(frame[2], "done 4  running 2  pending 5  failed 1  lost 0");
  EXPECT_EQ(frame[3], "elapsed 1m40s  eta 2m20s");
  EXPECT_EQ(frame[4], "best accuracy so far:");
  EXPECT_EQ(frame[5], "  model      attention   accuracy  job");
  EXPECT_EQ(frame[6], "  mlp        none        0.6000    12");
  EXPECT_EQ(frame[7], "  cisformer  expressive  0.9000    13");
  for (const std::string& line : view.Frame(1100, 20)) EXPECT_LE(line.size(), 20u);
}

TEST(Progress, JobEndedLine) {
  ProgressView view;
  std::vector<JobData> jobs = Jobs();
  EXPECT_EQ(view.JobEndedLine(jobs[2]),
            "job 13 succeeded: cisformer expressive IARC seed 1, accuracy 0.9000");
  jobs[3].last_cause = "trainer exited with status 1\nstack trace";
  EXPECT_EQ(view.JobEndedLine(jobs[3]),
            "job 14 failed: cisformer expressive IARC seed 2, accuracy 0.1000 (trainer exited "
            "with status 1 ...)");
}

TEST(Progress, PainterMovesBackOverThePreviousBlock) {
  InPlacePainter painter;
  EXPECT_EQ(painter.Repaint({"a", "b"}), "\x1b[Ja\nb\n");
  EXPECT_EQ(painter.Repaint({"c"}), "\x1b[2F\x1b[Jc\n");
  EXPECT_EQ(painter.Repaint({"d", "e", "f"}), "\x1b[1F\x1b[Jd\ne\nf\n");
}

}  // namespace
}  // namespace switchyard::client
