// results, export and figure: the commands that turn a sweep's metrics into
// tables, CSV files and SVG figures.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/commands/commands.h"
#include "client/render/stats.h"
#include "client/render/svg.h"
#include "common/config/job_config.h"

namespace switchyard::client {
namespace {

absl::StatusOr<int64_t> SweepArg(const Args& args) {
  std::string text = args.positionals()[0];
  if (absl::StartsWith(text, "sweep/")) text = text.substr(6);
  return ParseId("SWEEP", text);
}

absl::StatusOr<std::vector<JobData>> LoadJobs(CoordinatorClient* client, int64_t sweep_id) {
  absl::StatusOr<std::vector<pb::Job>> jobs = client->ListJobs(sweep_id, pb::JOB_STATE_UNSPECIFIED);
  if (!jobs.ok()) return jobs.status();
  std::vector<JobData> data;
  data.reserve(jobs->size());
  for (const pb::Job& job : *jobs) data.push_back(ToJobData(job));
  return data;
}

// The jobs a table or figure summarises, in words: "succeeded", or
// "succeeded, stopped or paused" with --include-stopped.
std::string Described(const ResultFilter& filter) {
  return filter.include_stopped ? "succeeded, stopped or paused" : "succeeded";
}

// "18 stopped and 3 paused jobs"; "" when both are 0.
std::string CutShortJobs(int64_t stopped, int64_t paused) {
  std::vector<std::string> parts;
  if (stopped > 0) parts.push_back(absl::StrCat(stopped, " stopped"));
  if (paused > 0) parts.push_back(absl::StrCat(paused, " paused"));
  if (parts.empty()) return "";
  return absl::StrCat(absl::StrJoin(parts, " and "), " job", stopped + paused == 1 ? "" : "s");
}

// Says on stderr which jobs a table or figure leaves out (the jobs of other
// states than succeeded; stopped and paused ones unless --include-stopped)
// and which cut-short jobs it takes in, and fails when the metric is nowhere
// to be found among the jobs it summarises.
absl::Status CheckMetric(const std::vector<JobData>& jobs, int64_t sweep_id,
                         const std::string& metric, const ResultFilter& filter, CommandEnv& env) {
  std::map<std::string, int64_t> left_out;  // by state, stopped and paused apart
  std::map<std::string, int64_t> cut_short_out, cut_short_in;  // "stopped", "paused"
  std::set<std::string> names;
  int64_t included = 0, with_metric = 0;
  for (const JobData& job : jobs) {
    const bool cut_short = job.state == "stopped" || job.state == "paused";
    if (!filter.Includes(job)) {
      ++(cut_short ? cut_short_out : left_out)[job.state];
      continue;
    }
    if (cut_short) ++cut_short_in[job.state];
    ++included;
    for (const auto& [name, value] : job.final_metrics) names.insert(name);
    if (job.final_metrics.count(metric)) ++with_metric;
  }
  if (included > 0 && with_metric == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metric: no ", Described(filter), " job of sweep ", sweep_id, " has a metric '", metric,
        "'; known: ", names.empty() ? std::string("none") : absl::StrJoin(names, ", ")));
  }
  if (!left_out.empty()) {
    std::vector<std::string> parts;
    int64_t total = 0;
    for (const auto& [state, count] : left_out) {
      parts.push_back(absl::StrCat(count, " ", state));
      total += count;
    }
    env.err() << "note: " << total << " of " << jobs.size() << " jobs left out, not succeeded ("
              << absl::StrJoin(parts, ", ") << ")\n";
  }
  if (std::string out = CutShortJobs(cut_short_out["stopped"], cut_short_out["paused"]);
      !out.empty()) {
    env.err() << "note: left out " << out << " (--include-stopped includes them)\n";
  }
  if (std::string in = CutShortJobs(cut_short_in["stopped"], cut_short_in["paused"]);
      !in.empty()) {
    env.err() << "note: included " << in
              << " at their last value, from fewer epochs than the succeeded ones\n";
  }
  if (included == 0) {
    env.err() << "note: no job of sweep " << sweep_id << " has "
              << (filter.include_stopped ? "succeeded or been stopped" : "succeeded") << " yet\n";
  }
  return absl::OkStatus();
}

