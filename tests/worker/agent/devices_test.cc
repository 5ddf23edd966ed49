#include "worker/agent/devices.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace switchyard::worker {
namespace {

TEST(DevicesTest, ParsesNvidiaSmiCsv) {
  auto gpus = ParseNvidiaSmiCsv(
      "1, Tesla T4, 15360\n"
      "0, NVIDIA H100 80GB HBM3, 81559\n"
      "2, Some Board, Rev. B, [N/A]\n");
  ASSERT_TRUE(gpus.ok()) << gpus.status();
  ASSERT_EQ(gpus->size(), 3u);
  EXPECT_EQ((*gpus)[0].name, "cuda:0");
  EXPECT_EQ((*gpus)[0].kind, "cuda");
  EXPECT_EQ((*gpus)[0].index, 0);
  EXPECT_EQ((*gpus)[0].description, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ((*gpus)[0].memory_bytes, int64_t{81559} << 20);
  EXPECT_EQ((*gpus)[1].description, "Tesla T4");
  EXPECT_EQ((*gpus)[2].description, "Some Board,Rev. B");
  EXPECT_EQ((*gpus)[2].memory_bytes, 0);
}

TEST(DevicesTest, RefusesMalformedNvidiaSmiOutput) {
  EXPECT_FALSE(ParseNvidiaSmiCsv("No devices were found\n").ok());
  auto empty = ParseNvidiaSmiCsv("\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(DevicesTest, FindsTheCudaVersionInTheBanner) {
  EXPECT_EQ(ParseCudaVersion("| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   "
                             "CUDA Version: 12.2     |"),
            "12.2");
  EXPECT_EQ(ParseCudaVersion("nothing here"), "");
}

TEST(DevicesTest, ReadsTheDriversGpuInformation) {
  DeviceInfo gpu = ParseProcGpuInformation(
      "Model: \t\t NVIDIA A100-SXM4-40GB\nIRQ:   \t\t 42\nDevice Minor: \t 3\n", 1);
  EXPECT_EQ(gpu.name, "cuda:1");
  EXPECT_EQ(gpu.index, 1);
  EXPECT_EQ(gpu.description, "NVIDIA A100-SXM4-40GB");
}

class ResolveDevicesTest : public ::testing::Test {
 protected:
  ResolveDevicesTest() {
    cpu_.name = cpu_.kind = "cpu";
    cpu_.memory_bytes = 1 << 30;
    for (int i = 0; i < 2; ++i) {
      DeviceInfo gpu;
      gpu.name = "cuda:" + std::to_string(i);
      gpu.kind = "cuda";
      gpu.index = i;
      gpu.memory_bytes = int64_t{16} << 30;
      two_gpus_.gpus.push_back(gpu);
    }
  }
  DeviceInfo cpu_;
  GpuProbe two_gpus_;
  GpuProbe no_gpu_;
};

TEST_F(ResolveDevicesTest, AutoTakesEveryGpuElseTheCpu) {
  auto with_gpus = ResolveDevices("auto", two_gpus_, cpu_);
  ASSERT_TRUE(with_gpus.ok());
  ASSERT_EQ(with_gpus->size(), 2u);
  EXPECT_EQ((*with_gpus)[1].name, "cuda:1");
  auto without = ResolveDevices("auto", no_gpu_, cpu_);
  ASSERT_TRUE(without.ok());
  ASSERT_EQ(without->size(), 1u);
  EXPECT_EQ((*without)[0].name, "cpu");
}

TEST_F(ResolveDevicesTest, ExplicitLists) {
  auto cpu = ResolveDevices("cpu", two_gpus_, cpu_);
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ((*cpu)[0].kind, "cpu");
  auto one = ResolveDevices(" cuda:1 ", two_gpus_, cpu_);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].index, 1);
  EXPECT_EQ((*one)[0].memory_bytes, int64_t{16} << 30);
  auto both = ResolveDevices("cuda:0,cuda:1", two_gpus_, cpu_);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->size(), 2u);
  // No probe result: trusted as given (a container without nvidia-smi).
  auto blind = ResolveDevices("cuda:3", no_gpu_, cpu_);
  ASSERT_TRUE(blind.ok());
  EXPECT_EQ((*blind)[0].index, 3);
}

TEST_F(ResolveDevicesTest, RefusesWhatCannotBeRight) {
  for (const char* spec : {"cuda:2", "gpu", "cuda:", "cuda:-1", "cuda:0,cuda:0", "", "cpu,"}) {
    auto devices = ResolveDevices(spec, two_gpus_, cpu_);
    EXPECT_EQ(devices.status().code(), absl::StatusCode::kInvalidArgument) << spec;
  }
}

TEST(TrainerProbeTest, ReadsTheProbeLine) {
  auto probe = ParseTrainerProbe(
      "some banner\n"
      "{\"probe\":true,\"libtorch\":\"1.13.0\",\"cuda_available\":false,"
      "\"cuda_device_count\":0}\n");
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->libtorch, "1.13.0");
  EXPECT_FALSE(probe->cuda_available);
  EXPECT_EQ(probe->cuda_device_count, 0);
  EXPECT_EQ(ParseTrainerProbe("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseTrainerProbe("{\"probe\":true,\"libtorch\":1}").ok());
  EXPECT_FALSE(ParseTrainerProbe("{\"epoch\":1}").ok());
}

TEST_F(ResolveDevicesTest, OnlyDevicesTheTrainerCanUseAreOffered) {
  TrainerProbe cpu_only{"1.13.0", false, 0};
  TrainerProbe cuda{"2.3.0", true, 2};
  std::string note;
  // A CUDA trainer: every GPU.
  auto all = DevicesTheTrainerCanUse("auto", two_gpus_.gpus, cuda, "/t", cpu_, &note);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  EXPECT_EQ(note, "");
  // auto with a CPU-only trainer on a GPU node: the CPU, and the reason.
  auto fallback = DevicesTheTrainerCanUse("auto", two_gpus_.gpus, cpu_only, "/t", cpu_, &note);
  ASSERT_TRUE(fallback.ok());
  ASSERT_EQ(fallback->size(), 1u);
  EXPECT_EQ((*fallback)[0].name, "cpu");
  EXPECT_EQ(note,
            "found 2 GPU(s) (cuda:0, cuda:1), but the trainer at /t was built without CUDA "
            "(LibTorch 1.13.0, cuda_available=false); offering the CPU only. Install a CUDA "
            "build of switchyard-train (or pass --trainer) to use them");
  // GPUs asked for by name: refused, saying why.
  auto refused = DevicesTheTrainerCanUse("cuda:0", {two_gpus_.gpus[0]}, cpu_only, "/t", cpu_,
                                         &note);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StartsWith(refused.status().message(),
                               "--devices cuda:0: the trainer at /t was built without CUDA "
                               "(LibTorch 1.13.0, cuda_available=false)"))
      << refused.status();
  // The CPU alone is fine with any trainer.
  auto cpu = DevicesTheTrainerCanUse("cpu", {cpu_}, cpu_only, "/t", cpu_, &note);
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ(cpu->size(), 1u);
}

}  // namespace
}  // namespace switchyard::worker
