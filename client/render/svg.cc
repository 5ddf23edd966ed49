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
    absl::StrAppend(&out_,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"",
                    kWidth, "\" height=\"", kHeight, "\" viewBox=\"0 0 ", kWidth, " ", kHeight,
                    "\" font-family=\"Helvetica, Arial, sans-serif\">\n"
                    "<title>",
                    XmlEscape(title),
                    "</title>\n"
                    "<rect x=\"0\" y=\"0\" width=\"",
                    kWidth, "\" height=\"", kHeight, "\" fill=\"#ffffff\"/>\n");
    absl::StrAppend(&out_, "<text class=\"title\" x=\"", Num((kLeft + kRight) / 2),
                    "\" y=\"30\" text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\">",
                    XmlEscape(title), "</text>\n");
    if (!subtitle.empty()) {
      absl::StrAppend(&out_, "<text class=\"subtitle\" x=\"", Num((kLeft + kRight) / 2),
                      "\" y=\"52\" text-anchor=\"middle\" font-size=\"12\" fill=\"#555555\">",
                      XmlEscape(subtitle), "</text>\n");
    }
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

}  // namespace switchyard::client
