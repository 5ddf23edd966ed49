#include "client/render/svg.h"

#include <algorithm>
#include <cstdio>
#include <functional>

#include "absl/strings/str_cat.h"
#include "client/render/table.h"

namespace switchyard::client {
namespace {

constexpr double kWidth = 960;
constexpr double kHeight = 560;
constexpr double kLeft = 80;             // room for the y ticks and label
constexpr double kRight = kWidth - 240;  // the legend sits right of the plot
constexpr double kTop = 72;              // title and subtitle
constexpr double kBottom = kHeight - 76;

std::string Num(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", v);
  return buffer;
}

std::string DataValue(double v) { return std::isfinite(v) ? ShortestDouble(v) : ""; }

// Attribute names: data- plus lowercase letters, digits and dashes.
std::string DataName(const std::string& key) {
  std::string name = "data-";
  for (char c : key) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
      name += c;
    } else if (c >= 'A' && c <= 'Z') {
      name += static_cast<char>(c - 'A' + 'a');
    } else {
      name += '-';
    }
  }
  return name;
}

std::string DataAttributes(const std::map<std::string, std::string>& data) {
  std::string out;
  for (const auto& [key, value] : data) {
    absl::StrAppend(&out, " ", DataName(key), "=\"", XmlEscape(value), "\"");
  }
  return out;
}

std::string SummaryAttributes(const Summary& s) {
  return absl::StrCat(" data-mean=\"", DataValue(s.mean), "\" data-std=\"",
                      s.n >= 2 ? DataValue(s.stddev) : "", "\" data-n=\"", s.n, "\"");
}

int TickDecimals(const std::vector<double>& ticks) {
  if (ticks.size() < 2) return 0;
  double step = ticks[1] - ticks[0];
  int decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return std::clamp(decimals, 0, 8);
}

std::string TickLabel(double v, int decimals) {
  if (std::fabs(v) < 1e-12) v = 0;  // no "-0.0"
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, v);
  return buffer;
}

std::vector<double> NiceTicksWithMinStep(double lo, double hi, int target, double min_step) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < 1e-12) {
    double pad = std::max(std::fabs(lo) * 0.1, 0.5);
    lo -= pad;
    hi += pad;
  }
  target = std::max(target, 2);
  double raw = (hi - lo) / target;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  step = std::max(step, min_step);
  // Whole multiples of the step: k * step, never an accumulated sum.
  double first = std::floor(lo / step + 1e-9);
  double last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last && ticks.size() < 1000; k += 1) ticks.push_back(k * step);
  return ticks;
}

// The XML declaration, the <svg> element on a white background, and the
// title and subtitle centred on center_x: the top of every figure.
std::string DocumentStart(double width, double height, double center_x, const std::string& title,
                          const std::string& subtitle) {
  std::string out = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"",
      width, "\" height=\"", height, "\" viewBox=\"0 0 ", width, " ", height,
      "\" font-family=\"Helvetica, Arial, sans-serif\">\n<title>", XmlEscape(title),
      "</title>\n<rect x=\"0\" y=\"0\" width=\"", width, "\" height=\"", height,
      "\" fill=\"#ffffff\"/>\n");
  absl::StrAppend(&out, "<text class=\"title\" x=\"", Num(center_x),
                  "\" y=\"30\" text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\">",
                  XmlEscape(title), "</text>\n");
  if (!subtitle.empty()) {
    absl::StrAppend(&out, "<text class=\"subtitle\" x=\"", Num(center_x),
                    "\" y=\"52\" text-anchor=\"middle\" font-size=\"12\" fill=\"#555555\">",
                    XmlEscape(subtitle), "</text>\n");
  }
  return out;
}

// A plot area with its scales, and the parts every chart shares.
class Canvas {
 public:
  Canvas(double x_lo, double x_hi, double y_lo, double y_hi)
      : x_lo_(x_lo), x_hi_(x_hi), y_lo_(y_lo), y_hi_(y_hi) {}

  double X(double x) const {
    return x_hi_ > x_lo_ ? kLeft + (x - x_lo_) / (x_hi_ - x_lo_) * (kRight - kLeft)
                         : (kLeft + kRight) / 2;
  }
  double Y(double y) const {
    double clamped = std::clamp(y, y_lo_, y_hi_);
    return kBottom - (clamped - y_lo_) / (y_hi_ - y_lo_) * (kBottom - kTop);
  }