// Keys other than seed whose values differ inside a group: the group then
// averages over more than seeds, which the user should hear about, with the
// flag (`split_with`) that splits such groups.
void NoteMixedKeys(const std::vector<JobData>& jobs, const std::vector<std::string>& group_by,
                   const ResultFilter& filter, CommandEnv& env,
                   const std::string& split_with = "--group-by") {
  std::map<std::vector<std::string>, std::map<std::string, std::string>> first;
  std::set<std::string> mixed;
  for (const JobData& job : jobs) {
    if (!filter.Includes(job)) continue;
    std::vector<std::string> key;
    for (const std::string& k : group_by) key.push_back(job.Config(k));
    auto [it, inserted] = first.emplace(key, job.config);
    if (inserted) continue;
    for (const auto& [name, value] : job.config) {
      if (name == "seed" || std::find(group_by.begin(), group_by.end(), name) != group_by.end()) {
        continue;
      }
      if (it->second[name] != value) mixed.insert(name);
    }
  }
  if (!mixed.empty()) {
    env.err() << "note: groups mix jobs with different " << absl::StrJoin(mixed, ", ")
              << "; add to " << split_with << " to split them\n";
  }
}

// ----------------------------------------------------------------- results

absl::Status RunResults(const Args& args, CommandEnv& env) {
  absl::StatusOr<int64_t> id = SweepArg(args);
  if (!id.ok()) return id.status();
  const std::string metric = args.Get("metric", "accuracy");
  absl::StatusOr<std::vector<std::string>> group_by =
      ParseGroupBy(args.Get("group-by", "model,attention,tasks"));
  if (!group_by.ok()) return group_by.status();
  absl::StatusOr<CoordinatorClient*> client = env.Client();
  if (!client.ok()) return client.status();
  absl::StatusOr<std::vector<JobData>> jobs = LoadJobs(*client, *id);
  if (!jobs.ok()) return jobs.status();
  const ResultFilter filter{args.Has("include-stopped")};
  if (absl::Status s = CheckMetric(*jobs, *id, metric, filter, env); !s.ok()) return s;
  NoteMixedKeys(*jobs, *group_by, filter, env);

  std::vector<Column> columns;
  for (const std::string& key : *group_by) columns.push_back({key});
  columns.push_back({"metric"});
  columns.push_back({"mean"});
  columns.push_back({"std"});
  columns.push_back({"n"});
  Table table(columns);
  for (const GroupResult& group : GroupFinalMetrics(*jobs, metric, *group_by, filter)) {
    std::vector<Cell> row(group.key.begin(), group.key.end());
    row.push_back(metric);
    row.push_back(group.summary.mean);
    row.push_back(group.summary.stddev);  // NaN (n < 2) renders empty
    row.push_back(group.summary.n);
    table.AddRow(std::move(row));
  }
  env.out() << table.Render(env.globals().output);
  return absl::OkStatus();
}

// ------------------------------------------------------------------ export

