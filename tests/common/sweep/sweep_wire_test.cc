#include "common/sweep/sweep_wire.h"

#include <gtest/gtest.h>

#include <string>

namespace switchyard::common {
namespace {

namespace pb = ::switchyard::v1;

TEST(SweepWireTest, RoundTripKeepsOrderAndKinds) {
  SweepDefinition sweep;
  sweep.name = "wire";
  sweep.priority = 7;
  sweep.max_attempts = 2;
  sweep.axes.push_back({"model", {std::string("mlp"), std::string("lstm")}});
  sweep.axes.push_back({"seed", {int64_t{3}, int64_t{-1}}});
  sweep.axes.push_back({"lr", {0.001, 1.0}});  // 1.0 stays a number, not an integer

  pb::SweepSpec spec;
  spec.set_name("stale");  // replaced, not appended to
  spec.add_axes()->set_key("stale");
  SweepToProto(sweep, &spec);
  ASSERT_EQ(spec.axes_size(), 3);
  EXPECT_EQ(spec.name(), "wire");
  EXPECT_EQ(spec.priority(), 7);
  EXPECT_EQ(spec.max_attempts(), 2);
  EXPECT_EQ(spec.axes(0).values(1).string_value(), "lstm");
  EXPECT_EQ(spec.axes(1).values(1).int_value(), -1);
  EXPECT_EQ(spec.axes(2).values(1).kind_case(), pb::ParamValue::kFloatValue);

  absl::StatusOr<SweepDefinition> back = SweepFromProto(spec);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name, sweep.name);
  EXPECT_EQ(back->priority, sweep.priority);
  EXPECT_EQ(back->max_attempts, sweep.max_attempts);
  ASSERT_EQ(back->axes.size(), sweep.axes.size());
  for (size_t a = 0; a < sweep.axes.size(); ++a) {
    EXPECT_EQ(back->axes[a].key, sweep.axes[a].key);
    EXPECT_EQ(back->axes[a].values, sweep.axes[a].values);
  }
}

TEST(SweepWireTest, RoundTripKeepsTheSearch) {
  SweepDefinition sweep;
  sweep.name = "search";
  sweep.distributions.push_back({"lr", SweepDistribution::Kind::kLogUniform, 1e-4, 1e-2, {}});
  sweep.distributions.push_back(
      {"model", SweepDistribution::Kind::kChoice, 0, 0, {std::string("mlp"), std::string("lstm")}});
  sweep.search = {"random", 27, 5};
  pb::SweepSpec spec;
  SweepToProto(sweep, &spec);
  absl::StatusOr<SweepDefinition> back = SweepFromProto(spec);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->distributions.size(), 2u);
  EXPECT_EQ(back->distributions[0].kind, SweepDistribution::Kind::kLogUniform);
  EXPECT_EQ(back->distributions[0].low, 1e-4);
  EXPECT_EQ(back->distributions[0].high, 1e-2);
  EXPECT_EQ(back->distributions[1].choices, sweep.distributions[1].choices);
  EXPECT_EQ(back->search.method, "random");
  EXPECT_EQ(back->search.trials, 27);
  EXPECT_EQ(back->search.seed, 5);

  spec.mutable_distributions(0)->set_kind("gaussian");
  EXPECT_EQ(SweepFromProto(spec).status().message(), "lr: unknown distribution kind");
}

TEST(SweepWireTest, RoundTripKeepsTheScheduler) {
  SweepDefinition sweep;
  sweep.name = "asha";
  sweep.scheduler.kind = SchedulerSpec::Kind::kAsha;
  sweep.scheduler.asha = {"eval_loss", false, 2, 18, 3};
  pb::SweepSpec spec;
  SweepToProto(sweep, &spec);
  absl::StatusOr<SweepDefinition> back = SweepFromProto(spec);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->scheduler.kind, SchedulerSpec::Kind::kAsha);
  EXPECT_EQ(back->scheduler.asha.metric, "eval_loss");
  EXPECT_FALSE(back->scheduler.asha.maximize);
  EXPECT_EQ(back->scheduler.asha.min_epochs, 2);
  EXPECT_EQ(back->scheduler.asha.max_epochs, 18);
  EXPECT_EQ(back->scheduler.asha.reduction, 3);
  // The stored form says the same.
  absl::StatusOr<SchedulerSpec> stored = SchedulerFromJson(SchedulerToJson(back->scheduler));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->asha.metric, "eval_loss");
  EXPECT_EQ(stored->asha.max_epochs, 18);

  sweep.scheduler.kind = SchedulerSpec::Kind::kMedian;
  sweep.scheduler.median = {"accuracy", true, 3};
  SweepToProto(sweep, &spec);
  back = SweepFromProto(spec);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->scheduler.kind, SchedulerSpec::Kind::kMedian);
  EXPECT_EQ(back->scheduler.median.warmup_epochs, 3);

  spec.mutable_scheduler()->set_kind("hyperband");
  EXPECT_EQ(SweepFromProto(spec).status().message(),
            "scheduler: kind: unknown scheduler 'hyperband'; known: asha, median, none");
  spec.mutable_scheduler()->set_kind("median");
  spec.mutable_scheduler()->set_mode("largest");
  EXPECT_EQ(SweepFromProto(spec).status().message(),
            "scheduler: mode: expected max or min, got 'largest'");
  EXPECT_FALSE(SchedulerFromJson("{\"kind\":\"asha\"}").ok());
  EXPECT_TRUE(SchedulerFromJson("").ok());
}

TEST(SweepWireTest, RefusesBadShapesNamingTheAxis) {
  pb::SweepSpec spec;
  pb::Axis* axis = spec.add_axes();
  axis->set_key("seed");
  axis->add_values()->set_int_value(1);
  axis->add_values();  // no member of the oneof set
  absl::StatusOr<SweepDefinition> unset = SweepFromProto(spec);
  EXPECT_EQ(unset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(unset.status().message(), "seed: value 2 is unset");

  axis->mutable_values(1)->set_string_value(std::string(1025, 'x'));
  EXPECT_EQ(SweepFromProto(spec).status().message(), "seed: value 2 is longer than 1024 bytes");

  axis->set_key(std::string(1025, 'k'));
  EXPECT_EQ(SweepFromProto(spec).status().message(), "axes[0]: key longer than 1024 bytes");
}

}  // namespace
}  // namespace switchyard::common
