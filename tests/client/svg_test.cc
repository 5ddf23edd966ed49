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

}  // namespace
}  // namespace switchyard::client
