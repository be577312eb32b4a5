#include "pretrain/trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/rng.h"
#include "common/signals.h"
#include "common/strings.h"
#include "data/pipeline.h"
#include "distributed/cpu_binding.h"
#include "distributed/gradient_reducer.h"
#include "model/add_layer_norm.h"
#include "model/electra.h"
#include "pretrain/checkpoint.h"
#include "pretrain/device.h"
#include "pretrain/graphed_step.h"
#include "pretrain/init_from.h"
#include "pretrain/loss_scaler.h"
#include "pretrain/optimizer.h"
#include "pretrain/pretrain_config.h"
#include "pretrain/rtd.h"
#include "pretrain/step.h"

namespace electra::pretrain {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

int choose_threads(int64_t configured, const dist::ProcessInfo& who) {
  if (configured > 0) return static_cast<int>(configured);
  if (who.cores > 0) return who.cores;  // this rank's share of the node's cores
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, who.local_size));
}

namespace {

// Fault injection for tests/faults and the trainer tests: ELECTRA_FAULT_NONFINITE_STEPS="3,7"
// poisons the gradients of those optimizer steps (1-based) with NaN, so that the
// train.on_nonfinite policy can be exercised without waiting for a real divergence.
std::set<int64_t> nonfinite_fault_steps() {
  std::set<int64_t> steps;
  const char* env = std::getenv("ELECTRA_FAULT_NONFINITE_STEPS");
  if (!env || !*env) return steps;
  for (const auto& s : split(env, ',')) {
    const std::string t(trim(s));
    ELECTRA_CHECK_USER(!t.empty() && t.find_first_not_of("0123456789") == std::string::npos,
                       "ELECTRA_FAULT_NONFINITE_STEPS must be a comma-separated list of step "
                       "numbers, got '",
                       env, "'");
    steps.insert(std::stoll(t));
  }
  log::warn("fault injection: the gradients of step(s) ", env,
            " will be NaN (ELECTRA_FAULT_NONFINITE_STEPS)");
  return steps;
}

std::string fmt(double v, int prec = 4) {
  std::ostringstream os;
  os << std::setprecision(prec) << v;
  return os.str();
}

// Window sums of the step metrics, kept as tensors until a log line reads them.
// fp16: a loss scale this small after backing off means the gradients are NaN/inf at any
// scale (2^16 halved 40 times); no healthy run gets near it.
constexpr double kMinLossScale = 1.0 / (1 << 24);

// Restores the per-rank RNG streams that live on the device: the Gumbel generator, and on CUDA
// the default CUDA generator (dropout). A checkpoint written on another device type has
// generator states of another kind: the streams then start fresh (said in a warning), since no
// resume across device types can be bit-exact anyway.
void restore_device_rng(const RankState& rs, const at::Device& device, at::Generator& gumbel,
                        const std::string& origin) {
  const std::string here = device.is_cuda() ? "cuda" : "cpu";
  if (rs.gumbel_device != here) {
    log::warn(origin, " was written on ", rs.gumbel_device, " and this run is on ", here,
              ": the sampling and dropout random streams restart from train.seed");
    return;
  }
  set_generator_state(gumbel, rs.gumbel_rng, origin);
  if (device.is_cuda() && !rs.cuda_rng.empty()) {
    at::Generator def = default_generator(device);
    set_generator_state(def, rs.cuda_rng, origin);
  }
}

struct Window {
  at::Tensor loss, gen_loss, disc_loss, disc_correct, disc_flagged, real, gen_correct, masked,
      replaced;
  int64_t micro = 0, steps = 0, skipped = 0;
  double grad_norm = 0;
  Clock::time_point start = Clock::now();
  int64_t tokens = 0;

  void add(const RtdOutput& o) {
    auto acc = [](at::Tensor& a, const at::Tensor& b) {
      a = a.defined() ? a + b.detach() : b.detach();
    };
    acc(loss, o.loss);
    acc(gen_loss, o.gen_loss);
    acc(disc_loss, o.disc_loss);
    acc(disc_correct, o.disc_correct);
    acc(disc_flagged, o.disc_flagged);
    acc(real, o.real_tokens);
    acc(gen_correct, o.gen_correct);
    acc(masked, o.masked);
    acc(replaced, o.replaced);
    ++micro;
  }
};

}  // namespace