absl::Status RunExport(const Args& args, CommandEnv& env) {
  absl::StatusOr<int64_t> id = SweepArg(args);
  if (!id.ok()) return id.status();
  if (!args.Has("out") || args.Get("out").empty()) {
    return absl::InvalidArgumentError("export: --out FILE.csv is required (- for stdout)");
  }
  const std::string path = args.Get("out");
  absl::StatusOr<CoordinatorClient*> client = env.Client();
  if (!client.ok()) return client.status();
  absl::StatusOr<std::vector<JobData>> jobs = LoadJobs(*client, *id);
  if (!jobs.ok()) return jobs.status();
  // A program's params get a column each, after seed (none for a sweep of
  // the built-in trainer, whose columns stay as they were).
  std::set<std::string> param_keys;
  for (const JobData& job : *jobs) {
    for (const auto& [key, value] : job.config) {
      if (config::IsProgramParamKey(key)) param_keys.insert(key);
    }
  }
  std::map<int64_t, std::string> prefix;  // job id -> "sweep,job,model,attention,tasks,seed,[params.*,]"
  for (const JobData& job : *jobs) {
    prefix[job.id] =
        absl::StrCat(*id, ",", job.id, ",", CsvField(job.Config("model")), ",",
                     CsvField(job.Config("attention")), ",", CsvField(job.Config("tasks")), ",",
                     CsvField(job.Config("seed")), ",");
    for (const std::string& key : param_keys) absl::StrAppend(&prefix[job.id], CsvField(job.Config(key)), ",");
  }

  // Rows are streamed to the file as they arrive: a sweep's points may not
  // fit in memory. A temporary file and a rename keep readers from seeing
  // half an export.
  const bool to_stdout = path == "-";
  const std::string temporary = absl::StrCat(path, ".tmp.", getpid());
  std::ofstream file;
  if (!to_stdout) {
    file.open(temporary, std::ios::binary | std::ios::trunc);
    if (!file) return absl::InvalidArgumentError(absl::StrCat("--out: cannot write ", path));
  }
  std::ostream& out = to_stdout ? env.out() : file;
  out << "sweep,job,model,attention,tasks,seed,";
  for (const std::string& key : param_keys) out << CsvField(key) << ",";
  out << "name,step,value\n";
  int64_t rows = 0;
  pb::QueryMetricsRequest request;
  request.set_sweep_id(*id);
  absl::Status status = (*client)->QueryMetrics(request, [&](const pb::JobMetricPoint& p) {
    auto it = prefix.find(p.job_id());
    if (it == prefix.end()) {
      it = prefix.emplace(p.job_id(), absl::StrCat(*id, ",", p.job_id(), ",,,,,",
                                                   std::string(param_keys.size(), ',')))
               .first;
    }
    out << it->second << CsvField(p.point().name()) << "," << p.point().step() << ","
        << ShortestDouble(p.point().value()) << "\n";
    ++rows;
    return out ? absl::OkStatus()
               : absl::InvalidArgumentError(absl::StrCat("--out: cannot write ", path));
  });
  out.flush();
  if (status.ok() && !out)
    status = absl::InvalidArgumentError(absl::StrCat("--out: cannot write ", path));
  if (!to_stdout) {
    file.close();
    if (status.ok() && std::rename(temporary.c_str(), path.c_str()) != 0) {
      status = absl::InvalidArgumentError(absl::StrCat("--out: cannot write ", path));
    }
    if (!status.ok()) std::remove(temporary.c_str());
  }
  if (!status.ok()) return status;
  env.err() << "wrote " << rows << " metric points of sweep " << *id << " (" << jobs->size()
            << " jobs) to " << (to_stdout ? "stdout" : path) << "\n";
  return absl::OkStatus();
}

// ------------------------------------------------------------------ figure

std::string SeriesLabel(const std::vector<std::string>& group_by,
                        const std::vector<std::string>& key) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < key.size(); ++i) {
    // "transformer / softmax"; an attention of "none" adds nothing. Values
    // that name themselves (a model, an attention kind, a task) go bare.
    if (group_by[i] == "attention" && key[i] == "none") continue;
    if (group_by[i] == "model" || group_by[i] == "attention" || group_by[i] == "tasks" ||
        group_by[i] == "task") {
      parts.push_back(key[i]);
    } else {
      parts.push_back(absl::StrCat(group_by[i], "=", key[i]));
    }
  }
  return parts.empty() ? std::string("all") : absl::StrJoin(parts, " / ");
}

SeriesStyle StyleForKey(const std::vector<std::string>& group_by,
                        const std::vector<std::string>& key, size_t index) {
  std::string model, attention;
  for (size_t i = 0; i < key.size(); ++i) {
    if (group_by[i] == "model") model = key[i];
    if (group_by[i] == "attention") attention = key[i];
  }
  if (model.empty()) model = absl::StrCat("series", index);
  return StyleFor(model, attention);
}

bool IsFraction(const std::string& metric) { return absl::StartsWith(metric, "accuracy"); }

// What every figure kind starts from: the sweep, its jobs, the metric and
// the grouping, all checked.
struct FigureInput {
  int64_t sweep_id = 0;
  std::string sweep_title;  // "sweep 3 'quick'"
  std::string metric;
  std::vector<std::string> group_by;
  std::vector<JobData> jobs;
  ResultFilter filter;  // which jobs' values are drawn
  CoordinatorClient* client = nullptr;
};

// A drawn figure and the one-line summary printed after writing it.
struct Figure {
  std::string svg;
  std::string summary;
};