  void Begin(const std::string& title, const std::string& subtitle) {
    out_ += DocumentStart(kWidth, kHeight, (kLeft + kRight) / 2, title, subtitle);
  }

  void YAxis(const std::vector<double>& ticks, const std::string& label) {
    int decimals = TickDecimals(ticks);
    absl::StrAppend(&out_, "<g class=\"y-axis\" font-size=\"12\">\n");
    for (double t : ticks) {
      double y = Y(t);
      absl::StrAppend(&out_, "<line x1=\"", Num(kLeft), "\" y1=\"", Num(y), "\" x2=\"", Num(kRight),
                      "\" y2=\"", Num(y), "\" stroke=\"#e5e5e5\"/>\n");
      absl::StrAppend(&out_, "<line x1=\"", Num(kLeft - 5), "\" y1=\"", Num(y), "\" x2=\"",
                      Num(kLeft), "\" y2=\"", Num(y), "\" stroke=\"#000000\"/>\n");
      absl::StrAppend(&out_, "<text x=\"", Num(kLeft - 8), "\" y=\"", Num(y + 4),
                      "\" text-anchor=\"end\">", TickLabel(t, decimals), "</text>\n");
    }
    absl::StrAppend(&out_, "<line x1=\"", Num(kLeft), "\" y1=\"", Num(kTop), "\" x2=\"", Num(kLeft),
                    "\" y2=\"", Num(kBottom), "\" stroke=\"#000000\"/>\n");
    double middle = (kTop + kBottom) / 2;
    absl::StrAppend(&out_, "<text class=\"y-label\" x=\"22\" y=\"", Num(middle),
                    "\" text-anchor=\"middle\" font-size=\"14\" transform=\"rotate(-90 22 ",
                    Num(middle), ")\">", XmlEscape(label), "</text>\n</g>\n");
  }

  // The x axis line and its label; ticks are added by the chart.
  void XAxisLine(const std::string& label) {
    absl::StrAppend(&out_, "<line class=\"x-axis\" x1=\"", Num(kLeft), "\" y1=\"", Num(kBottom),
                    "\" x2=\"", Num(kRight), "\" y2=\"", Num(kBottom), "\" stroke=\"#000000\"/>\n");
    absl::StrAppend(&out_, "<text class=\"x-label\" x=\"", Num((kLeft + kRight) / 2), "\" y=\"",
                    Num(kBottom + 50), "\" text-anchor=\"middle\" font-size=\"14\">",
                    XmlEscape(label), "</text>\n");
  }

  void XTick(double x, const std::string& text) {
    absl::StrAppend(&out_, "<line x1=\"", Num(x), "\" y1=\"", Num(kBottom), "\" x2=\"", Num(x),
                    "\" y2=\"", Num(kBottom + 5), "\" stroke=\"#000000\"/>\n");
    absl::StrAppend(&out_, "<text x=\"", Num(x), "\" y=\"", Num(kBottom + 20),
                    "\" text-anchor=\"middle\" font-size=\"12\">", XmlEscape(text), "</text>\n");
  }

  // Legend entries: a swatch drawn by `swatch` at (x, y) and a label.
  void Legend(const std::vector<std::string>& labels,
              const std::function<std::string(size_t, double, double)>& swatch) {
    absl::StrAppend(&out_, "<g class=\"legend\" font-size=\"12\">\n");
    double x = kRight + 20;
    double y = kTop + 8;
    for (size_t i = 0; i < labels.size(); ++i) {
      absl::StrAppend(&out_, swatch(i, x, y));
      absl::StrAppend(&out_, "<text x=\"", Num(x + 34), "\" y=\"", Num(y + 4), "\">",
                      XmlEscape(labels[i]), "</text>\n");
      y += 22;
    }
    absl::StrAppend(&out_, "</g>\n");
  }

  void NoData() {
    absl::StrAppend(&out_, "<text x=\"", Num((kLeft + kRight) / 2), "\" y=\"",
                    Num((kTop + kBottom) / 2),
                    "\" text-anchor=\"middle\" font-size=\"14\" "
                    "fill=\"#777777\">no data</text>\n");
  }

  std::string& out() { return out_; }
  std::string Finish() { return out_ + "</svg>\n"; }

 private:
  double x_lo_, x_hi_, y_lo_, y_hi_;
  std::string out_;
};

