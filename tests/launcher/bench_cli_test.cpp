// `electra bench`: one JSON line whose figures agree with the model it timed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/blas.h"
#include "tests/support/blas_probe.h"
#include "tests/support/run_command.h"

namespace electra {
namespace {

using json = nlohmann::json;
using testing::CommandResult;

// A model small enough for a unit test: discriminator e16/h32/L2/ff64, generator at 0.5
// (h16, 1 head, ff64 -> derived 4*16), vocab 100, seq 32.
// Always on the CPU (train.device=cpu), also where a GPU is visible. `extra`: more arguments,
// after (and so winning over) these; `env`: variables set for the command, "A=1 B=2".
CommandResult bench(const std::string& steps = "3", bool inference = false,
                    const std::vector<std::string>& extra = {"--set=train.seed=42"},
                    const std::string& env = "", const std::string& warmup = "1") {
  // clang-format off
  std::vector<std::string> args = {
      "bench", "--config",
      std::string(ELECTRA_TEST_DATA) + "/../../configs/pretrain/electra-tiny.yaml", "--set",
      "model.vocab_size=100", "--set", "model.embedding_size=16", "--set", "model.hidden_size=32",
      "--set", "model.num_hidden_layers=2", "--set", "model.num_attention_heads=2", "--set",
      "model.intermediate_size=64", "--set", "model.max_position_embeddings=32", "--set",
      "generator.size_fraction=0.5", "--set", "data.seq_len=32", "--set", "train.batch_size=4",
      "--set", "train.grad_accum=2", "--set", "train.threads=1", "--set",
      "data.tokenizer=/nonexistent", "--steps", steps, "--warmup", warmup, "--gemm-seconds", "0.05",
      "--set=train.device=cpu", inference ? "--inference" : "--set=loss.temperature=1"};
  // clang-format on
  args.insert(args.end(), extra.begin(), extra.end());
  std::string cmd = env + " " + testing::shell_quote(ELECTRA_BINARY);
  for (const std::string& a : args)
    cmd += " " + testing::shell_quote(a);
  return testing::run_command(cmd);
}

json last_json_line(const std::string& out) {
  const size_t start = out.rfind("\n{");
  return json::parse(out.substr(start == std::string::npos ? 0 : start + 1));
}

TEST(BenchCliTest, TrainingFiguresFollowFromTheModel) {
  const CommandResult r = bench();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json j = last_json_line(r.output);
  EXPECT_EQ(j["bench"], "train");
  EXPECT_EQ(j["micro_batch"], 2);
  EXPECT_EQ(j["grad_accum"], 2);
  EXPECT_EQ(j["seq"], 32);
  EXPECT_EQ(j["intra_op_threads"], 1);
  // [CLS] A [SEP] B [SEP] of 32 tokens leaves 29 maskable; round(0.15 * 29) = 4 per sequence,
  // 4 sequences per optimizer step.
  EXPECT_EQ(j["masked_per_step"], 16);
  // Hand count, 128 tokens per step (2 micro-steps x 2 x 32), 2 FLOPs per multiply-add:
  //  discriminator: embedding projection 2*128*16*32 = 131072; per layer q,k,v,o
  //    2*128*32*32*4 = 1048576, scores and context 2*128*32*32*2 = 524288, FFN in and out
  //    2*128*32*64*2 = 1048576 -> x2 layers = 5242880; head 2*128*32*32 + 2*128*32 = 270336;
  //  generator (h16, ff64, no projection since e = h): per layer 2*128*16*16*4 = 262144,
  //    2*128*32*16*2 = 262144, 2*128*16*64*2 = 524288 -> x2 = 2097152; MLM head on 16
  //    positions 2*16*16*16 + 2*16*16*100 = 59392;
  //  forward 5644288 + 2097152 + 59392 = 7800832; x3 with the backward = 23402496.
  EXPECT_NEAR(j["model_tflop_per_step"].get<double>(), 23402496e-12, 1e-15);
  const double median_s = j["step_ms_median"].get<double>() / 1e3;
  EXPECT_LE(j["step_ms_min"].get<double>(), j["step_ms_median"].get<double>());
  EXPECT_LE(j["step_ms_median"].get<double>(), j["step_ms_max"].get<double>());
  EXPECT_NEAR(j["tokens_per_s"].get<double>(), 128 / median_s, 1e-6 * 128 / median_s);
  EXPECT_NEAR(j["achieved_tflops"].get<double>(), 23402496e-12 / median_s, 1e-9);
  ASSERT_GT(j["gemm_peak_tflops"].get<double>(), 0);
  EXPECT_NEAR(j["mfu"].get<double>(),
              j["achieved_tflops"].get<double>() / j["gemm_peak_tflops"].get<double>(), 1e-9);
  EXPECT_GT(j["peak_rss_mb"].get<double>(), 10);
  EXPECT_FALSE(j["blas"]["library"].get<std::string>().empty());
  // Who ran the fp32 GEMMs: the same choice the launcher's process made as this test's.
  EXPECT_EQ(j["blas"]["sgemm"], blas::sgemm_backend());
  // Products without a gradient: oneDNN's primitive where the build has it.
#if defined(ELECTRA_ONEDNN)
  EXPECT_EQ(j["eval_linear"], "onednn");
#else
  EXPECT_EQ(j["eval_linear"], "aten");
#endif
  EXPECT_TRUE(std::isfinite(j["last_value"].get<double>()));
  // GPU-only figures are null on the CPU rather than made-up zeros.
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_TRUE(j["peak_gpu_mem_mb"].is_null()) << j["peak_gpu_mem_mb"];
  EXPECT_TRUE(j["device_peak_tflops"].is_null());
  EXPECT_TRUE(j["mfu_device"].is_null());
  EXPECT_EQ(j["fp16_overflow_steps"], 0);
  // The fused LayerNorm kernel is CUDA's: on the CPU it is reported off whatever the key says.
  EXPECT_EQ(j["fused_layer_norm"], false);
  EXPECT_EQ(j["fused_bias_gelu"], false);
  // Two models' forward, backward and the clipping: well over a few hundred operators.
  EXPECT_GT(j["aten_ops_per_step"].get<int64_t>(), 300);
}

TEST(BenchCliTest, MfuAgainstAGivenDevicePeak) {
  const CommandResult r = bench("2", false, {"--peak-tflops=0.5"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json j = last_json_line(r.output);
  EXPECT_EQ(j["device_peak_tflops"].get<double>(), 0.5);
  EXPECT_NEAR(j["mfu_device"].get<double>(), j["achieved_tflops"].get<double>() / 0.5, 1e-12);
  const CommandResult bad = bench("2", false, {"--peak-tflops=-1"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--peak-tflops must be >= 0"), std::string::npos) << bad.output;
}

TEST(BenchCliTest, Fp32GemmsReachTheInterposerAndBf16TrainingMakesNone) {
  if (!testing::libtorch_calls_a_separate_blas())
    GTEST_SKIP() << "this LibTorch does not call a separate BLAS library's sgemm_";
  // The `electra` binary binds LibTorch's sgemm_ to its own (common/sgemm.cpp): an fp32 step's
  // products all arrive there. A bf16 step runs every product in bf16 (oneDNN's bf16 path),
  // none in fp32: a count above 0 would be an fp32 matmul left in the bf16 step.
  const CommandResult fp32 = bench("1", false, {"--set=train.precision=fp32"});
  ASSERT_EQ(fp32.exit_code, 0) << fp32.output;
  EXPECT_GT(last_json_line(fp32.output)["blas"]["sgemm_calls_per_step"].get<int64_t>(), 0);
  const CommandResult bf16 = bench("1", false, {"--set=train.precision=bf16"});
  ASSERT_EQ(bf16.exit_code, 0) << bf16.output;
  EXPECT_EQ(last_json_line(bf16.output)["blas"]["sgemm_calls_per_step"].get<int64_t>(), 0);
}

TEST(BenchCliTest, AnUnknownGemmChoiceIsRefused) {
  const CommandResult r =
      testing::run_command("ELECTRA_SGEMM=mkl " + testing::shell_quote(ELECTRA_BINARY) + " --help");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("ELECTRA_SGEMM=mkl is not a GEMM electra knows"), std::string::npos)
      << r.output;
}

// Whether a sanitizer's allocator stands in for glibc's malloc in these builds (tests/sanitize.sh):
// it quarantines freed blocks, and glibc's thresholds have nothing to act on.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerMalloc = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitizerMalloc = true;
#else
constexpr bool kSanitizerMalloc = false;
#endif
#else
constexpr bool kSanitizerMalloc = false;
#endif

TEST(BenchCliTest, FreedActivationsAreReusedNotMappedAgain) {
  if (kSanitizerMalloc) GTEST_SKIP() << "a sanitizer's allocator replaces glibc's malloc here";
  for (const char* v : {"GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                        "MALLOC_TOP_PAD_", "ELECTRA_NO_BLAS_FIX", "ELECTRA_BLAS_REEXEC"})
    if (std::getenv(v)) GTEST_SKIP() << v << " is set in the test's environment";
  // Activations above glibc's default 128 KiB mmap threshold: the FFN's [8 x 64, 512] fp32
  // output is 1 MiB.
  const std::vector<std::string> larger = {"--set=model.hidden_size=128",
                                           "--set=model.intermediate_size=512",
                                           "--set=model.num_attention_heads=2",
                                           "--set=model.max_position_embeddings=64",
                                           "--set=data.seq_len=64",
                                           "--set=train.batch_size=16"};
  const std::string kept =
      "glibc.malloc.mmap_threshold=68719476736:"
      "glibc.malloc.trim_threshold=68719476736";

  // By default `electra` re-executes itself with malloc's thresholds raised: the timed steps
  // reuse the blocks the warm-up steps freed. (After one warm-up step the heap still grew by
  // 100-200 pages a step; after three, by none.) The bound is well under one activation's 256
  // pages.
  const CommandResult tuned = bench("3", false, larger, "", "3");
  ASSERT_EQ(tuned.exit_code, 0) << tuned.output;
  const json t = last_json_line(tuned.output);
  EXPECT_EQ(t["blas"]["glibc_tunables"], kept);
  EXPECT_LT(t["page_faults_per_step"].get<double>(), 100) << tuned.output;

  // A user's own threshold wins, and is reported: with every block of 128 KiB or more mapped
  // afresh, each step faults in all of its activations again.
  const CommandResult mapped =
      bench("3", false, larger, "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072", "3");
  ASSERT_EQ(mapped.exit_code, 0) << mapped.output;
  const json m = last_json_line(mapped.output);
  EXPECT_EQ(m["blas"]["glibc_tunables"], "glibc.malloc.mmap_threshold=131072");
  EXPECT_GT(m["page_faults_per_step"].get<double>(), 2000) << mapped.output;

  // Other tunables the user set are kept, with the thresholds after them.
  const CommandResult other = bench("1", false, {}, "GLIBC_TUNABLES=glibc.malloc.tcache_count=7");
  ASSERT_EQ(other.exit_code, 0) << other.output;
  EXPECT_EQ(last_json_line(other.output)["blas"]["glibc_tunables"],
            "glibc.malloc.tcache_count=7:" + kept);
}

TEST(BenchCliTest, OverlapTimesWindowsOfStepsWithoutReadingTheNorm) {
  // 7 steps: one time per step synchronised, windows of 5 + 2 with --overlap. Both report the
  // host's time per step, which on the CPU (no queue) is nearly all of the step.
  for (const bool overlap : {false, true}) {
    std::vector<std::string> extra{"--set=train.seed=42"};
    if (overlap) extra.push_back("--overlap");
    const CommandResult r = bench("7", false, extra);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const json j = last_json_line(r.output);
    EXPECT_EQ(j["overlap"], overlap);
    EXPECT_EQ(j["timed_samples"], overlap ? 2 : 7);
    EXPECT_EQ(j["device_skipped_steps"], 0);
    const double host = j["host_ms_median"].get<double>();
    EXPECT_GT(host, 0.2 * j["step_ms_min"].get<double>()) << r.output;
    EXPECT_LT(host, 1.5 * j["step_ms_max"].get<double>()) << r.output;
    EXPECT_TRUE(std::isfinite(j["last_value"].get<double>()));
  }
}

TEST(BenchCliTest, InferenceTimesTheDiscriminatorForward) {
  const CommandResult r = bench("3", true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json j = last_json_line(r.output);
  EXPECT_EQ(j["bench"], "inference");
  // The discriminator's forward on one micro-batch (64 tokens): half of 5644288.
  EXPECT_NEAR(j["model_tflop_per_step"].get<double>(), 2822144e-12, 1e-15);
  EXPECT_NEAR(j["tokens_per_s"].get<double>(), 64 / (j["step_ms_median"].get<double>() / 1e3),
              1e-3);
}

TEST(BenchCliTest, ProfileWritesATrace) {
  // Kineto where LibTorch has it, else (Debian's 1.13) the legacy profiler's host operators.
  const std::string path = ::testing::TempDir() + "/bench_trace.json";
  std::remove(path.c_str());
  const CommandResult r = bench("1", false, {"--profile=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const json trace = json::parse(in);
  // Kineto writes {"traceEvents": [...]}, the legacy profiler a bare array of events.
  const json& events = trace.is_array() ? trace : trace["traceEvents"];
  int64_t matmuls = 0;
  for (const json& e : events)
    if (e.value("name", "") == "aten::addmm" || e.value("name", "") == "aten::mm") ++matmuls;
  EXPECT_GT(matmuls, 10);
}

TEST(BenchCliTest, BadStepsIsAClearError) {
  const CommandResult r = bench("0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--steps must be at least 1"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace electra
