#include "client/render/svg.h"

#include <gtest/gtest.h>

#include <regex>
#include <stack>

#include "client/render/table.h"

namespace switchyard::client {
namespace {

// A small well-formedness check: every element is closed in order, quotes in
// tags balance, and text holds no bare '<' or '&' outside entities. The e2e
// tests parse real figures with a full XML parser.
::testing::AssertionResult WellFormed(const std::string& xml) {
  std::stack<std::string> open;
  size_t i = 0;
  if (xml.rfind("<?xml", 0) != 0) return ::testing::AssertionFailure() << "no XML declaration";
  i = xml.find("?>") + 2;
  int roots = 0;
  while (i < xml.size()) {
    if (xml[i] == '<') {
      size_t end = i + 1;
      bool in_quote = false;
      while (end < xml.size() && (in_quote || xml[end] != '>')) {
        if (xml[end] == '"') in_quote = !in_quote;
        if (in_quote && xml[end] == '<')
          return ::testing::AssertionFailure() << "'<' in an attribute";
        ++end;
      }
      if (end >= xml.size()) return ::testing::AssertionFailure() << "unclosed tag at " << i;
      std::string tag = xml.substr(i + 1, end - i - 1);
      if (tag[0] == '/') {
        std::string name = tag.substr(1);
        if (open.empty() || open.top() != name) {
          return ::testing::AssertionFailure()
                 << "</" << name << "> closes " << (open.empty() ? "nothing" : open.top());
        }
        open.pop();
      } else if (tag.back() != '/') {
        if (open.empty()) ++roots;
        open.push(tag.substr(0, tag.find_first_of(" \n")));
      } else if (open.empty()) {
        ++roots;
      }
      i = end + 1;
    } else {
      if (xml[i] == '&') {
        size_t semi = xml.find(';', i);
        std::string entity = xml.substr(i, semi - i + 1);
        if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" &&
            entity != "&apos;") {
          return ::testing::AssertionFailure() << "bad entity " << entity;
        }
      }
      ++i;
    }
  }
  if (!open.empty()) return ::testing::AssertionFailure() << "<" << open.top() << "> never closed";
  if (roots != 1) return ::testing::AssertionFailure() << roots << " root elements";
  return ::testing::AssertionSuccess();
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(NiceTicks, StepsOfOneTwoFive) {
  std::vector<double> unit = NiceTicks(0, 1, 5);
  ASSERT_EQ(unit.size(), 6u);
  for (size_t i = 0; i < unit.size(); ++i) EXPECT_NEAR(unit[i], 0.2 * i, 1e-12);
  std::vector<double> ticks = NiceTicks(0.13, 0.87, 6);
  EXPECT_LE(ticks.front(), 0.13);
  EXPECT_GE(ticks.back(), 0.87);
  EXPECT_NEAR(ticks[1] - ticks[0], 0.2, 1e-12);  // 0.74 / 6 = 0.12 rounds up to 0.2
  std::vector<double> wide = NiceTicks(1, 200, 8);
  EXPECT_NEAR(wide[1] - wide[0], 50, 1e-9);
  std::vector<double> flat = NiceTicks(0.5, 0.5, 5);  // one value: widened
  EXPECT_LT(flat.front(), 0.5);
  EXPECT_GT(flat.back(), 0.5);
}

TEST(XmlEscape, EscapesMarkup) {
  EXPECT_EQ(XmlEscape("a<b & \"c\" 'd'>\x01"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt; ");
}

LineChartSpec Lines() {
  LineChartSpec spec;
  spec.title = "accuracy against epoch, sweep 3 'q&a'";
  spec.subtitle = "tasks IARC";
  spec.x_label = "epoch";
  spec.y_label = "accuracy";
  spec.y_min = 0;
  spec.y_max = 1;
  LineSeries a;
  a.label = "mlp";
  a.style = StyleFor("mlp", "none");
  a.data = {{"model", "mlp"}, {"attention", "none"}};
  a.points = {{1, Summarize({0.2, 0.4})}, {2, Summarize({0.5, 0.7})}, {3, Summarize({0.6, 0.8})}};
  LineSeries b;
  b.label = "cisformer / expressive";
  b.style = StyleFor("cisformer", "expressive");
  b.data = {{"model", "cisformer"}, {"attention", "expressive"}};
  b.points = {{1, Summarize({0.5})}, {2, Summarize({0.9})}, {3, Summarize({0.95})}};
  spec.series = {a, b};
  return spec;
}

TEST(LineChart, WellFormedWithAxesLegendAndData) {
  std::string svg = RenderLineChart(Lines());
  EXPECT_TRUE(WellFormed(svg)) << svg;
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_NE(svg.find("<title>accuracy against epoch, sweep 3 &apos;q&amp;a&apos;</title>"),
            std::string::npos);
  EXPECT_NE(svg.find(">epoch</text>"), std::string::npos);
  EXPECT_NE(svg.find(">accuracy</text>"), std::string::npos);
  EXPECT_EQ(Count(svg, "class=\"series\""), 2);
  EXPECT_EQ(Count(svg, "class=\"point\""), 6);
  EXPECT_EQ(Count(svg, "class=\"line\""), 2);
  EXPECT_EQ(Count(svg, "class=\"band\""), 1);  // one seed: no band
  EXPECT_NE(svg.find("data-label=\"cisformer / expressive\" data-attention=\"expressive\" "
                     "data-model=\"cisformer\""),
            std::string::npos);
  EXPECT_NE(svg.find("data-x=\"2\" data-mean=\"0.6\" data-std=\"" +
                     ShortestDouble(Summarize({0.5, 0.7}).stddev) + "\" data-n=\"2\""),
            std::string::npos)
      << svg;
  EXPECT_NE(svg.find("data-x=\"3\" data-mean=\"0.95\" data-std=\"\" data-n=\"1\""),
            std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);  // expressive is dashed
  // y ticks 0.0 .. 1.0, x ticks at whole epochs only.
  EXPECT_NE(svg.find(">0.0</text>"), std::string::npos);
  EXPECT_NE(svg.find(">1.0</text>"), std::string::npos);
  EXPECT_EQ(svg.find(">1.5</text>"), std::string::npos);
  EXPECT_NE(svg.find("class=\"legend\""), std::string::npos);
  EXPECT_NE(svg.find(">cisformer / expressive</text>"), std::string::npos);
}

TEST(LineChart, EmptySaysNoData) {
  LineChartSpec spec;
  spec.title = "t";
  std::string svg = RenderLineChart(spec);
  EXPECT_TRUE(WellFormed(svg));
  EXPECT_NE(svg.find(">no data</text>"), std::string::npos);
}

TEST(BarChart, WellFormedWithGroupsAndErrorBars) {
  BarChartSpec spec;
  spec.title = "final accuracy per task subset";
  spec.x_label = "task subset";
  spec.y_label = "final accuracy";
  spec.y_min = 0;
  spec.y_max = 1;
  spec.series = {{"mlp", StyleFor("mlp", "none")},
                 {"transformer / softmax", StyleFor("transformer", "softmax")}};
  Bar b1{0, Summarize({0.4, 0.5}), {{"model", "mlp"}, {"tasks", "IARC"}}};
  Bar b2{1, Summarize({0.7, 0.9}), {{"model", "transformer"}, {"tasks", "IARC"}}};
  Bar b3{1, Summarize({0.99}), {{"model", "transformer"}, {"tasks", "IA"}}};
  spec.groups = {{"IARC", {b1, b2}}, {"IA", {b3}}};
  std::string svg = RenderBarChart(spec);
  EXPECT_TRUE(WellFormed(svg)) << svg;
  EXPECT_EQ(Count(svg, "class=\"bar\""), 3);
  EXPECT_EQ(Count(svg, "class=\"error-bar\""), 2);
  EXPECT_EQ(Count(svg, "class=\"bar-group\""), 2);
  EXPECT_NE(
      svg.find("data-group=\"IA\" data-model=\"transformer\" data-tasks=\"IA\" data-mean=\"0.99\" "
               "data-std=\"\" data-n=\"1\""),
      std::string::npos)
      << svg;
  EXPECT_NE(svg.find(">IARC</text>"), std::string::npos);
  EXPECT_NE(svg.find(">task subset</text>"), std::string::npos);
}

TEST(StyleFor, StableAndDistinct) {
  EXPECT_EQ(StyleFor("mlp", "none").color, StyleFor("mlp", "none").color);
  EXPECT_NE(StyleFor("transformer", "softmax").color, StyleFor("transformer", "expressive").color);
  EXPECT_FALSE(StyleFor("transformer", "softmax").dashed);
  EXPECT_TRUE(StyleFor("cisformer", "expressive").dashed);
  EXPECT_NE(StyleFor("mlp", "none").color, StyleFor("lstm", "none").color);
}

// Two facets over length x width; the hostile facet's bottom-right cell has
// no value.
HeatmapChartSpec Heat() {
  HeatmapChartSpec spec;
  spec.title = "final accuracy by length and width, sweep 7 'bh'";
  spec.subtitle = "cell = mean over seeds";
  spec.x_label = "length";
  spec.y_label = "width";
  spec.facet_label = "model";
  spec.metric = "accuracy";
  spec.value_min = 0;
  spec.value_max = 1;
  spec.x_values = {"20", "50", "100"};
  spec.y_values = {"64", "256"};
  HeatmapPanel a{"transformer", "transformer", {}};
  HeatmapPanel b{"<script>alert(1)</script>", "<script>alert(1)</script>", {}};
  for (size_t x = 0; x < 3; ++x) {
    for (size_t y = 0; y < 2; ++y) {
      double v = 0.25 * static_cast<double>(x + y);
      a.cells.push_back({x, y, Summarize({v, v + 0.5})});
      if (x != 2 || y != 0) b.cells.push_back({x, y, Summarize({v})});
    }
  }
  spec.panels = {a, b};
  return spec;
}

TEST(Heatmap, EveryCellCarriesItsNumbers) {
  std::string svg = RenderHeatmap(Heat());
  EXPECT_TRUE(WellFormed(svg)) << svg;
  EXPECT_NE(svg.find("<title>final accuracy by length and width, sweep 7 &apos;bh&apos;</title>"),
            std::string::npos);
  EXPECT_NE(svg.find("class=\"heatmap\" data-x-key=\"length\" data-y-key=\"width\" "
                     "data-facet-key=\"model\""),
            std::string::npos);
  EXPECT_EQ(Count(svg, "class=\"panel\""), 2);
  EXPECT_EQ(Count(svg, "class=\"cell\""), 12);
  EXPECT_EQ(Count(svg, "class=\"value\""), 11);  // the empty cell has none
  EXPECT_NE(svg.find("data-x=\"50\" data-y=\"256\" data-facet=\"transformer\" "
                     "data-metric=\"accuracy\" data-mean=\"0.75\" data-std=\"" +
                     ShortestDouble(Summarize({0.5, 1.0}).stddev) + "\" data-n=\"2\""),
            std::string::npos)
      << svg;
  EXPECT_NE(svg.find(">0.75</text>"), std::string::npos);
  // The empty cell: hatched, n = 0, no mean.
  EXPECT_NE(svg.find("fill=\"url(#switchyard-heatmap-empty)\" stroke=\"#ffffff\" "
                     "stroke-width=\"1\" data-x=\"100\" data-y=\"64\" "
                     "data-facet=\"&lt;script&gt;alert(1)&lt;/script&gt;\" "
                     "data-metric=\"accuracy\" data-mean=\"\" data-std=\"\" data-n=\"0\""),
            std::string::npos)
      << svg;
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_NE(svg.find(">&lt;script&gt;alert(1)&lt;/script&gt;</text>"), std::string::npos);
  // The legend: a 0..1 colour scale with ticks, and the hatch explained.
  EXPECT_NE(svg.find("class=\"legend\""), std::string::npos);
  EXPECT_NE(svg.find("class=\"color-scale\""), std::string::npos);
  EXPECT_NE(svg.find("data-min=\"0\" data-max=\"1\""), std::string::npos);
  EXPECT_EQ(Count(svg, "class=\"tick\""), 6);  // 0.0, 0.2, ..., 1.0
  EXPECT_NE(svg.find(">no data</text>"), std::string::npos);
  EXPECT_NE(svg.find(">length</text>"), std::string::npos);
  EXPECT_NE(svg.find(">width</text>"), std::string::npos);
}

TEST(Heatmap, ScaleFromTheDataAndTextThatContrasts) {
  HeatmapChartSpec spec;
  spec.title = "final loss";
  spec.x_label = "width";
  spec.y_label = "layers";
  spec.metric = "loss";
  spec.x_values = {"64", "128"};
  spec.y_values = {"1"};
  spec.panels = {{"", "", {{0, 0, Summarize({2.5})}, {1, 0, Summarize({7.5})}}}};
  std::string svg = RenderHeatmap(spec);
  EXPECT_TRUE(WellFormed(svg)) << svg;
  EXPECT_NE(svg.find("data-min=\"2\" data-max=\"8\""), std::string::npos) << svg;
  EXPECT_EQ(svg.find(">no data</text>"), std::string::npos);  // no empty cell
  // Ticks 2 .. 8: dark 2.5 takes white text, yellow 7.5 black.
  EXPECT_NE(svg.find("fill=\"#ffffff\">2.5</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("fill=\"#000000\">7.5</text>"), std::string::npos);
  EXPECT_EQ(ScaleColor(0), "#440154");
  EXPECT_EQ(ScaleColor(1), "#fde725");
  EXPECT_EQ(ScaleColor(7), "#fde725");  // clamped
  EXPECT_EQ(ScaleColor(0.5), "#21918c");
}

TEST(Heatmap, PanelsWrapAfterThree) {
  auto size_of = [](size_t panels) {
    HeatmapChartSpec spec = Heat();
    spec.panels.resize(panels, spec.panels.front());
    std::string svg = RenderHeatmap(spec);
    EXPECT_TRUE(WellFormed(svg));
    EXPECT_EQ(Count(svg, "class=\"panel\""), static_cast<int>(panels));
    size_t at = svg.find("<svg ");
    return svg.substr(at, svg.find(" viewBox") - at);  // width="W" height="H"
  };
  std::string three = size_of(3), four = size_of(4);
  EXPECT_EQ(three.substr(0, three.find(" height")), four.substr(0, four.find(" height")));
  EXPECT_NE(three, four);  // a second row: taller
}

TEST(Heatmap, EmptySaysNoData) {
  HeatmapChartSpec spec;
  spec.title = "t";
  std::string svg = RenderHeatmap(spec);
  EXPECT_TRUE(WellFormed(svg)) << svg;
  EXPECT_NE(svg.find(">no data</text>"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::client