std::string Tint(const std::string& color, double amount) {
  unsigned r = 0, g = 0, b = 0;
  if (color.size() != 7 || std::sscanf(color.c_str(), "#%02x%02x%02x", &r, &g, &b) != 3)
    return color;
  auto mix = [&](unsigned c) { return static_cast<unsigned>(std::lround(c + (255 - c) * amount)); };
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "#%02x%02x%02x", mix(r), mix(g), mix(b));
  return buffer;
}

}  // namespace

SeriesStyle StyleFor(const std::string& model, const std::string& attention) {
  static const std::map<std::string, std::string> kModelColors = {{"mlp", "#1f77b4"},
                                                                  {"lstm", "#ff7f0e"},
                                                                  {"transformer", "#2ca02c"},
                                                                  {"cisformer", "#d62728"}};
  static const char* const kOthers[] = {"#9467bd", "#8c564b", "#e377c2",
                                        "#7f7f7f", "#bcbd22", "#17becf"};
  SeriesStyle style;
  auto it = kModelColors.find(model);
  if (it != kModelColors.end()) {
    style.color = it->second;
  } else {
    style.color = kOthers[std::hash<std::string>{}(model) % 6];
  }
  if (attention == "expressive") {
    style.color = Tint(style.color, 0.45);
    style.dashed = true;
  }
  return style;
}

std::vector<double> NiceTicks(double lo, double hi, int target) {
  return NiceTicksWithMinStep(lo, hi, target, 0);
}

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string RenderLineChart(const LineChartSpec& spec) {
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  bool integer_x = true;
  for (const LineSeries& series : spec.series) {
    for (const CurvePoint& p : series.points) {
      x_lo = std::min(x_lo, p.x);
      x_hi = std::max(x_hi, p.x);
      integer_x = integer_x && std::floor(p.x) == p.x;
      double band = p.y.n >= 2 && std::isfinite(p.y.stddev) ? p.y.stddev : 0;
      y_lo = std::min(y_lo, p.y.mean - band);
      y_hi = std::max(y_hi, p.y.mean + band);
    }
  }
  bool empty = !std::isfinite(x_lo);
  if (empty) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  if (std::isfinite(spec.y_min)) y_lo = spec.y_min;
  if (std::isfinite(spec.y_max)) y_hi = spec.y_max;
  std::vector<double> y_ticks = NiceTicks(y_lo, y_hi, 6);
  std::vector<double> x_ticks = NiceTicksWithMinStep(x_lo, x_hi, 8, integer_x ? 1 : 0);
  Canvas canvas(x_ticks.front(), x_ticks.back(), y_ticks.front(), y_ticks.back());
  canvas.Begin(spec.title, spec.subtitle);
  canvas.YAxis(y_ticks, spec.y_label);
  canvas.XAxisLine(spec.x_label);
  int decimals = TickDecimals(x_ticks);
  for (double t : x_ticks) canvas.XTick(canvas.X(t), TickLabel(t, decimals));
  if (empty) canvas.NoData();

  std::string& out = canvas.out();
  for (const LineSeries& series : spec.series) {
    absl::StrAppend(&out, "<g class=\"series\" data-label=\"", XmlEscape(series.label), "\"",
                    DataAttributes(series.data), ">\n");
    // The band: mean + sd left to right, then mean - sd right to left.
    bool has_band = std::any_of(series.points.begin(), series.points.end(),
                                [](const CurvePoint& p) { return p.y.n >= 2; });
    if (has_band && series.points.size() >= 2) {
      std::string d;
      for (size_t i = 0; i < series.points.size(); ++i) {
        const CurvePoint& p = series.points[i];
        double sd = p.y.n >= 2 ? p.y.stddev : 0;
        absl::StrAppend(&d, i == 0 ? "M" : " L", Num(canvas.X(p.x)), ",",
                        Num(canvas.Y(p.y.mean + sd)));
      }
      for (size_t i = series.points.size(); i-- > 0;) {
        const CurvePoint& p = series.points[i];
        double sd = p.y.n >= 2 ? p.y.stddev : 0;
        absl::StrAppend(&d, " L", Num(canvas.X(p.x)), ",", Num(canvas.Y(p.y.mean - sd)));
      }
      absl::StrAppend(&out, "<path class=\"band\" d=\"", d, " Z\" fill=\"", series.style.color,
                      "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n");
    }
    if (series.points.size() >= 2) {
      std::string d;
      for (size_t i = 0; i < series.points.size(); ++i) {
        const CurvePoint& p = series.points[i];
        absl::StrAppend(&d, i == 0 ? "M" : " L", Num(canvas.X(p.x)), ",", Num(canvas.Y(p.y.mean)));
      }
      absl::StrAppend(&out, "<path class=\"line\" d=\"", d, "\" fill=\"none\" stroke=\"",
                      series.style.color, "\" stroke-width=\"2\"",
                      series.style.dashed ? " stroke-dasharray=\"7 4\"" : "", "/>\n");
    }
    for (const CurvePoint& p : series.points) {
      absl::StrAppend(&out, "<circle class=\"point\" cx=\"", Num(canvas.X(p.x)), "\" cy=\"",
                      Num(canvas.Y(p.y.mean)), "\" r=\"2.5\" fill=\"", series.style.color,
                      "\" data-x=\"", DataValue(p.x), "\"", SummaryAttributes(p.y), "/>\n");
    }
    absl::StrAppend(&out, "</g>\n");
  }
  std::vector<std::string> labels;
  for (const LineSeries& series : spec.series) labels.push_back(series.label);
  canvas.Legend(labels, [&](size_t i, double x, double y) {
    const SeriesStyle& style = spec.series[i].style;
    return absl::StrCat(
        "<rect x=\"", Num(x), "\" y=\"", Num(y - 5), "\" width=\"26\" height=\"10\" fill=\"",
        style.color, "\" fill-opacity=\"0.18\"/>\n<line x1=\"", Num(x), "\" y1=\"", Num(y),
        "\" x2=\"", Num(x + 26), "\" y2=\"", Num(y), "\" stroke=\"", style.color,
        "\" stroke-width=\"2\"", style.dashed ? " stroke-dasharray=\"7 4\"" : "", "/>\n");
  });
  return canvas.Finish();
}

