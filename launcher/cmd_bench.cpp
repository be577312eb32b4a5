#include <iostream>

#include "common/error.h"
#include "common/log.h"
#include "launcher/command.h"
#include "launcher/runtime.h"
#include "pretrain/bench.h"
#include "pretrain/pretrain_config.h"

namespace electra::launcher {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra bench options");
  add_config_options(desc);
  pretrain::BenchOptions bo;
  desc.add_options()("steps", po::value<int64_t>(&bo.steps)->default_value(20), "timed steps")(
      "warmup", po::value<int64_t>(&bo.warmup)->default_value(3), "untimed steps before them")(
      "inference", po::bool_switch(&bo.inference),
      "time the discriminator's forward pass only (no gradient)")(
      "gemm-seconds", po::value<double>(&bo.gemm_seconds)->default_value(2.0),
      "time budget of the GEMM peak micro-benchmark (0 skips it)")(
      "peak-tflops", po::value<double>(&bo.peak_tflops)->default_value(0.0),
      "the device's peak dense TFLOP/s in train.precision, for mfu_device (0: look the GPU up "
      "in a small table: H100 SXM / H200 989, A100 312 for bf16/fp16)")(
      "overlap", po::bool_switch(&bo.overlap),
      "no wait for the device inside a step: the gradient norm stays there (AdamW drops a "
      "non-finite update on the device, as training does by default), and steps are timed in "
      "windows of 5, so the host queues step n+1 while the device runs step n (bf16 or fp32; "
      "what matters on a GPU)")(
      "profile", po::value<std::string>(&bo.profile),
      "after the timed steps, write a trace (Chrome JSON) of 3 more to this file: Kineto, or "
      "host operators only where LibTorch lacks it; bench/trace_summary.py summarises it");
  po::variables_map vm;
  if (!parse_args(
          args, desc, &vm,
          "usage: electra bench --config configs/pretrain/electra-small.yaml [--set ...]\n"
          "                     [--steps N] [--warmup W] [--inference] [--overlap]\n"
          "                     [--profile FILE]\n\n"
          "Times real pretraining steps (forward, backward, all-reduce under mpirun, AdamW) of\n"
          "the configured model on synthetic tokens (no I/O; no tokenizer needed when\n"
          "model.vocab_size is set), then the GEMM rate of the model's matmul shapes in the same\n"
          "dtype, and prints one JSON line: tokens/s, step times (median/min/max), model FLOPs,\n"
          "achieved TFLOP/s, GEMM peak, MFU, peak RSS, threads and the BLAS in use. On a GPU\n"
          "(train.device=auto|cuda) also the device name, peak GPU memory and MFU against the\n"
          "card's peak (mfu_device)."))
    return 0;
  ELECTRA_CHECK_USER(bo.peak_tflops >= 0, "--peak-tflops must be >= 0, got ", bo.peak_tflops);
  const Config cfg = load_config(vm, pretrain::pretrain_schema());
  dist::Communicator& comm = communicator();
  const std::string line = pretrain::run_bench(cfg, bo, comm);
  if (comm.rank() == 0) std::cout << line << std::endl;
  return 0;
}

Registrar reg({"bench", "time pretraining or inference steps on synthetic data (JSON line)", run});

}  // namespace
}  // namespace electra::launcher
