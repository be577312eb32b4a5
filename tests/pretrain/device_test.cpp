// train.device / train.precision / train.tf32 / model.attention resolution, and the device
// helpers' CPU behaviour (pretrain/device.h). The CUDA side is tests/gpu/.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "pretrain/bench.h"
#include "pretrain/device.h"
#include "pretrain/pretrain_config.h"
#include "tests/support/user_error.h"

namespace electra::pretrain {
namespace {

Config config(const std::vector<std::string>& sets) {
  return Config::resolve(pretrain_schema(), "", sets);
}

std::string config_error(const std::vector<std::string>& sets) {
  return testing::user_error_of(
      [&] { read_pretrain_config(config(sets), /*tokenizer_vocab_size=*/100); });
}

TEST(Device, PrecisionMapsToTheComputeDtype) {
  const Runtime f = resolve_runtime(config({"train.device=cpu"}), 0);
  EXPECT_TRUE(f.device.is_cpu());
  EXPECT_EQ(f.dtype, at::kFloat);
  EXPECT_FALSE(f.fp16());
  const Runtime b = resolve_runtime(config({"train.device=cpu", "train.precision=bf16"}), 0);
  EXPECT_EQ(b.dtype, at::kBFloat16);
  EXPECT_EQ(b.precision, "bf16");
}

TEST(Device, AutoTakesTheGpuOfTheLocalRankWhenThereIsOne) {
  const Runtime r = resolve_runtime(config({}), /*local_rank=*/0);  // train.device defaults to auto
  if (!torch::cuda::is_available()) {
    EXPECT_TRUE(r.device.is_cpu());
    return;
  }
  EXPECT_TRUE(r.device.is_cuda());
  const int n = static_cast<int>(torch::cuda::device_count());
  EXPECT_EQ(resolve_runtime(config({}), n + 1).device.index(), (n + 1) % n);
}

TEST(Device, Fp16OnTheCpuIsAUserErrorThatSuggestsBf16) {
  const std::string e = config_error({"train.device=cpu", "train.precision=fp16"});
  EXPECT_NE(e.find("train.precision fp16 needs a CUDA device"), std::string::npos) << e;
  EXPECT_NE(e.find("train.precision from --set"), std::string::npos) << e;
  EXPECT_NE(e.find("Use train.precision=bf16"), std::string::npos) << e;
  EXPECT_EQ(config_error({"train.device=cpu", "train.precision=bf16"}), "no error");
}

TEST(Device, CudaWithoutADeviceIsAUserError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a CUDA device is visible";
  const std::string e = config_error({"train.device=cuda"});
  EXPECT_NE(e.find("train.device is cuda but no CUDA device is visible"), std::string::npos) << e;
  EXPECT_NE(e.find("Use train.device=cpu"), std::string::npos) << e;
  EXPECT_NE(config_error({"train.device=gpu"}).find("train.device"), std::string::npos);
}

TEST(Device, AttentionAutoFollowsTheLibTorchVersion) {
  const PretrainConfig pc = read_pretrain_config(config({"train.device=cpu"}), 100);
  EXPECT_EQ(pc.attention, model::sdpa_available() ? model::AttentionKernel::kSdpa
                                                  : model::AttentionKernel::kFused);
  EXPECT_EQ(read_pretrain_config(config({"model.attention=eager"}), 100).attention,
            model::AttentionKernel::kEager);
  const std::string e = config_error({"model.attention=sdpa"});
  if (model::sdpa_available()) {
    EXPECT_EQ(e, "no error");
  } else {
    EXPECT_NE(e.find("model.attention is sdpa (--set) but this LibTorch (" TORCH_VERSION
                     ") has no scaled_dot_product_attention"),
              std::string::npos)
        << e;
  }
}

TEST(Device, Tf32SwitchSetsTheGlobalFlags) {
  Runtime rt;
  rt.tf32 = true;
  apply_runtime(rt);
  EXPECT_TRUE(at::globalContext().allowTF32CuBLAS());
  EXPECT_TRUE(at::globalContext().allowTF32CuDNN());
  rt.tf32 = false;
  apply_runtime(rt);
  EXPECT_FALSE(at::globalContext().allowTF32CuBLAS());
  EXPECT_FALSE(at::globalContext().allowTF32CuDNN());
}

TEST(Device, CpuHelpers) {
  const at::Device cpu(at::kCPU);
  EXPECT_EQ(describe_device(cpu), "cpu");
  EXPECT_FALSE(peak_device_memory_mb(cpu).has_value());
  synchronize(cpu);  // a no-op
  // make_generator on the CPU is exactly the CPU generator the Gumbel noise always used.
  at::Generator a = make_generator(cpu, 77);
  at::Generator b = at::detail::createCPUGenerator(77);
  EXPECT_TRUE(at::equal(at::rand({16}, a), at::rand({16}, b)));
  // State bytes round-trip, and bytes that do not fit are a UserError.
  const std::string state = generator_state(a);
  const at::Tensor x = at::rand({8}, a);
  set_generator_state(a, state, "ckpt");
  EXPECT_TRUE(at::equal(at::rand({8}, a), x));
  EXPECT_NE(testing::user_error_of([&] {
              set_generator_state(a, "xyz", "ckpt");
            }).find("ckpt: corrupt random-generator state"),
            std::string::npos);
}

TEST(Device, KnownPeaksComeFromTheCardName) {
  EXPECT_EQ(known_peak_tflops("cuda:0 NVIDIA H100 80GB HBM3", "bf16", false), 989);
  EXPECT_EQ(known_peak_tflops("cuda:0 NVIDIA H200", "fp16", false), 989);
  EXPECT_EQ(known_peak_tflops("cuda:0 NVIDIA A100-SXM4-80GB", "bf16", false), 312);
  EXPECT_EQ(known_peak_tflops("cuda:0 NVIDIA H100 80GB HBM3", "fp32", true), 494);
  EXPECT_EQ(known_peak_tflops("cuda:0 NVIDIA H100 PCIe", "bf16", false), 0);  // not listed
  EXPECT_EQ(known_peak_tflops("cpu", "bf16", false), 0);
}

}  // namespace
}  // namespace electra::pretrain