// The values `keys` take among the jobs (of any state), in the order the
// grid first reaches them.
std::vector<std::vector<std::string>> KeysInCellOrder(const std::vector<JobData>& jobs,
                                                      const std::vector<std::string>& keys) {
  std::map<std::vector<std::string>, int64_t> first;
  for (const JobData& job : jobs) {
    std::vector<std::string> key;
    for (const std::string& k : keys) key.push_back(job.Config(k));
    auto [it, inserted] = first.emplace(key, job.cell_index);
    if (!inserted) it->second = std::min(it->second, job.cell_index);
  }
  std::vector<std::pair<int64_t, std::vector<std::string>>> order;
  for (const auto& [key, cell] : first) order.emplace_back(cell, key);
  std::sort(order.begin(), order.end());
  std::vector<std::vector<std::string>> values;
  for (auto& [cell, key] : order) values.push_back(std::move(key));
  return values;
}

// The values of one key, in the order the grid first reaches them.
std::vector<std::string> ValuesInCellOrder(const std::vector<JobData>& jobs,
                                           const std::string& key) {
  std::vector<std::string> values;
  for (std::vector<std::string>& value : KeysInCellOrder(jobs, {key})) {
    values.push_back(std::move(value.front()));
  }
  return values;
}

// One task set per curves figure, as in the paper's Fig. 1 (left): --tasks,
// else IARC when the sweep has it, else the first in the file.
absl::StatusOr<std::string> CurvesTaskSet(const Args& args, const FigureInput& in) {
  const std::vector<std::string> task_sets = ValuesInCellOrder(in.jobs, "tasks");
  auto has = [&task_sets](const std::string& t) {
    return std::find(task_sets.begin(), task_sets.end(), t) != task_sets.end();
  };
  if (args.Has("tasks")) {
    const std::string tasks = args.Get("tasks");
    if (!has(tasks)) {
      return absl::InvalidArgumentError(absl::StrCat("--tasks: sweep ", in.sweep_id,
                                                     " has no job on '", tasks, "'; it has: ",
                                                     absl::StrJoin(task_sets, ", ")));
    }
    return tasks;
  }
  if (has("IARC")) return std::string("IARC");
  return task_sets.empty() ? std::string() : task_sets.front();
}