std::string RenderBarChart(const BarChartSpec& spec) {
  double y_lo = 0, y_hi = -INFINITY;
  for (const BarGroup& group : spec.groups) {
    for (const Bar& bar : group.bars) {
      double sd = bar.value.n >= 2 && std::isfinite(bar.value.stddev) ? bar.value.stddev : 0;
      y_lo = std::min(y_lo, bar.value.mean - sd);
      y_hi = std::max(y_hi, bar.value.mean + sd);
    }
  }
  bool empty = !std::isfinite(y_hi);
  if (empty) y_hi = 1;
  if (std::isfinite(spec.y_min)) y_lo = spec.y_min;
  if (std::isfinite(spec.y_max)) y_hi = spec.y_max;
  std::vector<double> y_ticks = NiceTicks(y_lo, y_hi, 6);
  Canvas canvas(0, 1, y_ticks.front(), y_ticks.back());
  canvas.Begin(spec.title, spec.subtitle);
  canvas.YAxis(y_ticks, spec.y_label);
  canvas.XAxisLine(spec.x_label);
  if (empty || spec.groups.empty()) canvas.NoData();

  std::string& out = canvas.out();
  double group_width = spec.groups.empty() ? 0 : (kRight - kLeft) / spec.groups.size();
  size_t slots = std::max<size_t>(1, spec.series.size());
  double bar_width = group_width * 0.8 / slots;
  double base = canvas.Y(std::clamp(0.0, y_ticks.front(), y_ticks.back()));
  for (size_t g = 0; g < spec.groups.size(); ++g) {
    const BarGroup& group = spec.groups[g];
    double group_left = kLeft + g * group_width;
    canvas.XTick(group_left + group_width / 2, group.label);
    absl::StrAppend(&out, "<g class=\"bar-group\" data-group=\"", XmlEscape(group.label), "\">\n");
    for (const Bar& bar : group.bars) {
      const SeriesStyle& style =
          bar.series < spec.series.size() ? spec.series[bar.series].style : SeriesStyle{};
      // A bar keeps its series' slot even when other series are missing, so
      // the same series sits at the same place in every group.
      double x = group_left + group_width * 0.1 + bar.series * bar_width;
      double top = canvas.Y(bar.value.mean);
      absl::StrAppend(&out, "<rect class=\"bar\" x=\"", Num(x + 1), "\" y=\"",
                      Num(std::min(top, base)), "\" width=\"", Num(std::max(1.0, bar_width - 2)),
                      "\" height=\"", Num(std::fabs(base - top)), "\" fill=\"", style.color,
                      "\" data-group=\"", XmlEscape(group.label), "\"", DataAttributes(bar.data),
                      SummaryAttributes(bar.value), "/>\n");
      if (bar.value.n >= 2 && std::isfinite(bar.value.stddev)) {
        double cx = x + bar_width / 2;
        double y1 = canvas.Y(bar.value.mean - bar.value.stddev);
        double y2 = canvas.Y(bar.value.mean + bar.value.stddev);
        double cap = std::min(6.0, bar_width / 4);
        absl::StrAppend(&out, "<path class=\"error-bar\" d=\"M", Num(cx), ",", Num(y1), " L",
                        Num(cx), ",", Num(y2), " M", Num(cx - cap), ",", Num(y1), " L",
                        Num(cx + cap), ",", Num(y1), " M", Num(cx - cap), ",", Num(y2), " L",
                        Num(cx + cap), ",", Num(y2),
                        "\" stroke=\"#333333\" stroke-width=\"1.2\" fill=\"none\"/>\n");
      }
    }
    absl::StrAppend(&out, "</g>\n");
  }
  std::vector<std::string> labels;
  for (const BarSeries& series : spec.series) labels.push_back(series.label);
  canvas.Legend(labels, [&](size_t i, double x, double y) {
    return absl::StrCat("<rect x=\"", Num(x), "\" y=\"", Num(y - 6),
                        "\" width=\"26\" height=\"12\" fill=\"", spec.series[i].style.color,
                        "\"/>\n");
  });
  return canvas.Finish();
}

