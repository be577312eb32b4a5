#include "pretrain/bench.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <sys/resource.h>
#include <torch/utils.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "common/blas.h"
#include "common/error.h"
#include "common/log.h"
#include "common/rng.h"
#include "data/batch.h"
#include "data/tokenizer.h"
#include "distributed/cpu_binding.h"
#include "model/add_layer_norm.h"
#include "model/onednn_linear.h"
#include "pretrain/device.h"
#include "pretrain/flops.h"
#include "pretrain/graphed_step.h"
#include "pretrain/loss_scaler.h"
#include "pretrain/optimizer.h"
#include "pretrain/pretrain_config.h"
#include "pretrain/profile.h"
#include "pretrain/step.h"
#include "pretrain/trainer.h"

namespace electra::pretrain {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double peak_rss_mib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

// Page faults served without I/O so far: each is a page the kernel mapped and zeroed because
// the allocator had given it back (blas.cpp's malloc thresholds).
int64_t minor_page_faults() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_minflt);
}

// What one step did besides taking time.
struct StepCounts {
  int64_t ops = 0;          // ATen operators (count_aten_ops)
  int64_t sgemm_calls = 0;  // LibTorch's fp32 GEMM calls that reached common/sgemm.cpp
  double page_faults = 0;   // minor page faults, the mean over the timed steps
};

// Runs `step` warmup + steps times and returns the timed steps' seconds (and their page faults
// in counts->page_faults); then one more under count_aten_ops and, with --profile, three more
// under the profiler. Inference and training steps are measured by this one loop. Each step
// is synchronised on its own, so the times are steps' latencies, except with bo.overlap: the
// timed steps then run in windows of kOverlapWindow with the device synchronised only around
// each window, and each window gives one time, its seconds per step.
std::vector<double> time_steps(const std::function<void()>& step, const BenchOptions& bo,
                               const at::Device& dev, StepCounts* counts) {
  const auto synced_step = [&] {
    step();
    synchronize(dev);
  };
  for (int64_t s = 0; s < bo.warmup; ++s) {
    synchronize(dev);
    synced_step();
  }
  std::vector<double> times;
  const int64_t faults_before = minor_page_faults();
  for (int64_t s = 0; s < bo.steps;) {
    const int64_t n = bo.overlap ? std::min(kOverlapWindow, bo.steps - s) : 1;
    synchronize(dev);
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < n; ++i)
      step();
    synchronize(dev);
    times.push_back(seconds_since(t0) / static_cast<double>(n));
    s += n;
  }
  counts->page_faults = static_cast<double>(minor_page_faults() - faults_before) /
                        static_cast<double>(std::max<int64_t>(1, bo.steps));
  const uint64_t gemms_before = blas::interposed_sgemm_calls();
  counts->ops = count_aten_ops(synced_step);
  counts->sgemm_calls = static_cast<int64_t>(blas::interposed_sgemm_calls() - gemms_before);
  if (!bo.profile.empty())
    profile_to_file(bo.profile, dev.is_cuda(), [&] {
      for (int i = 0; i < 3; ++i)
        synced_step();
    });
  return times;
}

// Full-length two-segment sequences "[CLS] A [SEP] B [SEP]" of random ordinary tokens,
// masked exactly as the training pipeline masks (data::mask_examples).
data::Batch synthetic_batch(int64_t batch, int64_t seq, int64_t vocab, double mask_prob,
                            uint64_t seed) {
  data::SpecialIds special;  // ids 0-4; the synthetic tokens are drawn above them
  Rng rng(seed);
  std::vector<data::Example> examples(static_cast<size_t>(batch));
  const int32_t mid = static_cast<int32_t>(std::max<int64_t>(2, seq / 2));
  for (auto& e : examples) {
    e.ids.resize(static_cast<size_t>(seq));
    e.types.assign(static_cast<size_t>(seq), 0);
    for (auto& id : e.ids)
      id = static_cast<int32_t>(rng.uniform_int(5, vocab - 1));
    e.ids[0] = special.cls;
    e.ids[static_cast<size_t>(mid - 1)] = special.sep;
    e.ids[static_cast<size_t>(seq - 1)] = special.sep;
    for (int64_t i = mid; i < seq; ++i)
      e.types[static_cast<size_t>(i)] = 1;
    e.length = static_cast<int32_t>(seq);
  }
  data::MaskOptions mo;
  mo.mask_prob = mask_prob;
  return data::mask_examples(examples, special, mo, seed);
}