// Each job's metric against x: the "epoch" metric logged at the same step;
// without it, step / steps_per_epoch. *by_epoch becomes false when some job
// has neither (x is then the step).
absl::StatusOr<std::map<int64_t, Series>> LoadSeriesByEpoch(
    const FigureInput& in, const std::map<int64_t, const JobData*>& by_id, bool* by_epoch) {
  std::map<int64_t, std::map<int64_t, double>> epoch_at, value_at;
  pb::QueryMetricsRequest request;
  request.set_sweep_id(in.sweep_id);
  for (const auto& [job_id, job] : by_id) request.add_job_ids(job_id);
  request.add_names(in.metric);
  if (in.metric != "epoch") request.add_names("epoch");
  if (!by_id.empty()) {
    absl::Status status = in.client->QueryMetrics(request, [&](const pb::JobMetricPoint& p) {
      if (p.point().name() == "epoch") epoch_at[p.job_id()][p.point().step()] = p.point().value();
      if (p.point().name() == in.metric) value_at[p.job_id()][p.point().step()] = p.point().value();
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
  }
  *by_epoch = true;
  std::map<int64_t, Series> series;
  for (const auto& [job_id, values] : value_at) {
    const JobData& job = *by_id.at(job_id);
    double steps_per_epoch = std::atof(job.Config("steps_per_epoch").c_str());
    series[job_id] = SeriesByEpoch(values, epoch_at[job_id], steps_per_epoch, by_epoch);
  }
  return series;
}

// --kind curves: the metric against epoch on one task set, one line per group
// (mean over seeds, band of one sd).
absl::StatusOr<Figure> CurvesFigure(const Args& args, const FigureInput& in, CommandEnv& env) {
  absl::StatusOr<std::string> tasks = CurvesTaskSet(args, in);
  if (!tasks.ok()) return tasks.status();
  std::vector<JobData> selected;
  for (const JobData& job : in.jobs) {
    if (job.Config("tasks") == *tasks && in.filter.Includes(job)) selected.push_back(job);
  }
  std::map<int64_t, const JobData*> by_id;
  for (const JobData& job : selected) by_id[job.id] = &job;
  bool by_epoch = true;
  absl::StatusOr<std::map<int64_t, Series>> series = LoadSeriesByEpoch(in, by_id, &by_epoch);
  if (!series.ok()) return series.status();

  std::vector<std::string> mix_keys = in.group_by;
  mix_keys.push_back("tasks");
  NoteMixedKeys(selected, mix_keys, in.filter, env);
  std::vector<Curve> curves = GroupCurves(selected, *series, in.group_by, in.filter);
  if (curves.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("figure: no ", Described(in.filter),
                                                   " job of sweep ", in.sweep_id, " has '",
                                                   in.metric, "' points to draw"));
  }
  LineChartSpec chart;
  chart.title = absl::StrCat(in.metric, " against epoch, ", in.sweep_title);
  int64_t max_n = 0;
  for (const Curve& c : curves) {
    for (const CurvePoint& p : c.points) max_n = std::max(max_n, p.y.n);
  }
  chart.subtitle =
      absl::StrCat("tasks ", *tasks,
                   "; line = mean over seeds, band = mean \u00b1 1 sd (n \u2264 ", max_n, ")");
  chart.x_label = by_epoch ? "epoch" : "step";
  chart.y_label = in.metric;
  if (IsFraction(in.metric)) {
    chart.y_min = 0;
    chart.y_max = 1;
  }
  for (size_t i = 0; i < curves.size(); ++i) {
    LineSeries line;
    line.label = SeriesLabel(in.group_by, curves[i].key);
    line.style = StyleForKey(in.group_by, curves[i].key, i);
    line.points = curves[i].points;
    for (size_t k = 0; k < in.group_by.size(); ++k) line.data[in.group_by[k]] = curves[i].key[k];
    line.data["tasks"] = *tasks;
    line.data["metric"] = in.metric;
    chart.series.push_back(std::move(line));
  }
  return Figure{RenderLineChart(chart), absl::StrCat(curves.size(), " curves on ", *tasks)};
}

// The error of a figure with no final value to draw.
absl::Status NoFinalMetric(const FigureInput& in) {
  return absl::InvalidArgumentError(absl::StrCat("figure: no ", Described(in.filter),
                                                 " job of sweep ", in.sweep_id, " has a final '",
                                                 in.metric, "'"));
}

// --kind bars: the final metric per task subset (groups along x), one bar per
// group of the other keys (mean over seeds, whisker of one sd).
absl::StatusOr<Figure> BarsFigure(const FigureInput& in, CommandEnv& env) {
  std::vector<std::string> keys = in.group_by;
  keys.push_back("tasks");
  NoteMixedKeys(in.jobs, keys, in.filter, env);
  std::vector<GroupResult> results = GroupFinalMetrics(in.jobs, in.metric, keys, in.filter);
  if (results.empty()) return NoFinalMetric(in);
  BarChartSpec chart;
  chart.title = absl::StrCat("final ", in.metric, " per task subset, ", in.sweep_title);
  chart.subtitle = "bar = mean over seeds, whisker = \u00b1 1 sd";
  chart.x_label = "task subset";
  chart.y_label = absl::StrCat("final ", in.metric);
  if (IsFraction(in.metric)) {
    chart.y_min = 0;
    chart.y_max = 1;
  }
  // Series and groups in the order the sweep file gives them.
  std::map<std::vector<std::string>, size_t> series_index;
  std::map<std::string, size_t> group_index;
  for (const GroupResult& r : results) {
    std::vector<std::string> series_key(r.key.begin(), r.key.end() - 1);
    const std::string& tasks = r.key.back();
    if (!series_index.count(series_key)) {
      series_index[series_key] = chart.series.size();
      chart.series.push_back(BarSeries{SeriesLabel(in.group_by, series_key),
                                       StyleForKey(in.group_by, series_key, chart.series.size())});
    }
    if (!group_index.count(tasks)) {
      group_index[tasks] = chart.groups.size();
      chart.groups.push_back(BarGroup{tasks, {}});
    }
  }
  for (const GroupResult& r : results) {
    std::vector<std::string> series_key(r.key.begin(), r.key.end() - 1);
    Bar bar;
    bar.series = series_index[series_key];
    bar.value = r.summary;
    for (size_t k = 0; k < keys.size(); ++k) bar.data[keys[k]] = r.key[k];
    bar.data["metric"] = in.metric;
    chart.groups[group_index[r.key.back()]].bars.push_back(std::move(bar));
  }
  return Figure{RenderBarChart(chart),
                absl::StrCat(results.size(), " bars in ", chart.groups.size(), " task subset",
                             chart.groups.size() == 1 ? "" : "s")};
}

// An axis's values: ascending when all are numbers (lengths 20, 50, 100),
// else in the order the grid first reaches them.
std::vector<std::string> AxisValues(const std::vector<JobData>& jobs, const std::string& key) {
  std::vector<std::string> values = ValuesInCellOrder(jobs, key);
  std::vector<std::pair<double, std::string>> numbers;
  for (const std::string& value : values) {
    double number = 0;
    if (!absl::SimpleAtod(value, &number) || !std::isfinite(number)) return values;
    numbers.emplace_back(number, value);
  }
  std::stable_sort(numbers.begin(), numbers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  values.clear();
  for (auto& [number, value] : numbers) values.push_back(std::move(value));
  return values;
}

std::map<std::string, size_t> IndexOf(const std::vector<std::string>& values) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < values.size(); ++i) index[values[i]] = i;
  return index;
}