// ----------------------------------------------------------------- heatmap

namespace {

// Viridis at t = 0, 0.1, ..., 1: perceptually uniform, readable in grey and
// by most colour-blind readers.
constexpr const char* kViridis[] = {"#440154", "#482475", "#414487", "#355f8d",
                                    "#2a788e", "#21918c", "#22a884", "#44bf70",
                                    "#7ad151", "#bddf26", "#fde725"};
constexpr int kViridisStops = 11;

constexpr double kHeatTop = 72;       // title and subtitle
constexpr double kHeatLeft = 44;      // the rotated y label
constexpr double kPanelGap = 28;      // between panels side by side
constexpr double kPanelRowGap = 16;   // between rows of panels
constexpr double kPanelTitle = 24;    // a panel's title above its grid
constexpr double kLegendWidth = 150;  // the colour scale right of the panels
constexpr size_t kPanelsPerRow = 3;
constexpr char kScaleId[] = "switchyard-heatmap-scale";
constexpr char kHatchId[] = "switchyard-heatmap-empty";

struct Rgb {
  double r, g, b;  // 0..255
};

Rgb ParseRgb(const std::string& color) {
  unsigned r = 0, g = 0, b = 0;
  std::sscanf(color.c_str(), "#%02x%02x%02x", &r, &g, &b);
  return {static_cast<double>(r), static_cast<double>(g), static_cast<double>(b)};
}

// Black or white, whichever contrasts more with `fill` (WCAG's relative
// luminance and contrast ratio).
std::string TextColorOn(const std::string& fill) {
  auto linear = [](double c) {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
  };
  Rgb rgb = ParseRgb(fill);
  double luminance = 0.2126 * linear(rgb.r) + 0.7152 * linear(rgb.g) + 0.0722 * linear(rgb.b);
  double with_black = (luminance + 0.05) / 0.05;
  double with_white = 1.05 / (luminance + 0.05);
  return with_black >= with_white ? "#000000" : "#ffffff";
}

// About how wide `text` is at `font_size` in Helvetica: enough to lay out
// tick labels without measuring fonts.
double TextWidth(const std::string& text, double font_size) {
  return static_cast<double>(text.size()) * font_size * 0.6;
}

double WidestText(const std::vector<std::string>& texts, double font_size) {
  double widest = 0;
  for (const std::string& t : texts) widest = std::max(widest, TextWidth(t, font_size));
  return widest;
}

// Where everything of a heatmap goes; sizes in SVG units.
struct HeatmapLayout {
  size_t columns = 1, rows = 1;  // of panels
  double cell_w = 0, cell_h = 0;
  double y_ticks_w = 0;  // left of each grid, for the y values
  double x_ticks_h = 0;  // under each grid, for the x values
  bool rotate_x = false;
  double grid_w = 0, grid_h = 0, panel_w = 0, panel_h = 0;
  double width = 0, height = 0;
  double legend_h = 0;
  double title_w = 0;  // about, with a margin