struct Timing {
  double median = 0, min = 0, max = 0;
};

Timing summarize(std::vector<double> t) {
  ELECTRA_CHECK(!t.empty(), "no timed steps");
  std::sort(t.begin(), t.end());
  const size_t n = t.size();
  const double median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
  return {median, t.front(), t.back()};
}

// The distinct matmul shapes of one encoder's forward on `tokens` rows: {m, k, n} -> count.
// Backward adds two products of the same size per forward product (dX = dY W^T, dW = X^T dY),
// which the micro-benchmark stands for with the forward shape.
void add_encoder_shapes(const model::ElectraConfig& c, int64_t tokens,
                        std::map<std::tuple<int64_t, int64_t, int64_t>, int64_t>* shapes) {
  const int64_t h = c.hidden_size, f = c.intermediate_size, L = c.num_hidden_layers;
  if (c.embedding_size != h) (*shapes)[{tokens, c.embedding_size, h}] += 1;
  (*shapes)[{tokens, h, 3 * h}] += L;  // query, key and value in one product (model/encoder.cpp)
  (*shapes)[{tokens, h, h}] += L;      // attention output
  (*shapes)[{tokens, h, f}] += L;
  (*shapes)[{tokens, f, h}] += L;
}

}  // namespace

double measure_gemm_flops(int64_t m, int64_t k, int64_t n, const std::string& dtype, double seconds,
                          const at::Device& device) {
  torch::NoGradGuard no_grad;
  const at::ScalarType st = dtype == "bf16"   ? at::kBFloat16
                            : dtype == "fp16" ? at::kHalf
                                              : at::kFloat;
  at::Tensor a = at::randn({m, k}).to(device, st);  // [m, k]
  at::Tensor b = at::randn({k, n}).to(device, st);  // [k, n]
  at::Tensor c = at::empty({m, n}, a.options());
  for (int i = 0; i < 2; ++i)
    at::mm_out(c, a, b);  // first calls pick kernels and fill caches
  // A GPU product of these sizes takes microseconds, less than the launch and synchronisation
  // around it: time a batch of products per measurement there.
  const int inner = device.is_cpu() ? 1 : 20;
  double best = 1e30;
  synchronize(device);
  const auto start = Clock::now();
  int reps = 0;
  while (reps < 3 || (seconds_since(start) < seconds && reps < 200)) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i)
      at::mm_out(c, a, b);
    synchronize(device);
    best = std::min(best, seconds_since(t0) / inner);
    ++reps;
  }
  return 2.0 * static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(n) / best;
}

double known_peak_tflops(const std::string& name, const std::string& precision, bool tf32) {
  // Dense (no 2:4 sparsity) tensor-core peaks from NVIDIA's data sheets, SXM parts; a PCIe
  // card or an unlisted one is left unknown rather than guessed.
  struct Card {
    const char* match;
    double half, tf32, fp32;  // bf16/fp16, tf32, plain fp32 (CUDA cores)
  };
  static const Card cards[] = {
      {"H200", 989, 494, 67},     {"H100 80GB HBM3", 989, 494, 67},  // H100 SXM
      {"H100 SXM", 989, 494, 67}, {"A100-SXM", 312, 156, 19.5},     {"A100 80GB", 312, 156, 19.5},
  };
  for (const Card& c : cards) {
    if (name.find(c.match) == std::string::npos) continue;
    if (precision == "bf16" || precision == "fp16") return c.half;
    return tf32 ? c.tf32 : c.fp32;
  }
  return 0;
}