// --kind heatmap: the final metric over two keys, one panel per value of the
// facet keys. in.group_by is the facet keys, then --x, then --y; a cell is
// the mean over the jobs (seeds) that share its values, as `results
// --group-by FACET,X,Y` prints it. Cells without a succeeded job stay empty.
absl::StatusOr<Figure> HeatmapFigure(const FigureInput& in, CommandEnv& env) {
  const std::vector<std::string>& keys = in.group_by;
  const std::vector<std::string> facet_keys(keys.begin(), keys.end() - 2);
  const std::string& x_key = keys[keys.size() - 2];
  const std::string& y_key = keys.back();
  NoteMixedKeys(in.jobs, keys, in.filter, env, "--facet");
  std::vector<GroupResult> results = GroupFinalMetrics(in.jobs, in.metric, keys, in.filter);
  if (results.empty()) return NoFinalMetric(in);

  HeatmapChartSpec chart;
  chart.title =
      absl::StrCat("final ", in.metric, " by ", x_key, " and ", y_key, ", ", in.sweep_title);
  int64_t max_n = 0;
  for (const GroupResult& r : results) max_n = std::max(max_n, r.summary.n);
  chart.subtitle = absl::StrCat("cell = mean over seeds (n \u2264 ", max_n, "); hatched = no ",
                                Described(in.filter), " job");
  chart.x_label = x_key;
  chart.y_label = y_key;
  chart.facet_label = absl::StrJoin(facet_keys, ",");
  chart.metric = in.metric;
  if (IsFraction(in.metric)) {
    chart.value_min = 0;
    chart.value_max = 1;
  }
  chart.x_values = AxisValues(in.jobs, x_key);
  chart.y_values = AxisValues(in.jobs, y_key);
  const std::map<std::string, size_t> x_index = IndexOf(chart.x_values);
  const std::map<std::string, size_t> y_index = IndexOf(chart.y_values);
  std::map<std::vector<std::string>, size_t> panel_index;
  for (const std::vector<std::string>& facet : KeysInCellOrder(in.jobs, facet_keys)) {
    panel_index[facet] = chart.panels.size();
    chart.panels.push_back(
        HeatmapPanel{facet_keys.empty() ? std::string() : SeriesLabel(facet_keys, facet),
                     absl::StrJoin(facet, ","),
                     {}});
  }
  for (const GroupResult& r : results) {
    std::vector<std::string> facet(r.key.begin(), r.key.end() - 2);
    chart.panels[panel_index.at(facet)].cells.push_back(
        HeatmapCell{x_index.at(r.key[r.key.size() - 2]), y_index.at(r.key.back()), r.summary});
  }
  return Figure{RenderHeatmap(chart),
                absl::StrCat(results.size(), " of ",
                             chart.x_values.size() * chart.y_values.size() * chart.panels.size(),
                             " cells with a value, ", chart.panels.size(), " panel",
                             chart.panels.size() == 1 ? "" : "s")};
}