  double PanelLeft(size_t i) const { return kHeatLeft + (i % columns) * (panel_w + kPanelGap); }
  double PanelTop(size_t i) const { return kHeatTop + (i / columns) * (panel_h + kPanelRowGap); }
  double PanelsRight() const { return kHeatLeft + columns * panel_w + (columns - 1) * kPanelGap; }
  double PanelsBottom() const { return kHeatTop + rows * panel_h + (rows - 1) * kPanelRowGap; }
};

HeatmapLayout LayOut(const HeatmapChartSpec& spec) {
  HeatmapLayout l;
  size_t nx = std::max<size_t>(1, spec.x_values.size());
  size_t ny = std::max<size_t>(1, spec.y_values.size());
  size_t panels = std::max<size_t>(1, spec.panels.size());
  l.columns = std::min(panels, kPanelsPerRow);
  l.rows = (panels + l.columns - 1) / l.columns;
  l.cell_w = std::clamp(660.0 / static_cast<double>(l.columns * nx), 30.0, 90.0);
  l.cell_h = std::clamp(l.cell_w * 0.75, 24.0, 40.0);
  l.y_ticks_w = std::clamp(WidestText(spec.y_values, 11) + 10, 24.0, 120.0);
  double widest_x = std::min(WidestText(spec.x_values, 11), 120.0);
  l.rotate_x = widest_x > l.cell_w - 4;
  l.x_ticks_h = l.rotate_x ? widest_x * 0.72 + 18 : 20;
  l.grid_w = static_cast<double>(nx) * l.cell_w;
  l.grid_h = static_cast<double>(ny) * l.cell_h;
  l.panel_w = l.y_ticks_w + l.grid_w;
  l.panel_h = kPanelTitle + l.grid_h + l.x_ticks_h;
  l.legend_h = std::clamp(l.grid_h, 140.0, 260.0);
  // Wide enough for the title (bold 18) and the subtitle (12) too.
  l.title_w = std::max(TextWidth(spec.title, 18) * 1.1, TextWidth(spec.subtitle, 12)) + 32;
  l.width = std::ceil(std::max({l.PanelsRight() + kLegendWidth, l.title_w, 480.0}));
  l.height = std::ceil(std::max(l.PanelsBottom() + 44, kHeatTop + kPanelTitle + l.legend_h + 60));
  return l;
}

std::string HeatmapDefs() {
  std::string out = absl::StrCat("<defs>\n<linearGradient id=\"", kScaleId,
                                 "\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n");
  for (int i = 0; i < kViridisStops; ++i) {
    absl::StrAppend(&out, "<stop offset=\"", Num(i / (kViridisStops - 1.0)), "\" stop-color=\"",
                    kViridis[i], "\"/>\n");
  }
  absl::StrAppend(&out, "</linearGradient>\n<pattern id=\"", kHatchId,
                  "\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
                  "patternTransform=\"rotate(45)\">\n"
                  "<rect x=\"0\" y=\"0\" width=\"6\" height=\"6\" fill=\"#f4f4f4\"/>\n"
                  "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#c8c8c8\" "
                  "stroke-width=\"2\"/>\n</pattern>\n</defs>\n");
  return out;
}

// The colour scale: a bar from lo (bottom) to hi (top) with its ticks, and a
// hatched swatch for empty cells when there are any.
std::string HeatmapLegend(const HeatmapChartSpec& spec, const HeatmapLayout& l,
                          const std::vector<double>& ticks, bool has_empty) {
  double lo = ticks.front(), hi = ticks.back();
  double x = l.PanelsRight() + 36;
  double top = kHeatTop + kPanelTitle;
  std::string out = absl::StrCat("<g class=\"legend\" font-size=\"12\">\n");
  absl::StrAppend(&out, "<text x=\"", Num(x), "\" y=\"", Num(top - 10), "\">",
                  XmlEscape(spec.metric), "</text>\n");
  absl::StrAppend(&out, "<rect class=\"color-scale\" x=\"", Num(x), "\" y=\"", Num(top),
                  "\" width=\"16\" height=\"", Num(l.legend_h), "\" fill=\"url(#", kScaleId,
                  ")\" stroke=\"#000000\" stroke-width=\"0.6\" data-min=\"", DataValue(lo),
                  "\" data-max=\"", DataValue(hi), "\"/>\n");
  int decimals = TickDecimals(ticks);
  for (double t : ticks) {
    double y = top + l.legend_h * (1 - (t - lo) / (hi - lo));
    absl::StrAppend(&out, "<line x1=\"", Num(x + 16), "\" y1=\"", Num(y), "\" x2=\"", Num(x + 21),
                    "\" y2=\"", Num(y), "\" stroke=\"#000000\"/>\n");
    absl::StrAppend(&out, "<text class=\"tick\" x=\"", Num(x + 24), "\" y=\"", Num(y + 4), "\">",
                    TickLabel(t, decimals), "</text>\n");
  }
  if (has_empty) {
    double y = top + l.legend_h + 20;
    absl::StrAppend(&out, "<rect x=\"", Num(x), "\" y=\"", Num(y),
                    "\" width=\"16\" height=\"12\" fill=\"url(#", kHatchId,
                    ")\" stroke=\"#999999\" stroke-width=\"0.6\"/>\n");
    absl::StrAppend(&out, "<text x=\"", Num(x + 24), "\" y=\"", Num(y + 10), "\">no data</text>\n");
  }
  absl::StrAppend(&out, "</g>\n");
  return out;
}

}  // namespace

