// Self-contained SVG figures: a line chart with bands (mean +- standard
// deviation over seeds) and a grouped bar chart with error bars.
//
// The output is one standalone XML document (no scripts, no external fonts or
// styles) that browsers and XML parsers read. Besides drawing, every data
// point carries its numbers as attributes so that tools and tests can read a
// figure back:
//   <g class="series" data-KEY="VALUE"...>   one per line (or bar series)
//   <circle class="point" data-x= data-mean= data-std= data-n=>   curves
//   <rect class="bar" data-group= data-mean= data-std= data-n= data-KEY=...>
// Numbers in data-* attributes are written at full precision (the shortest
// form that reads back to the same double); data-std is "" when n < 2.
//
// Thread safety: pure functions.
#ifndef SWITCHYARD_CLIENT_RENDER_SVG_H_
#define SWITCHYARD_CLIENT_RENDER_SVG_H_

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "client/render/stats.h"

namespace switchyard::client {

struct SeriesStyle {
  std::string color = "#1f77b4";  // any SVG color
  bool dashed = false;
};

// A stable style per (model, attention): a colour per model family, a dashed
// line for expressive attention and a darker shade for it in bars.
SeriesStyle StyleFor(const std::string& model, const std::string& attention);

struct LineSeries {
  std::string label;  // legend text
  SeriesStyle style;
  std::vector<CurvePoint> points;           // ascending x
  std::map<std::string, std::string> data;  // data-* attributes of the series
};

struct LineChartSpec {
  std::string title;
  std::string subtitle;  // one smaller line under the title, may be empty
  std::string x_label;
  std::string y_label;
  std::vector<LineSeries> series;
  // The y range; NaN = from the data (bands included), widened to nice ticks.
  double y_min = std::numeric_limits<double>::quiet_NaN();
  double y_max = std::numeric_limits<double>::quiet_NaN();
};

std::string RenderLineChart(const LineChartSpec& spec);

struct Bar {
  size_t series = 0;  // index into BarChartSpec::series
  Summary value;
  std::map<std::string, std::string> data;  // data-* attributes of the bar
};

struct BarGroup {
  std::string label;  // under the group on the x axis
  std::vector<Bar> bars;
};

struct BarSeries {
  std::string label;
  SeriesStyle style;
};

struct BarChartSpec {
  std::string title;
  std::string subtitle;
  std::string x_label;
  std::string y_label;
  std::vector<BarSeries> series;
  std::vector<BarGroup> groups;
  double y_min = std::numeric_limits<double>::quiet_NaN();  // NaN = 0 or the data's minimum
  double y_max = std::numeric_limits<double>::quiet_NaN();  // NaN = from the data
};

std::string RenderBarChart(const BarChartSpec& spec);

// "Nice" tick positions (steps of 1, 2 or 5 times a power of ten) covering
// [lo, hi] with about `target` ticks; the first tick <= lo, the last >= hi.
std::vector<double> NiceTicks(double lo, double hi, int target);

// Text with & < > " ' escaped for XML.
std::string XmlEscape(const std::string& text);

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_RENDER_SVG_H_