// The keys a figure groups jobs by: --group-by for curves and bars; for a
// heatmap the --facet keys, then --x, then --y. A flag the kind has no use
// for is refused rather than ignored.
absl::StatusOr<std::vector<std::string>> FigureKeys(const Args& args, const std::string& kind) {
  if (kind != "heatmap") {
    for (const char* flag : {"x", "y", "facet"}) {
      if (args.Has(flag)) {
        return absl::InvalidArgumentError(absl::StrCat("--", flag, ": only for --kind heatmap"));
      }
    }
    absl::StatusOr<std::vector<std::string>> group_by =
        ParseGroupBy(args.Get("group-by", "model,attention"));
    if (!group_by.ok()) return group_by.status();
    if (kind == "bars" &&
        std::find(group_by->begin(), group_by->end(), "tasks") != group_by->end()) {
      return absl::InvalidArgumentError("--group-by: bars already group by tasks along the x axis");
    }
    return group_by;
  }
  for (const char* flag : {"group-by", "tasks"}) {
    if (args.Has(flag)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", flag, ": not for --kind heatmap, whose cells group by --x, --y and --facet"));
    }
  }
  if (!args.Has("x") || !args.Has("y")) {
    return absl::InvalidArgumentError("figure: --kind heatmap needs --x KEY and --y KEY");
  }
  std::vector<std::string> keys;
  if (args.Has("facet")) {
    absl::StatusOr<std::vector<std::string>> facet = ParseConfigKeys("--facet", args.Get("facet"));
    if (!facet.ok()) return facet.status();
    keys = *facet;
  }
  for (const char* flag : {"x", "y"}) {
    const std::string name = absl::StrCat("--", flag);
    absl::StatusOr<std::vector<std::string>> key = ParseConfigKeys(name, args.Get(flag));
    if (!key.ok()) return key.status();
    if (key->size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": one key, got '", args.Get(flag), "' (use --facet for more)"));
    }
    if (std::find(keys.begin(), keys.end(), key->front()) != keys.end()) {
      const bool is_x = name == "--y" && keys.back() == key->front();
      return absl::InvalidArgumentError(absl::StrCat(name, ": '", key->front(), "' is already ",
                                                     is_x ? "--x" : "a --facet key",
                                                     "; a heatmap needs distinct keys"));
    }
    keys.push_back(key->front());
  }
  return keys;
}

// Checks the flags, loads the sweep and its jobs and draws the kind asked
// for (--out is not looked at).
absl::StatusOr<Figure> MakeFigure(const Args& args, CommandEnv& env) {
  absl::StatusOr<int64_t> id = SweepArg(args);
  if (!id.ok()) return id.status();
  if (!args.Has("kind"))
    return absl::InvalidArgumentError("figure: --kind curves|bars|heatmap is required");
  absl::StatusOr<std::string> kind =
      ParseChoiceFlag("--kind", args.Get("kind"), {"curves", "bars", "heatmap"});
  if (!kind.ok()) return kind.status();
  FigureInput in;
  in.sweep_id = *id;
  in.metric = args.Get("metric", "accuracy");
  absl::StatusOr<std::vector<std::string>> keys = FigureKeys(args, *kind);
  if (!keys.ok()) return keys.status();
  in.group_by = *std::move(keys);
  absl::StatusOr<CoordinatorClient*> client = env.Client();
  if (!client.ok()) return client.status();
  in.client = *client;
  absl::StatusOr<pb::Sweep> sweep = in.client->GetSweep(*id);
  if (!sweep.ok()) return sweep.status();
  absl::StatusOr<std::vector<JobData>> jobs = LoadJobs(in.client, *id);
  if (!jobs.ok()) return jobs.status();
  in.jobs = std::move(*jobs);
  in.filter.include_stopped = args.Has("include-stopped");
  if (absl::Status s = CheckMetric(in.jobs, *id, in.metric, in.filter, env); !s.ok()) return s;
  in.sweep_title = absl::StrCat("sweep ", *id, sweep->name().empty() ? "" : " '", sweep->name(),
                                sweep->name().empty() ? "" : "'");

  return *kind == "curves" ? CurvesFigure(args, in, env)
         : *kind == "bars" ? BarsFigure(in, env)
                           : HeatmapFigure(in, env);
}