std::string ScaleColor(double t) {
  if (!std::isfinite(t)) t = 0;
  double at = std::clamp(t, 0.0, 1.0) * (kViridisStops - 1);
  int i = std::min(static_cast<int>(at), kViridisStops - 2);
  double f = at - i;
  Rgb a = ParseRgb(kViridis[i]), b = ParseRgb(kViridis[i + 1]);
  auto mix = [f](double x, double y) {
    return static_cast<unsigned>(std::lround(x + (y - x) * f));
  };
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "#%02x%02x%02x", mix(a.r, b.r), mix(a.g, b.g),
                mix(a.b, b.b));
  return buffer;
}

std::string RenderHeatmap(const HeatmapChartSpec& spec) {
  double lo = INFINITY, hi = -INFINITY;
  bool has_empty = false;
  const size_t nx = spec.x_values.size(), ny = spec.y_values.size();
  for (const HeatmapPanel& panel : spec.panels) {
    size_t filled = 0;
    for (const HeatmapCell& cell : panel.cells) {
      if (cell.value.n == 0 || !std::isfinite(cell.value.mean)) continue;
      ++filled;
      lo = std::min(lo, cell.value.mean);
      hi = std::max(hi, cell.value.mean);
    }
    has_empty = has_empty || filled < nx * ny;
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (std::isfinite(spec.value_min)) lo = spec.value_min;
  if (std::isfinite(spec.value_max)) hi = spec.value_max;
  const std::vector<double> ticks = NiceTicks(lo, hi, 5);
  const double scale_lo = ticks.front(), scale_hi = ticks.back();
  // One decimal more than the scale's ticks: 0.87 on a 0.0 .. 1.0 scale.
  const int value_decimals = std::min(TickDecimals(ticks) + 1, 8);

  const HeatmapLayout l = LayOut(spec);
  const double center = (kHeatLeft + l.PanelsRight()) / 2;
  // Over the panels, unless a long title would run off the left edge.
  const double title_x = std::max(center, l.title_w / 2);
  std::string out = DocumentStart(l.width, l.height, title_x, spec.title, spec.subtitle);
  out += HeatmapDefs();
  absl::StrAppend(&out, "<g class=\"heatmap\" data-x-key=\"", XmlEscape(spec.x_label),
                  "\" data-y-key=\"", XmlEscape(spec.y_label), "\" data-facet-key=\"",
                  XmlEscape(spec.facet_label), "\">\n");
  const double value_font =
      std::clamp(std::min(l.cell_w / (0.6 * (value_decimals + 3)), l.cell_h * 0.45), 7.0, 12.0);
  for (size_t p = 0; p < spec.panels.size(); ++p) {
    const HeatmapPanel& panel = spec.panels[p];
    const double grid_left = l.PanelLeft(p) + l.y_ticks_w;
    const double grid_top = l.PanelTop(p) + kPanelTitle;
    absl::StrAppend(&out, "<g class=\"panel\" data-facet=\"", XmlEscape(panel.facet), "\">\n");
    absl::StrAppend(&out, "<text class=\"panel-title\" x=\"", Num(grid_left + l.grid_w / 2),
                    "\" y=\"", Num(grid_top - 8),
                    "\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">",
                    XmlEscape(panel.title), "</text>\n");
    std::map<std::pair<size_t, size_t>, Summary> values;
    for (const HeatmapCell& cell : panel.cells) values[{cell.x, cell.y}] = cell.value;
    for (size_t yi = 0; yi < ny; ++yi) {
      const double y = grid_top + (ny - 1 - yi) * l.cell_h;  // the first row at the bottom
      for (size_t xi = 0; xi < nx; ++xi) {
        const double x = grid_left + xi * l.cell_w;
        auto it = values.find({xi, yi});
        Summary value = it != values.end() ? it->second : Summarize({});
        bool filled = value.n > 0 && std::isfinite(value.mean);
        if (!filled) value = Summarize({});
        std::string fill = filled ? ScaleColor((value.mean - scale_lo) / (scale_hi - scale_lo))
                                  : absl::StrCat("url(#", kHatchId, ")");
        absl::StrAppend(&out, "<rect class=\"cell\" x=\"", Num(x), "\" y=\"", Num(y), "\" width=\"",
                        Num(l.cell_w), "\" height=\"", Num(l.cell_h), "\" fill=\"", fill,
                        "\" stroke=\"#ffffff\" stroke-width=\"1\" data-x=\"",
                        XmlEscape(spec.x_values[xi]), "\" data-y=\"", XmlEscape(spec.y_values[yi]),
                        "\" data-facet=\"", XmlEscape(panel.facet), "\" data-metric=\"",
                        XmlEscape(spec.metric), "\"", SummaryAttributes(value), "/>\n");
        if (filled) {
          absl::StrAppend(&out, "<text class=\"value\" x=\"", Num(x + l.cell_w / 2), "\" y=\"",
                          Num(y + l.cell_h / 2 + value_font * 0.35),
                          "\" text-anchor=\"middle\" font-size=\"", Num(value_font), "\" fill=\"",
                          TextColorOn(fill), "\">", TickLabel(value.mean, value_decimals),
                          "</text>\n");
        }
      }
      absl::StrAppend(&out, "<text class=\"y-tick\" x=\"", Num(grid_left - 6), "\" y=\"",
                      Num(y + l.cell_h / 2 + 4), "\" text-anchor=\"end\" font-size=\"11\">",
                      XmlEscape(spec.y_values[yi]), "</text>\n");
    }
    const double below = grid_top + l.grid_h;
    for (size_t xi = 0; xi < nx; ++xi) {
      const double x = grid_left + (xi + 0.5) * l.cell_w;
      if (l.rotate_x) {
        absl::StrAppend(&out, "<text class=\"x-tick\" x=\"", Num(x), "\" y=\"", Num(below + 14),
                        "\" text-anchor=\"end\" font-size=\"11\" transform=\"rotate(-40 ", Num(x),
                        " ", Num(below + 14), ")\">", XmlEscape(spec.x_values[xi]), "</text>\n");
      } else {
        absl::StrAppend(&out, "<text class=\"x-tick\" x=\"", Num(x), "\" y=\"", Num(below + 14),
                        "\" text-anchor=\"middle\" font-size=\"11\">", XmlEscape(spec.x_values[xi]),
                        "</text>\n");
      }
    }
    absl::StrAppend(&out, "<rect x=\"", Num(grid_left), "\" y=\"", Num(grid_top), "\" width=\"",
                    Num(l.grid_w), "\" height=\"", Num(l.grid_h),
                    "\" fill=\"none\" stroke=\"#000000\" stroke-width=\"0.6\"/>\n</g>\n");
  }
  absl::StrAppend(&out, "</g>\n");
  if (spec.panels.empty() || nx == 0 || ny == 0) {
    absl::StrAppend(&out, "<text x=\"", Num(center), "\" y=\"", Num(kHeatTop + 60),
                    "\" text-anchor=\"middle\" font-size=\"14\" fill=\"#777777\">no data</text>\n");
  }
  const double middle = (kHeatTop + l.PanelsBottom()) / 2;
  absl::StrAppend(&out, "<text class=\"x-label\" x=\"", Num(center), "\" y=\"",
                  Num(l.PanelsBottom() + 20), "\" text-anchor=\"middle\" font-size=\"14\">",
                  XmlEscape(spec.x_label), "</text>\n");
  absl::StrAppend(&out, "<text class=\"y-label\" x=\"18\" y=\"", Num(middle),
                  "\" text-anchor=\"middle\" font-size=\"14\" transform=\"rotate(-90 18 ",
                  Num(middle), ")\">", XmlEscape(spec.y_label), "</text>\n");
  out += HeatmapLegend(spec, l, ticks, has_empty);
  return out + "</svg>\n";
}

}  // namespace switchyard::client
