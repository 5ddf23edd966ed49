#include "client/render/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "client/render/format.h"

namespace switchyard::client {
namespace {

std::string Percent(int64_t part, int64_t whole) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f%%",
                whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return buffer;
}

std::string Fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
  return buffer;
}

std::string Cut(std::string line, size_t width) {
  if (line.size() > width) line.resize(width);
  return line;
}

std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.resize(width, ' ');
  return text;
}

// The counts most sweeps never have, only when not 0: paused and stopped
// (early stopping), cancelled.
void AppendRareCounts(const JobCounts& c, const char* gap, std::string* line) {
  if (c.paused > 0) absl::StrAppend(line, gap, "paused ", c.paused);
  if (c.stopped > 0) absl::StrAppend(line, gap, "stopped ", c.stopped);
  if (c.cancelled > 0) absl::StrAppend(line, gap, "cancelled ", c.cancelled);
}

}  // namespace

bool ProgressView::NoteJob(const JobData& job) {
  if (job.state == "failed" || job.state == "cancelled") return false;
  auto metric = job.final_metrics.find(metric_);
  if (metric == job.final_metrics.end() || !std::isfinite(metric->second)) return false;
  if (job.OwnProgram()) own_programs_ = true;
  std::pair<std::string, std::string> key = job.Trains();
  auto it = best_.find(key);
  if (it == best_.end()) {
    best_[key] = Best{metric->second, job.id, job.cell_index};
    return true;
  }
  it->second.first_cell = std::min(it->second.first_cell, job.cell_index);
  if (metric->second > it->second.value) {
    it->second.value = metric->second;
    it->second.job_id = job.id;
    return true;
  }
  return false;
}

double ProgressView::Elapsed(double now) const {
  double end = snapshot_.finished_at > 0 ? snapshot_.finished_at : now;
  return std::max(0.0, end - snapshot_.created_at);
}

double ProgressView::Eta(double now) const {
  const JobCounts& c = snapshot_.counts;
  if (snapshot_.done || c.Settled()) return 0;
  if (c.ended() == 0) return -1;
  // Throughput so far: ended jobs per second since the sweep was created.
  double rate = static_cast<double>(c.ended()) / std::max(1.0, Elapsed(now));
  return static_cast<double>(c.left()) / rate;
}

std::vector<std::string> ProgressView::Frame(double now, int width) const {
  size_t w = static_cast<size_t>(std::max(width, 20));
  const JobCounts& c = snapshot_.counts;
  std::vector<std::string> lines;
  std::string title = absl::StrCat("sweep ", snapshot_.id);
  if (!snapshot_.name.empty()) absl::StrAppend(&title, " '", snapshot_.name, "'");
  absl::StrAppend(&title, snapshot_.done ? "  finished" : "  active");
  lines.push_back(Cut(title, w));

  std::string tail =
      absl::StrCat(" ", c.ended(), "/", c.total(), " ended  ", Percent(c.ended(), c.total()));
  size_t bar_width = std::min<size_t>(40, w > tail.size() + 12 ? w - tail.size() - 2 : 10);
  size_t filled = c.total() > 0 ? static_cast<size_t>(bar_width * c.ended() / c.total()) : 0;
  std::string bar = "[" + std::string(filled, '#') + std::string(bar_width - filled, '.') + "]";
  lines.push_back(Cut(bar + tail, w));

  std::string counts = absl::StrCat("done ", c.succeeded, "  running ", c.running, "  pending ",
                                    c.pending, "  failed ", c.failed, "  lost ", c.lost);
  AppendRareCounts(c, "  ", &counts);
  lines.push_back(Cut(counts, w));

  double eta = Eta(now);
  lines.push_back(Cut(absl::StrCat("elapsed ", FormatDuration(Elapsed(now)), "  eta ",
                                   eta < 0 ? std::string("-") : FormatDuration(eta)),
                      w));
  for (std::string& line : BestLines()) lines.push_back(Cut(std::move(line), w));
  return lines;
}

std::vector<std::string> ProgressView::BestLines() const {
  std::vector<std::string> lines;
  if (best_.empty()) {
    lines.push_back(absl::StrCat("best ", metric_, " so far: none yet"));
    return lines;
  }
  lines.push_back(absl::StrCat("best ", metric_, " so far:"));
  std::vector<std::pair<const std::pair<std::string, std::string>*, const Best*>> rows;
  size_t model_width = 5, attention_width = 9;
  for (const auto& [key, best] : best_) {
    rows.emplace_back(&key, &best);
    model_width = std::max(model_width, key.first.size());
    attention_width = std::max(attention_width, key.second.size());
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second->first_cell < b.second->first_cell;
  });
  // A program of the user's own has params where a model has an attention.
  lines.push_back(absl::StrCat("  ", Pad(own_programs_ ? "program" : "model", model_width), "  ",
                               Pad(own_programs_ ? "params" : "attention", attention_width), "  ",
                               Pad(metric_, 8), "  job"));
  for (const auto& [key, best] : rows) {
    lines.push_back(absl::StrCat(
        "  ", Pad(key->first, model_width), "  ", Pad(key->second, attention_width), "  ",
        Pad(Fixed(best->value, 4), std::max<size_t>(8, metric_.size())), "  ", best->job_id));
  }
  return lines;
}

std::string ProgressView::Line(double now) const {
  const JobCounts& c = snapshot_.counts;
  double eta = Eta(now);
  std::string line =
      absl::StrCat("sweep ", snapshot_.id, ": ", c.ended(), "/", c.total(), " ended (",
                   Percent(c.ended(), c.total()), ") | done ", c.succeeded, " running ", c.running,
                   " pending ", c.pending, " failed ", c.failed, " lost ", c.lost);
  AppendRareCounts(c, " ", &line);
  absl::StrAppend(&line, " | elapsed ", FormatDuration(Elapsed(now)), " eta ",
                  eta < 0 ? std::string("-") : FormatDuration(eta));
  return line;
}

std::string ProgressView::JobEndedLine(const JobData& job) const {
  // IARC jobs by their task set; a separation task by its name and length
  // (a config from before the `task` key has none: IARC).
  const std::string task = job.Config("task");
  const std::string what = task.empty() || task == "iarc"
                               ? job.Config("tasks")
                               : absl::StrCat(task, " length ", job.Config("length"));
  const auto [model, variant] = job.Trains();
  std::string line = absl::StrCat("job ", job.id, " ", job.state, ": ", model, " ", variant, " ",
                                  what, " seed ", job.Config("seed"));
  auto metric = job.final_metrics.find(metric_);
  if (metric != job.final_metrics.end()) {
    absl::StrAppend(&line, ", ", metric_, " ", Fixed(metric->second, 4));
  }
  if (job.state != "succeeded" && !job.last_cause.empty()) {
    absl::StrAppend(&line, " (", FirstLine(job.last_cause, 160), ")");
  }
  return line;
}

std::string InPlacePainter::Repaint(const std::vector<std::string>& lines) {
  std::string out;
  // Cursor to the start of the first line of the previous block, then clear
  // to the end of the screen: no leftovers when the block shrinks.
  if (previous_lines_ > 0) out += absl::StrCat("\x1b[", previous_lines_, "F");
  out += "\x1b[J";
  for (const std::string& line : lines) out += line + "\n";
  previous_lines_ = lines.size();
  return out;
}

}  // namespace switchyard::client