std::string run_bench(const Config& cfg, const BenchOptions& bo, dist::Communicator& comm) {
  ELECTRA_CHECK_USER(bo.steps >= 1, "--steps must be at least 1, got ", bo.steps);
  ELECTRA_CHECK_USER(bo.warmup >= 0, "--warmup must be >= 0, got ", bo.warmup);
  // Decides between Kineto and the legacy profiler (and refuses) before the timed steps.
  if (!bo.profile.empty()) profile_to_file(bo.profile, /*cuda=*/false, [] {});
  // Synthetic data needs no tokenizer unless the vocabulary size must come from it.
  int64_t tok_vocab = 0;
  if (cfg.is_null("model.vocab_size"))
    tok_vocab =
        data::load_tokenizer(cfg.get_string("data.tokenizer"), "data.tokenizer")->vocab_size();
  const PretrainConfig pc = read_pretrain_config(cfg, tok_vocab);
  const int world = comm.world_size();
  ELECTRA_CHECK_USER(pc.batch_size % (static_cast<int64_t>(world) * pc.grad_accum) == 0,
                     "train.batch_size (", pc.batch_size, ") must be divisible by the ranks (",
                     world, ") times train.grad_accum (", pc.grad_accum, ")");
  const int64_t micro = pc.batch_size / world / pc.grad_accum, seq = pc.seq_len;
  const Runtime rt =
      resolve_runtime(pc.device, pc.precision, pc.tf32, comm.info().local_rank, "(bench)");
  apply_runtime(rt);
  const at::ScalarType dt = rt.dtype;
  const at::Device dev = rt.device;
  const int threads = choose_threads(pc.threads, comm.info());
  dist::set_compute_threads(threads);
  comm.set_timeout(pc.timeout_s);

  torch::manual_seed(static_cast<uint64_t>(pc.seed));
  model::PretrainingPair pair = model::make_pretraining_pair(pc.discriminator, pc.generator);
  place_pair(pair, pc, dev);
  auto params = model::unique_parameters(pair);
  int64_t n_params = 0;
  for (auto& [name, p] : params)
    n_params += p.numel();

  // A few distinct batches, cycled: the data path is not what is measured here.
  const int64_t pool = std::min<int64_t>(4, (bo.warmup + bo.steps) * pc.grad_accum);
  std::vector<data::Batch> batches;
  for (int64_t i = 0; i < pool; ++i)
    batches.push_back(
        synthetic_batch(micro, seq, pc.discriminator.vocab_size, pc.mask_prob,
                        mix_seed({static_cast<uint64_t>(pc.seed),
                                  static_cast<uint64_t>(comm.rank()), static_cast<uint64_t>(i)})));
  ELECTRA_CHECK_USER(!bo.overlap || !rt.fp16(),
                     "--overlap needs train.precision bf16 or fp32: fp16's loss scaler reads every "
                     "step's gradient norm on the host, which is the wait --overlap leaves out");
  int64_t masked = 0;  // per optimizer step on this rank (the same for every full batch)
  for (int64_t i = 0; i < pc.grad_accum; ++i)
    masked += batches[static_cast<size_t>(i % pool)].masked_index.numel();

  std::vector<double> times;
  // Host seconds of each call of the step, up to its first wait for the device (with
  // --overlap the whole step): how long the host takes to queue one step's work.
  std::vector<double> host_times;
  int64_t cursor = 0;
  double last_loss = 0;
  int64_t overflows = 0;
  int64_t device_skips = 0;  // --overlap: non-finite updates AdamW dropped on the device
  double loss_scale = 1.0;
  int64_t graph_replays = 0;  // train.cuda_graphs: steps run as a replay of the captured graph
  StepCounts counts;
  reset_peak_device_memory(dev);
  if (bo.inference) {
    c10::InferenceMode guard;
    pair.discriminator->eval();
    at::Tensor last;  // [] the last forward's logit sum
    const auto forward = [&] {
      const auto t0 = Clock::now();
      // The batch moves inside the timed region, as the trainer's does.
      const data::Batch& host = batches[static_cast<size_t>(cursor++ % pool)];
      const data::Batch b = batch_to(host, dev);
      at::Tensor logits = pair.discriminator(b.input_ids, b.attention_mask, b.token_type_ids,
                                             dt);  // [micro, seq] fp32
      last = logits.sum();  // read once, after the timed steps (time_steps synchronises)
      host_times.push_back(seconds_since(t0));
    };
    times = time_steps(forward, bo, dev, &counts);
    last_loss = last.item<double>();
  } else {
    pair.discriminator->train();
    pair.generator->train();
    AdamW optimizer(params, adamw_options(pc));
    dist::GradientReducer reducer(comm, params, {pc.bucket_mb, 0});
    reducer.broadcast_parameters(0);
    at::Generator gumbel = make_gumbel_generator(pc, comm.rank(), dev);
    StepParts parts = make_step_parts(pc, pair, params, reducer, gumbel, dt, dev);
    GraphedStep graphed(parts, pc.cuda_graphs, world,
                        GraphedStep::masked_capacity(micro, seq, pc.mask_prob));
    // fp16 runs scale the loss exactly as training does (pretrain/loss_scaler.h).
    LossScaler scaler(pc.amp, rt.fp16());
    at::Tensor last;  // the last step's loss, detached: holding the RtdOutput kept its graph alive
    const auto train_step = [&] {
      const auto t0 = Clock::now();
      parts.loss_scale = scaler.scale();
      // The loss is kept as a tensor: reading it would add a wait per step. A synchronised
      // step reads the gradient norm, as training with train.wait_each_step does; --overlap
      // reads nothing, as training by default does until the next step is queued.
      const at::Tensor norm = graphed.run(
          [&](int64_t) -> const data::Batch& {
            return batches[static_cast<size_t>(cursor++ % pool)];
          },
          [&](const RtdOutput& out, const data::Batch&) { last = out.loss.detach(); });
      // A constant learning rate: the schedule's value does not change the step's cost.
      if (bo.overlap) {
        optimizer.step(pc.lr, nonfinite_flag(norm));
        host_times.push_back(seconds_since(t0));
      } else {
        host_times.push_back(seconds_since(t0));
        if (scaler.update(!std::isfinite(norm.item<double>()))) optimizer.step(pc.lr);
      }
      optimizer.zero_grad();
    };
    times = time_steps(train_step, bo, dev, &counts);
    last_loss = last.item<double>();
    overflows = scaler.overflows();
    if (optimizer.device_skips().defined())
      device_skips = static_cast<int64_t>(optimizer.device_skips().item<double>());
    loss_scale = scaler.scale();
    graph_replays = graphed.replays();
  }
  const std::optional<double> peak_mem = peak_device_memory_mb(dev);

  // The timed steps' host times (warm-up calls first; count_aten_ops's and the profiler's after).
  const auto timed_host = host_times.begin() + std::min<int64_t>(bo.warmup, host_times.size());
  const Timing host = summarize(std::vector<double>(
      timed_host, timed_host + std::min<int64_t>(bo.steps, host_times.end() - timed_host)));

  // Step times: the slowest rank's, since a data-parallel step waits for it.
  Timing t = summarize(times);
  for (double* v : {&t.median, &t.min, &t.max}) {
    const auto all = comm.all_gather(*v);
    *v = *std::max_element(all.begin(), all.end());
  }
  const double rss = peak_rss_mib();
  const auto rss_all = comm.all_gather(rss);

  const int64_t tokens_per_rank_step = micro * seq * (bo.inference ? 1 : pc.grad_accum);
  const double step_flops = bo.inference ? discriminator_forward_flops(pc.discriminator, micro, seq)
                                         : rtd_train_step_flops(pc.discriminator, pc.generator,
                                                                micro * pc.grad_accum, seq, masked);
  const double achieved = step_flops / t.median;  // per rank

  // GEMM micro-benchmark on the model's shapes, in the same dtype; the peak is the best shape.
  json gemm = json::array();
  double gemm_peak = 0, mix_flops = 0, mix_time = 0;
  if (bo.gemm_seconds > 0) {
    std::map<std::tuple<int64_t, int64_t, int64_t>, int64_t> shapes;
    add_encoder_shapes(pc.discriminator, micro * seq, &shapes);
    if (!bo.inference) add_encoder_shapes(pc.generator, micro * seq, &shapes);
    const double per_shape = bo.gemm_seconds / static_cast<double>(shapes.size());
    for (const auto& [shape, count] : shapes) {
      const auto [m, k, n] = shape;
      const double rate = measure_gemm_flops(m, k, n, pc.precision, per_shape, dev);
      const double f = 2.0 * m * k * n * count;
      mix_flops += f;
      mix_time += f / rate;
      gemm_peak = std::max(gemm_peak, rate);
      gemm.push_back({{"m", m}, {"k", k}, {"n", n}, {"count", count}, {"tflops", rate / 1e12}});
    }
  }

  const blas::Info bi = blas::info();
  const std::string device_name = describe_device(dev);
  const double device_peak =
      bo.peak_tflops > 0 ? bo.peak_tflops : known_peak_tflops(device_name, pc.precision, rt.tf32);
  // null where there is no number (the CPU, an unknown card): never a made-up 0.
  const auto or_null = [](bool known, double v) { return known ? json(v) : json(nullptr); };
  json r = {
      {"bench", bo.inference ? "inference" : "train"},
      {"precision", pc.precision},
      {"batch", pc.batch_size},
      {"micro_batch", micro},
      {"grad_accum", bo.inference ? 1 : pc.grad_accum},
      {"seq", seq},
      {"world", world},
      {"steps", bo.steps},
      {"warmup", bo.warmup},
      {"tokens_per_s", static_cast<double>(tokens_per_rank_step) * world / t.median},
      {"step_ms_median", 1e3 * t.median},
      {"step_ms_min", 1e3 * t.min},
      {"step_ms_max", 1e3 * t.max},
      // Synchronised steps: latencies; --overlap: seconds per step of windows of steps.
      {"overlap", bo.overlap},
      {"timed_samples", static_cast<int64_t>(times.size())},  // steps, or windows of steps
      // The host's share: a step whose host_ms nears step_ms is bound by launching its work.
      {"host_ms_median", 1e3 * host.median},
      {"model_tflop_per_step", step_flops * world / 1e12},
      {"achieved_tflops", achieved * world / 1e12},
      {"gemm_peak_tflops", gemm_peak * world / 1e12},
      {"gemm_model_mix_tflops", mix_time > 0 ? mix_flops / mix_time * world / 1e12 : 0.0},
      {"mfu", gemm_peak > 0 ? achieved / gemm_peak : 0.0},
      {"device", device_name},
      {"attention", model::attention_name(pc.attention)},
      // Whether the blocks ran model/add_layer_norm.h's CUDA kernel (model.fused_layer_norm).
      {"fused_layer_norm", model::cuda_add_layer_norm_runs(pc.fused_layer_norm, dev)},
      // The same test for model/feed_forward.h's CUDA kernel (model.fused_bias_gelu): both are
      // in the one kernel library, so "built" is the same question.
      {"fused_bias_gelu", model::cuda_add_layer_norm_runs(pc.fused_bias_gelu, dev)},
      {"tf32", rt.tf32},
      {"cuda_graphs", pc.cuda_graphs},
      {"graph_replays", graph_replays},
      {"device_peak_tflops", or_null(device_peak > 0, device_peak)},
      {"mfu_device", or_null(device_peak > 0, achieved / (device_peak * 1e12))},
      {"peak_gpu_mem_mb", or_null(peak_mem.has_value(), peak_mem.value_or(0.0))},
      {"fp16_overflow_steps", overflows},
      {"device_skipped_steps", device_skips},
      {"loss_scale", loss_scale},
      {"gemm_shapes", gemm},
      {"peak_rss_mb", *std::max_element(rss_all.begin(), rss_all.end())},
      {"params", n_params},
      {"masked_per_step", masked},
      {"aten_ops_per_step", counts.ops},
      {"page_faults_per_step", counts.page_faults},
      {"intra_op_threads", at::get_num_threads()},
      {"blas",
       {{"library", bi.library},
        {"core", bi.core},
        {"threads", bi.threads},
        {"coretype_env", bi.coretype_env},
        {"reexeced", bi.reexeced},
        {"omp_wait_policy", bi.omp_wait_policy},
        {"glibc_tunables", bi.glibc_tunables},
        {"sgemm", bi.sgemm},
        {"sgemm_calls_per_step", counts.sgemm_calls}}},
      // Who runs the CPU's forward linear-layer products (--inference, and training's bf16 linear
      // layers and feed-forward blocks): model/onednn_linear.h.
      {"eval_linear", device_name == "cpu" && model::onednn_linear_enabled() ? "onednn" : "aten"},
      {"last_value", last_loss},
  };
  return r.dump();
}

}  // namespace electra::pretrain