// Draws the figure and writes it.
absl::Status RunFigure(const Args& args, CommandEnv& env) {
  if (!args.Has("out") || args.Get("out").empty()) {
    // The sweep and --kind are checked first, as before.
    absl::StatusOr<int64_t> id = SweepArg(args);
    if (!id.ok()) return id.status();
    if (!args.Has("kind"))
      return absl::InvalidArgumentError("figure: --kind curves|bars|heatmap is required");
    absl::StatusOr<std::string> kind =
        ParseChoiceFlag("--kind", args.Get("kind"), {"curves", "bars", "heatmap"});
    if (!kind.ok()) return kind.status();
    return absl::InvalidArgumentError("figure: --out FILE.svg is required (- for stdout)");
  }
  absl::StatusOr<Figure> figure = MakeFigure(args, env);
  if (!figure.ok()) return figure.status();
  if (absl::Status s = WriteOutputFile(env, args.Get("out"), figure->svg); !s.ok()) return s;
  if (args.Get("out") != "-") {
    env.err() << "wrote " << args.Get("out") << " (" << figure->summary << ")\n";
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> DrawFigure(const Args& args, CommandEnv& env) {
  absl::StatusOr<Figure> figure = MakeFigure(args, env);
  if (!figure.ok()) return figure.status();
  return std::move(figure->svg);
}

Command ResultsCommand() {
  return {{"results",
           "SWEEP",
           "final metrics per group: mean, standard deviation and n over seeds",
           "Groups the sweep's succeeded jobs by config keys and summarises the final value of\n"
           "a metric (its value at the job's last step): mean, sample standard deviation\n"
           "(n - 1; empty for n = 1) and n. Groups follow the order of the sweep file. Jobs of\n"
           "other states are left out, with a note on stderr that counts them; stopped and\n"
           "paused jobs (cut short by the sweep's early-stopping scheduler) only unless\n"
           "--include-stopped.",
           {{"metric", "M", "the metric (default accuracy)"},
            {"group-by", "KEYS", "comma-separated config keys (default model,attention,tasks)"},
            {"include-stopped", "",
             "also summarise stopped and paused jobs, at their last value (fewer epochs)"}},
           1,
           1},
          RunResults};
}

Command ExportCommand() {
  return {{"export",
           "SWEEP",
           "write every metric point of a sweep to a CSV file",
           "Full resolution: one row per stored point, with the columns\n"
           "sweep,job,model,attention,tasks,seed,name,step,value, ordered by job, name, step.\n"
           "A sweep of a program of your own gets a column per params.NAME after seed.",
           {{"out", "FILE.csv", "where to write (- for stdout); required"}},
           1,
           1},
          RunExport};
}

Command FigureCommand() {
  return {
      {"figure",
       "SWEEP",
       "draw a sweep as a self-contained SVG figure",
       "--kind curves: the metric against epoch, one line per model and attention kind\n"
       "  (mean over seeds, with a band of +-1 standard deviation), for one task set.\n"
       "--kind bars: the final metric per task subset, one bar per model and attention\n"
       "  kind (mean over seeds, whiskers +-1 standard deviation).\n"
       "--kind heatmap: the final metric over two config keys (--x, --y), one panel per\n"
       "  value of --facet; each cell is coloured by the mean over seeds and shows it.\n"
       "Only succeeded jobs are drawn (with --include-stopped, stopped and paused jobs as\n"
       "well); stderr counts the jobs left out. Every point carries its numbers as data-*\n"
       "attributes (data-mean, data-std, data-n).",
       {{"kind", "curves|bars|heatmap", "which figure; required"},
        {"out", "FILE.svg", "where to write (- for stdout); required"},
        {"metric", "M", "the metric (default accuracy)"},
        {"tasks", "T", "curves: the task set to draw (default IARC if present, else the first)"},
        {"group-by", "KEYS",
         "one line or bar series per value of these keys "
         "(default model,attention)"},
        {"x", "KEY", "heatmap: the config key along the x axis; required"},
        {"y", "KEY", "heatmap: the config key along the y axis; required"},
        {"facet", "KEYS", "heatmap: one panel per value of these keys (default: one panel)"},
        {"include-stopped", "",
         "also draw stopped and paused jobs, at their last value (fewer epochs)"}},
       1,
       1},
      RunFigure};
}

}  // namespace switchyard::client