PretrainResult run_pretraining(const Config& cfg_in, dist::Communicator& comm) {
  Config cfg = cfg_in;
  const int rank = comm.rank(), world = comm.world_size();
  PretrainResult result;

  // --- Tokenizer and the resolved config --------------------------------------------------------
  std::shared_ptr<const data::Tokenizer> tok =
      data::load_tokenizer(cfg.get_string("data.tokenizer"), "data.tokenizer");
  PretrainConfig pc = read_pretrain_config(cfg, tok->vocab_size());
  if (cfg.is_null("model.vocab_size"))
    cfg.set("model.vocab_size", std::to_string(pc.discriminator.vocab_size), "tokenizer");
  pc.discriminator.pad_token_id = tok->special().pad;
  pc.generator.pad_token_id = tok->special().pad;

  const int64_t per_rank = pc.batch_size / world;
  ELECTRA_CHECK_USER(pc.batch_size % (static_cast<int64_t>(world) * pc.grad_accum) == 0,
                     "train.batch_size (", pc.batch_size,
                     ") is the global batch; it must be "
                     "divisible by the number of ranks (",
                     world, ") times train.grad_accum (", pc.grad_accum, ")");
  const int64_t micro_batch = per_rank / pc.grad_accum;
  const Runtime rt =
      resolve_runtime(pc.device, pc.precision, pc.tf32, comm.info().local_rank, "(pretrain)");
  apply_runtime(rt);
  const at::ScalarType dt = rt.dtype;

  const int threads = choose_threads(pc.threads, comm.info());
  dist::set_compute_threads(threads);
  comm.set_timeout(pc.timeout_s);

  const std::string ckpt_dir = fs::join(pc.output_dir, "checkpoints");
  if (rank == 0) {
    fs::ensure_writable_dir(pc.output_dir, "output.dir");
    fs::ensure_writable_dir(ckpt_dir, "output.dir");
    remove_stale_staging(ckpt_dir);
  }
  comm.barrier();
  const auto files = fs::expand_inputs(pc.data_files, "data.files");

  // --- Model, optimizer, RNG --------------------------------------------------------------------
  torch::manual_seed(static_cast<uint64_t>(pc.seed));
  model::PretrainingPair pair = model::make_pretraining_pair(pc.discriminator, pc.generator);
  // Initialised on the CPU (the same weights whatever the device), then moved: parameters keep
  // their identity, so the optimizer state and the reducer's buckets are made on the device.
  place_pair(pair, pc, rt.device);
  pair.discriminator->train();
  pair.generator->train();
  auto params = model::unique_parameters(pair);
  AdamW optimizer(params, adamw_options(pc));
  at::Generator gumbel = make_gumbel_generator(pc, rank, rt.device);
  LossScaler scaler(pc.amp, rt.fp16());
  // Dropout draws from the default generator (the CPU's, or the GPU's on CUDA): give each rank
  // its own stream. manual_seed seeds the CUDA generators too.
  torch::manual_seed(
      mix_seed({static_cast<uint64_t>(pc.seed), static_cast<uint64_t>(rank), 0xD50ull}));

  // --- Resume or start ---------------------------------------------------------------------------
  TrainerState ts;
  ts.world = world;
  std::optional<data::DataState> resume_data;
  if (auto latest = latest_checkpoint(ckpt_dir)) {
    verify_checkpoint(*latest);
    ts = read_trainer_state(*latest);
    ELECTRA_CHECK_USER(ts.world == world, "the checkpoint ", *latest, " was written by ", ts.world,
                       " rank(s) but this job has ", world,
                       ". Resume with the same number of "
                       "ranks (the data cursors are per rank), or use a new output.dir");
    load_pair_weights(*latest, pair);
    // AdamW's bias corrections count the updates it applied: the steps less those skipped
    // (non-finite gradients, fp16 overflows), as in the run that wrote the checkpoint.
    optimizer.load_state(
        model::read_safetensors(fs::join(*latest, "optimizer.safetensors")).tensors,
        ts.step - ts.skipped_steps, *latest);
    RankState rs = read_rank_state(*latest, rank);
    at::Generator def = at::detail::getDefaultCPUGenerator();
    set_generator_state(def, rs.torch_rng, *latest);
    restore_device_rng(rs, rt.device, gumbel, *latest);
    scaler.restore(ts.loss_scale > 0 ? ts.loss_scale : pc.amp.init_scale, ts.loss_scale_good_steps);
    resume_data = rs.data;
    result.last_checkpoint = *latest;
    log::info("resuming from ", *latest, " at step ", ts.step);
  } else if (!pc.init_from.empty()) {
    init_pair_from(pc.init_from, pair);
  }
  dist::GradientReducer reducer(comm, params, {pc.bucket_mb, pc.check_params_every});
  reducer.broadcast_parameters(0);  // every rank starts from rank 0's weights
  result.step = ts.step;
  if (ts.step >= pc.steps) {
    log::info("training already complete: step ", ts.step, " >= train.steps ", pc.steps);
    return result;
  }

  // --- Data
  // ---------------------------------------------------------------------------------------
  data::PipelineOptions po;
  po.corpus.files = files;
  po.corpus.format = data::parse_corpus_format(pc.data_format, "data.format");
  po.corpus.seed = static_cast<uint64_t>(pc.seed);
  po.corpus.chunk_bytes = static_cast<uint64_t>(pc.chunk_bytes);
  po.shard = {rank, world};
  po.seq_len = pc.seq_len;
  po.batch_size = micro_batch;
  po.mask.mask_prob = pc.mask_prob;
  po.seed = static_cast<uint64_t>(pc.seed);
  auto stream = std::make_unique<data::PretrainStream>(po, tok);
  if (resume_data) stream->restore(*resume_data);
  data::Prefetcher prefetch(std::move(stream), static_cast<size_t>(pc.prefetch));

  // --- Metrics -----------------------------------------------------------------------------------
  std::unique_ptr<JsonlWriter> jsonl;
  std::unique_ptr<TensorBoardWriter> tb;
  if (rank == 0) {
    jsonl = std::make_unique<JsonlWriter>(fs::join(pc.output_dir, "metrics.jsonl"));
    if (pc.tensorboard)
      tb = std::make_unique<TensorBoardWriter>(fs::join(pc.output_dir, "tensorboard"));
    fs::write_file_atomic(fs::join(pc.output_dir, "config.yaml"), cfg.to_yaml());
    int64_t n_params = 0;
    for (auto& [name, p] : params)
      n_params += p.numel();
    log::info(
        "electra pretrain: discriminator ", pc.discriminator.hidden_size, "h x ",
        pc.discriminator.num_hidden_layers, "L, generator ", pc.generator.hidden_size, "h (",
        pc.generator.num_attention_heads, " heads), ", n_params, " parameters; vocab ",
        pc.discriminator.vocab_size, " (", tok->kind(), "); batch ", pc.batch_size, " = ", world,
        " rank(s) x ", pc.grad_accum, " x ", micro_batch, ", seq ", pc.seq_len, ", ", pc.precision,
        ", ", describe_device(rt.device), ", attention ", model::attention_name(pc.attention),
        model::cuda_add_layer_norm_runs(pc.fused_layer_norm, rt.device) ? ", fused LayerNorm kernel"
                                                                        : "",
        rt.tf32 ? ", tf32" : "", ", ", threads, " thread(s) per rank");
    log::info("gradient reducer: ", reducer.describe());
  }

  const int64_t start_step = ts.step;
  Window win;
  const auto run_start = Clock::now();
  const double elapsed_before = ts.elapsed_s;
  data::DataState last_state;
  int64_t nonfinite_streak = 0;
  const std::set<int64_t> poisoned_steps = nonfinite_fault_steps();
  bool first_window = true;
  bool warned_prior = false;  // the discriminator-at-the-prior warning is given once

  auto save = [&]() {
    CheckpointWrite w;
    w.pair = &pair;
    w.optimizer = &optimizer;
    w.state = ts;
    w.state.elapsed_s =
        elapsed_before + std::chrono::duration<double>(Clock::now() - run_start).count();
    w.rank.data = last_state;
    w.rank.torch_rng = generator_state(at::detail::getDefaultCPUGenerator());
    w.rank.gumbel_rng = generator_state(gumbel);
    w.rank.gumbel_device = rt.device.is_cuda() ? "cuda" : "cpu";
    if (rt.device.is_cuda()) w.rank.cuda_rng = generator_state(default_generator(rt.device));
    w.state.loss_scale = scaler.enabled() ? scaler.scale() : 0.0;
    w.state.loss_scale_good_steps = scaler.good_steps();
    w.config_yaml = cfg.to_yaml();
    w.tokenizer = tok.get();
    result.last_checkpoint = save_checkpoint(ckpt_dir, w, comm);
    if (rank == 0) prune_checkpoints(ckpt_dir, pc.keep_last);
    log::info("saved checkpoint ", result.last_checkpoint);
  };

  StepParts parts = make_step_parts(pc, pair, params, reducer, gumbel, dt, rt.device);
  GraphedStep graphed(parts, pc.cuda_graphs, world,
                      GraphedStep::masked_capacity(micro_batch, pc.seq_len, pc.mask_prob));
  data::StatefulBatch current;

  // Applies train.on_nonfinite to step `step`'s gradient norm; returns whether it is finite.
  // The norm of the reduced gradient is the same number on every rank, so all ranks decide
  // alike (a rank-local loss check could split them). A NaN/inf loss gives a NaN/inf gradient,
  // so this also catches non-finite losses.
  const auto judge_norm = [&](double grad_norm, int64_t step) {
    win.grad_norm = grad_norm;
    if (std::isfinite(grad_norm)) {
      nonfinite_streak = 0;
      return true;
    }
    // Never train on NaN/inf: drop this step's update and say so.
    ELECTRA_CHECK_USER(pc.on_nonfinite != "stop", "step ", step, ": the gradient norm is ",
                       grad_norm,
                       " and train.on_nonfinite=stop: stopping without applying this update. "
                       "The weights of the last checkpoint are finite; lower optimizer.lr, use "
                       "train.precision=fp32, or set train.on_nonfinite=skip to drop such "
                       "steps and go on");
    ++nonfinite_streak;
    ++win.skipped;
    ++ts.skipped_steps;
    log::warn("step ", step, ": non-finite gradient norm (", grad_norm,
              "); the update is skipped (train.on_nonfinite=skip; ", nonfinite_streak,
              " in a row, ", ts.skipped_steps, " skipped in total)");
    ELECTRA_CHECK_USER(nonfinite_streak < 10,
                       "10 consecutive steps had non-finite gradients: "
                       "training diverged. Lower optimizer.lr or use train.precision=fp32");
    return false;
  };
  // Reading each step's gradient norm at once would make the host wait for the device every
  // step, and on a GPU the device then idles while the host queues the next step's first
  // kernels. So without loss scaling the norm is read one step late (unless
  // train.wait_each_step): AdamW skips a non-finite update on the device, and the host applies
  // the policy to the pending norm after queuing the next step, and before any log line or
  // checkpoint. The CPU takes the same path (there the flag is read at once), so one code
  // path is tested everywhere.
  const bool defer_norm = !scaler.enabled() && !pc.wait_each_step;
  at::Tensor pending_norm;  // [] fp32 on the device: the last step's, not yet judged
  int64_t pending_step = 0;
  const auto judge_pending = [&] {
    if (!pending_norm.defined()) return;
    const at::Tensor n = std::exchange(pending_norm, at::Tensor());
    judge_norm(n.item<double>(), pending_step);
  };

  while (ts.step < pc.steps) {
    // One optimizer step: grad_accum micro-steps, gradients averaged over micro-steps and ranks.
    int64_t step_tokens = 0;
    parts.loss_scale = scaler.scale();
    const at::Tensor norm = graphed.run(
        [&](int64_t) -> const data::Batch& {
          current = prefetch.next();
          return current.batch;
        },
        [&](const RtdOutput& out, const data::Batch& batch) {
          win.add(out);
          step_tokens += batch.real_tokens;
          last_state = std::move(current.state);
        });
    const double lr = warmup_linear_lr(pc.lr, ts.step + 1, pc.warmup_steps, pc.steps);
    const bool poisoned = poisoned_steps.count(ts.step + 1) > 0;
    if (poisoned)
      for (auto& [name, p] : params)
        if (p.grad().defined()) p.grad().fill_(std::numeric_limits<float>::quiet_NaN());
    if (defer_norm) {
      // The device drops a non-finite update itself; the host judges the norm one step later,
      // after this step's work is queued, so it never waits for the device here.
      const at::Tensor n =
          poisoned ? at::full({}, std::numeric_limits<double>::quiet_NaN(), norm.options()) : norm;
      optimizer.step(lr, nonfinite_flag(n));
      optimizer.zero_grad();
      judge_pending();
      pending_norm = n;
      pending_step = ts.step + 1;
    } else {
      const double grad_norm =
          poisoned ? std::numeric_limits<double>::quiet_NaN() : norm.item<double>();
      if (scaler.enabled() && !std::isfinite(grad_norm)) {
        // fp16: an overflow is the loss scaler's normal signal (the scale was too high), not a
        // divergence: skip the update and back off. Only a scale driven below any useful value
        // means the loss itself is NaN/inf.
        scaler.update(/*overflow=*/true);
        ++win.skipped;
        ++ts.skipped_steps;
        win.grad_norm = grad_norm;
        log::debug("step ", ts.step + 1,
                   ": fp16 gradient overflow, update skipped, loss scale now ", scaler.scale());
        ELECTRA_CHECK_USER(scaler.scale() >= kMinLossScale, "step ", ts.step + 1,
                           ": the fp16 loss scale fell to ", scaler.scale(),
                           " after repeated non-finite gradients: training diverged (or the loss "
                           "is NaN). Lower optimizer.lr or use train.precision=bf16");
      } else if (judge_norm(grad_norm, ts.step + 1)) {
        scaler.update(/*overflow=*/false);
        optimizer.step(lr);
      }
      optimizer.zero_grad();
    }
    ++ts.step;
    reducer.check_parameters_if_due(ts.step);
    ++win.steps;
    win.tokens += step_tokens;

    const bool last = ts.step == pc.steps;
    const int sig = signals::pending();
    // All ranks must agree to stop at the same step: the flag is reduced every step.
    const auto flags = comm.all_gather(static_cast<int64_t>(sig));
    int stop_sig = 0;
    for (auto f : flags)
      stop_sig = stop_sig ? stop_sig : static_cast<int>(f);
    // Planned exits (time-boxed jobs): rank 0's clock decides so that all ranks agree.
    bool planned_exit = pc.exit_after_steps > 0 && ts.step - start_step >= pc.exit_after_steps;
    if (pc.exit_after_minutes > 0) {
      const bool late = std::chrono::duration<double>(Clock::now() - run_start).count() >=
                        pc.exit_after_minutes * 60.0;
      // A small-value gather rather than a tensor broadcast: it works on every backend,
      // whatever device the collectives' tensors live on.
      planned_exit = planned_exit || comm.all_gather(late ? 1.0 : 0.0)[0] > 0;
    }

    const bool save_now = ts.step % pc.save_every == 0 || last || stop_sig || planned_exit;
    if (ts.step % pc.log_every == 0 || save_now) {
      judge_pending();  // the figures and the checkpoint count the last step's verdict
      const auto tok_all = comm.all_gather(win.tokens);
      int64_t tokens = 0;
      for (auto t : tok_all)
        tokens += t;
      ts.tokens_seen += tokens;
      const double secs = std::chrono::duration<double>(Clock::now() - win.start).count();
      const double n = static_cast<double>(win.micro);
      const double loss = win.loss.item<double>() / n;
      const double gen_loss = win.gen_loss.item<double>() / n;
      const double disc_loss = win.disc_loss.item<double>() / n;
      const double real_tokens = win.real.item<double>();
      const double disc_acc = win.disc_correct.item<double>() / std::max(1.0, real_tokens);
      const double gen_acc =
          win.gen_correct.item<double>() / std::max(1.0, win.masked.item<double>());
      const double replaced =
          win.replaced.item<double>() / std::max(1.0, win.masked.item<double>());
      const double flagged = win.disc_flagged.item<double>() / std::max(1.0, real_tokens);
      const double lr = warmup_linear_lr(pc.lr, ts.step, pc.warmup_steps, pc.steps);
      const double tps = tokens / std::max(1e-9, secs);
      const double eta = (pc.steps - ts.step) * secs / std::max<int64_t>(1, win.steps);
      if (first_window) {
        result.first_loss = loss;
        first_window = false;
      }
      result.last_loss = loss;
      if (rank == 0) {
        log::progress(cat("step ", ts.step, "/", pc.steps, " | loss ", fmt(loss), " (gen ",
                          fmt(gen_loss), ", disc ", fmt(disc_loss), ") | disc acc ",
                          fmt(disc_acc, 3), " | lr ", fmt(lr, 3), " | ", static_cast<int64_t>(tps),
                          " tok/s | ETA ", format_duration(eta),
                          ts.skipped_steps ? cat(" | skipped ", ts.skipped_steps) : ""));
        const double elapsed =
            elapsed_before + std::chrono::duration<double>(Clock::now() - run_start).count();
        json rec = {{"step", ts.step},
                    {"loss", loss},
                    {"gen_loss", gen_loss},
                    {"disc_loss", disc_loss},
                    {"disc_acc", disc_acc},
                    {"gen_acc", gen_acc},
                    {"replaced_frac", replaced},
                    {"disc_flagged_frac", flagged},
                    {"lr", lr},
                    {"grad_norm", win.grad_norm},
                    {"tokens_per_s", tps},
                    {"tokens_seen", ts.tokens_seen},
                    {"elapsed_s", elapsed},
                    {"skipped_steps", win.skipped},
                    {"skipped_steps_total", ts.skipped_steps}};
        if (scaler.enabled()) rec["loss_scale"] = scaler.scale();
        // A discriminator that has called no token "replaced" in a whole window (of at least
        // 20k tokens, so that the absence means something) this late is predicting only the
        // replaced rate; measured on ELECTRA-Tiny, its layers then lose the input and its
        // checkpoints fine-tune worse than a random initialisation.
        if (!warned_prior && ts.step >= 1000 && flagged == 0.0 && real_tokens >= 2e4) {
          warned_prior = true;
          log::warn(
              "step ", ts.step,
              ": the discriminator has not called a single token replaced in the last ", win.steps,
              " steps (disc acc ", fmt(disc_acc, 3),
              " = the share of tokens not replaced). It still predicts only the replaced rate, "
              "and a checkpoint from here fine-tunes worse than random init. Normal early "
              "on; if it lasts, the generator is still near the unigram distribution "
              "(see README, Fine-tuning). `disc_flagged_frac` in metrics.jsonl tracks it");
        }
        jsonl->write(rec.dump());
        if (tb)
          tb->scalars(ts.step, {{"loss/total", static_cast<float>(loss)},
                                {"loss/generator", static_cast<float>(gen_loss)},
                                {"loss/discriminator", static_cast<float>(disc_loss)},
                                {"accuracy/discriminator", static_cast<float>(disc_acc)},
                                {"accuracy/generator", static_cast<float>(gen_acc)},
                                {"train/lr", static_cast<float>(lr)},
                                {"train/tokens_per_s", static_cast<float>(tps)},
                                {"train/grad_norm", static_cast<float>(win.grad_norm)}});
      }
      win = Window();
    }
    if (save_now) save();
    if (stop_sig) {
      log::warn("received signal ", stop_sig, ": saved step ", ts.step,
                " and stopping; re-run "
                "the same command to resume");
      result.signal = stop_sig;
      break;
    }
    if (planned_exit && !last) {
      log::info("stopping after step ", ts.step,
                " as planned (train.exit_after_*); re-run the "
                "same command to continue");
      result.exited_early = true;
      break;
    }
  }
  result.step = ts.step;
  result.skipped_steps = ts.skipped_steps;
  // How often the graph applied: a batch of another size (or with padding, after a capture
  // without) runs eagerly.
  if (pc.cuda_graphs && rank == 0)
    log::info("CUDA graphs: ", graphed.replays(), " step(s) replayed, ", graphed.eager_steps(),
              " eager (warm-up, padding or other shapes)");
  return result;
}

}  // namespace electra::pretrain
