// Self-contained SVG figures: a line chart with bands (mean +- standard
// deviation over seeds), a grouped bar chart with error bars, and a heatmap
// (one grid of coloured cells per panel, with a colour scale).
//
// The output is one standalone XML document (no scripts, no external fonts or
// styles) that browsers and XML parsers read. Besides drawing, every data
// point carries its numbers as attributes so that tools and tests can read a
// figure back:
//   <g class="series" data-KEY="VALUE"...>   one per line (or bar series)
//   <circle class="point" data-x= data-mean= data-std= data-n=>   curves
//   <rect class="bar" data-group= data-mean= data-std= data-n= data-KEY=...>
//   <g class="heatmap" data-x-key= data-y-key= data-facet-key=>   heatmaps
//     <g class="panel" data-facet=>   one per panel
//       <rect class="cell" data-x= data-y= data-facet= data-metric=
//             data-mean= data-std= data-n=>   every cell, n = 0 when empty
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

// One cell of a heatmap panel: indices into HeatmapChartSpec::x_values and
// y_values, and the summary drawn there.
struct HeatmapCell {
  size_t x = 0;
  size_t y = 0;
  Summary value;
};

struct HeatmapPanel {
  std::string title;  // above the panel, e.g. "transformer"; may be empty
  std::string facet;  // its data-facet value
  // At most one cell per (x, y); a cell that is missing or has n = 0 is drawn
  // hatched, with no value written in it.
  std::vector<HeatmapCell> cells;
};

struct HeatmapChartSpec {
  std::string title;
  std::string subtitle;
  std::string x_label;  // the x key, e.g. "length": data-x-key and the axis label
  std::string y_label;
  std::string facet_label;            // the facet key(s); "" when there is one unnamed panel
  std::string metric;                 // data-metric of every cell and the colour scale's label
  std::vector<std::string> x_values;  // columns, left to right
  std::vector<std::string> y_values;  // rows, bottom to top
  std::vector<HeatmapPanel> panels;   // side by side, three to a row
  // The colour scale's range; NaN = from the data, widened to nice ticks.
  // Means outside the range take the colour of its nearer end.
  double value_min = std::numeric_limits<double>::quiet_NaN();
  double value_max = std::numeric_limits<double>::quiet_NaN();
};

// Cells are coloured on a sequential (viridis) scale with a legend bar and
// ticks; each non-empty cell shows its mean in a colour that contrasts with
// its fill. The document's size grows with the panels and cells.
std::string RenderHeatmap(const HeatmapChartSpec& spec);

// The scale's colour ("#rrggbb") at t in [0, 1] (clamped): dark purple at 0,
// yellow at 1, lightness rising throughout.
std::string ScaleColor(double t);

// "Nice" tick positions (steps of 1, 2 or 5 times a power of ten) covering
// [lo, hi] with about `target` ticks; the first tick <= lo, the last >= hi.
std::vector<double> NiceTicks(double lo, double hi, int target);

// Text with & < > " ' escaped for XML.
std::string XmlEscape(const std::string& text);

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_RENDER_SVG_H_
