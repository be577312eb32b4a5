#include "finetune/trainer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <mutex>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/rng.h"
#include "common/signals.h"
#include "common/strings.h"
#include "distributed/cpu_binding.h"
#include "finetune/dataset.h"
#include "finetune/evaluate.h"
#include "finetune/features.h"
#include "finetune/model_dir.h"
#include "finetune/model_init.h"
#include "finetune/sharding.h"
#include "pretrain/device.h"
#include "pretrain/loss_scaler.h"
#include "pretrain/optimizer.h"
#include "pretrain/trainer.h"

namespace electra::finetune {

using Clock = std::chrono::steady_clock;

namespace {

std::string fmt(double v, int prec = 4) {
  std::ostringstream os;
  os << std::setprecision(prec) << v;
  return os.str();
}

std::string describe(const MetricValues& m) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : m)
    parts.push_back(k + " " + fmt(v));
  return join(parts, ", ");
}

struct EvalSet {
  const SplitData* split = nullptr;
  std::vector<Feature> features;
};

std::shared_ptr<const data::Tokenizer> pick_tokenizer(const FinetuneConfig& fc,
                                                      const InitSource& src) {
  const std::string path = fc.tokenizer.empty() ? src.tokenizer : fc.tokenizer;
  ELECTRA_CHECK_USER(!path.empty(), "data.tokenizer is not set",
                     src.model_dir.empty() ? std::string(" (and there is no model.init_from)")
                                           : " and " + src.model_dir + " has no tokenizer",
                     ": give the SentencePiece .model or BERT vocab.txt the model was "
                     "pre-trained with");
  return data::load_tokenizer(
      path, fc.tokenizer.empty() ? "the tokenizer of model.init_from" : "data.tokenizer");
}

std::vector<Feature> encode_split(const SplitData& s, const data::Tokenizer& tok, int64_t max_len) {
  EncodeStats st;
  std::vector<Feature> f = encode_examples(s.examples, tok, max_len, &st);
  log::info(
      s.path, ": ", s.examples.size(), " examples, ",
      fmt(static_cast<double>(st.tokens) / std::max<size_t>(1, f.size()), 3),
      " tokens each on average",
      st.truncated ? cat(", ", st.truncated, " truncated to ", max_len, " tokens") : std::string());
  return f;
}

}  // namespace

at::Tensor summed_loss(model::ElectraForSequenceClassification& net, const FeatureBatch& host,
                       bool regression, at::ScalarType dt) {
  FeatureBatch b;
  const at::Tensor out = classify(net, host, dt, &b);  // [batch, labels]
  if (regression) return at::mse_loss(out.select(1, 0), b.targets, at::Reduction::Sum);
  return at::nll_loss(at::log_softmax(out, 1), b.labels, {}, at::Reduction::Sum);
}

FinetuneResult run_finetune(const Config& cfg, dist::Communicator& comm) {
  return finetune(read_finetune_config(cfg), cfg.to_yaml(), nullptr, comm);
}

FinetuneResult finetune(const FinetuneConfig& fc, const std::string& config_yaml,
                        std::shared_ptr<const data::Tokenizer> tok, dist::Communicator& comm) {
  const TaskSpec& task = *fc.task;
  const int rank = comm.rank(), world = comm.world_size();
  FinetuneResult result;

  // --- Validate every input before any training ----------------------------------------------
  if (rank == 0) fs::ensure_writable_dir(fc.output_dir, "output.dir");
  LoadOptions lo;
  lo.test = fc.write_test;
  const TaskData data = load_task_data(task, fc.data_dir, lo, "data.dir");
  const InitSource src = resolve_init_source(fc.init_from);
  ModelPlan plan = plan_model(fc, src, data.labels);
  if (!tok) tok = pick_tokenizer(fc, src);
  fit_tokenizer(plan, fc, tok->vocab_size(), tok->special().pad,
                tok->files().empty() ? tok->kind() : tok->files()[0]);
  const int32_t pad = tok->special().pad;
  ELECTRA_CHECK_USER(fc.batch_size >= world, "train.batch_size (", fc.batch_size,
                     ") is the global batch and must be at least the number of ranks (", world,
                     ")");

  const std::vector<Feature> train = encode_split(data.train, *tok, fc.max_seq_len);
  std::vector<EvalSet> dev, test;
  for (const auto& s : data.dev)
    dev.push_back({&s, encode_split(s, *tok, fc.max_seq_len)});
  for (const auto& s : data.test)
    test.push_back({&s, encode_split(s, *tok, fc.max_seq_len)});

  // --- Model and optimizer -------------------------------------------------------------------
  dist::set_compute_threads(pretrain::choose_threads(fc.threads, comm.info()));
  model::ElectraForSequenceClassification net{nullptr};
  {
    // The default generator is process-wide: seeding it and drawing the initial weights must
    // not interleave with another fine-tune in this process (tests run ranks as threads).
    static std::mutex init_mutex;
    std::lock_guard<std::mutex> lock(init_mutex);
    torch::manual_seed(static_cast<uint64_t>(fc.seed));
    net = build_model(plan, src);
  }
  const pretrain::Runtime rt =
      pretrain::resolve_runtime(fc.device, fc.precision, fc.tf32, comm.info().local_rank, "");
  pretrain::apply_runtime(rt);
  net->to(rt.device);  // initialised on the CPU: the same weights whatever the device
  model::set_attention(*net, fc.attention);
  model::set_fused_layer_norm(*net, fc.fused_layer_norm);
  model::set_fused_bias_gelu(*net, fc.fused_bias_gelu);
  std::vector<std::pair<std::string, at::Tensor>> params;
  std::vector<std::string> names;
  for (const auto& p : net->named_parameters()) {
    params.emplace_back(p.key(), p.value());
    names.push_back(p.key());
  }
  {
    torch::NoGradGuard no_grad;  // every rank starts from rank 0's weights (the head init)
    for (auto& [name, p] : params)
      comm.broadcast(p, 0);
  }
  // Dropout draws from the default generator: a stream per rank.
  torch::manual_seed(
      mix_seed({static_cast<uint64_t>(fc.seed), static_cast<uint64_t>(rank), 0xD50ull}));
  const std::vector<double> scales =
      lr_scales(names, plan.config.num_hidden_layers, fc.layer_decay);
  pretrain::AdamWOptions aopt;
  aopt.lr = fc.lr;
  aopt.beta1 = fc.beta1;
  aopt.beta2 = fc.beta2;
  aopt.eps = fc.eps;
  aopt.weight_decay = fc.weight_decay;
  pretrain::AdamW optimizer(params, aopt, scales);

  const int64_t n = static_cast<int64_t>(train.size());
  const int64_t per_epoch = batches_per_epoch(n, fc.batch_size);
  const int64_t total =
      fc.max_steps > 0
          ? fc.max_steps
          : std::max<int64_t>(1, std::llround(fc.epochs * static_cast<double>(per_epoch)));
  const int64_t warmup = std::llround(fc.warmup_frac * static_cast<double>(total));
  const at::ScalarType dt = rt.dtype;
  pretrain::LossScaler scaler(fc.amp, rt.fp16());

  std::unique_ptr<JsonlWriter> log_file;
  if (rank == 0) {
    // A re-run into the same output.dir replaces the earlier run's results now, so that a run
    // that stops early never leaves old results looking like its own.
    std::vector<std::string> stale;
    for (const char* name : {"dev_results.jsonl", "train_summary.json", "train_log.jsonl",
                             "best_model", "submission"}) {
      if (!fs::exists(fs::join(fc.output_dir, name))) continue;
      stale.push_back(name);
      fs::remove_all(fs::join(fc.output_dir, name));
    }
    if (!stale.empty())
      log::warn("output.dir ", fc.output_dir, " held an earlier run's ", join(stale, ", "),
                ": replaced by this run");
    fs::write_file_atomic(fs::join(fc.output_dir, "config.yaml"), config_yaml);
    const std::string log_path = fs::join(fc.output_dir, "train_log.jsonl");
    log_file = std::make_unique<JsonlWriter>(log_path);
    log::info("electra finetune: task ", task.name, " (", data.labels.size(), " labels",
              task.regression ? ", regression" : "", "), ", n, " training examples; from ",
              src.describe, "; ", plan.head_note, "; ", plan.config.num_hidden_layers, " layers x ",
              plan.config.hidden_size, "; ", total, " steps of ", fc.batch_size, " (", world,
              " rank(s)), warm-up ", warmup, ", lr ", fc.lr, ", layer decay ", fc.layer_decay.decay,
              fc.layer_decay.official ? " (official exponents)" : "", ", ", fc.precision, " on ",
              pretrain::describe_device(rt.device), ", seed ", fc.seed);
  }

  // --- Training ------------------------------------------------------------------------------
  std::vector<MetricValues> best_metrics;
  model::TensorMap best_state;
  double best = -1e300;
  auto evaluate = [&](int64_t step) {
    std::vector<MetricValues> ms;
    for (const auto& d : dev) {
      const Predictions p =
          predict(net, d.features, task.regression, fc.eval_batch_size, dt, pad, comm);
      ms.push_back(score(task, data.labels, *d.split, p));
    }
    net->train();
    const double primary = metric_value(ms[0], task.primary);
    const bool improved = best_state.empty() || primary > best;
    if (improved) {
      best = primary;
      best_metrics = ms;
      result.best_step = step;
      torch::NoGradGuard no_grad;
      best_state.clear();
      for (const auto& [name, p] : params)
        best_state[name] = p.detach().clone();
    }
    if (rank == 0) {
      for (size_t i = 0; i < ms.size(); ++i) {
        log::info("dev step ", step, " ", dev[i].split->file.split, ": ", describe(ms[i]),
                  i == 0 ? cat(improved ? " (new best)" : "", " | best ", task.primary, " ",
                               fmt(best), " at step ", result.best_step)
                         : std::string());
        nlohmann::ordered_json rec;
        rec["step"] = step;
        rec["split"] = dev[i].split->file.split;
        for (const auto& [k, v] : ms[i])
          rec[k] = v;
        log_file->write(rec.dump());
      }
      if (improved && fc.save_model) {
        FinetunedInfo info{task.name, fc.max_seq_len, step, fc.seed, ms[0]};
        write_finetuned_model(fs::join(fc.output_dir, "best_model"), net, *tok, info);
      }
    }
  };

  net->train();
  double train_secs = 0;
  int64_t examples_done = 0, nonfinite = 0;
  double win_loss = 0;
  int64_t win_steps = 0, win_examples = 0;
  Clock::time_point win_start = Clock::now();
  std::vector<int64_t> order;
  for (int64_t step = 0; step < total; ++step) {
    const Clock::time_point t0 = Clock::now();
    const int64_t epoch = step / per_epoch, batch = step % per_epoch;
    if (batch == 0 || order.empty()) order = epoch_order(n, static_cast<uint64_t>(fc.seed), epoch);
    const std::vector<int64_t> mine = rank_share(order, fc.batch_size, batch, rank, world);
    const int64_t global_n = global_batch_size(n, fc.batch_size, batch);
    double local_loss = 0;
    if (!mine.empty()) {
      const FeatureBatch b = collate(train, mine, pad);
      // Divided by the global batch size: gradients summed over ranks are then the mean over
      // the global batch, whatever the ranks' shares are.
      at::Tensor loss = summed_loss(net, b, task.regression, dt);
      // fp16: the loss scale multiplies here and clip_grad_norm divides it out again.
      const double denom = static_cast<double>(global_n);
      (scaler.enabled() ? loss * (scaler.scale() / denom) : loss / denom).backward();
      local_loss = loss.item<double>();
    }
    if (world > 1) {
      // One all-reduce of all gradients flattened: a collective per tensor would pay the
      // latency ~200 times a step.
      torch::NoGradGuard no_grad;
      std::vector<at::Tensor> flat;
      for (auto& [name, p] : params)
        flat.push_back(p.grad().defined() ? p.grad().reshape({-1})
                                          : at::zeros({p.numel()}, p.options()));
      at::Tensor all = at::cat(flat);  // [parameters]
      comm.all_reduce(all, dist::ReduceOp::kSum);
      int64_t offset = 0;
      for (auto& [name, p] : params) {
        at::Tensor g = all.narrow(0, offset, p.numel()).view(p.sizes());
        if (p.grad().defined()) {
          p.mutable_grad().copy_(g);
        } else {
          p.mutable_grad() = g.clone();  // this rank had no examples in the step
        }
        offset += p.numel();
      }
    }
    const double grad_norm =
        pretrain::clip_grad_norm(params, fc.clip_norm, scaler.inv_scale()).item<double>();
    if (scaler.enabled() && !std::isfinite(grad_norm)) {
      // fp16 overflow (the gradient norm comes from the all-reduced gradients: every rank
      // agrees): skip and back off, as pretraining does.
      scaler.update(/*overflow=*/true);
      ELECTRA_CHECK_USER(scaler.scale() >= 1.0 / (1 << 24), "step ", step + 1,
                         ": the fp16 loss scale fell to ", scaler.scale(),
                         ": fine-tuning diverged. Lower optimizer.lr or use train.precision=bf16");
    } else if (!std::isfinite(grad_norm)) {
      ++nonfinite;
      log::warn("step ", step + 1, ": non-finite gradient norm; the update is skipped");
      ELECTRA_CHECK_USER(nonfinite < 10,
                         "10 consecutive steps had non-finite gradients: "
                         "fine-tuning diverged. Lower optimizer.lr or use train.precision=fp32");
    } else {
      nonfinite = 0;
      scaler.update(/*overflow=*/false);
      optimizer.step(pretrain::warmup_linear_lr(fc.lr, step + 1, warmup, total));
    }
    optimizer.zero_grad();
    train_secs += std::chrono::duration<double>(Clock::now() - t0).count();
    examples_done += global_n;
    win_loss += local_loss;
    win_examples += global_n;
    ++win_steps;

    const int64_t done = step + 1;
    // All ranks agree on stopping: the signal flags are gathered every step.
    int stop = 0;
    for (auto f : comm.all_gather(static_cast<int64_t>(signals::pending())))
      stop = stop ? stop : static_cast<int>(f);
    if (done % fc.log_every == 0 || done == total) {
      double loss_sum = 0;
      for (double v : comm.all_gather(win_loss))
        loss_sum += v;
      const double secs = std::chrono::duration<double>(Clock::now() - win_start).count();
      const double eps = static_cast<double>(win_examples) / std::max(1e-9, secs);
      if (rank == 0) {
        const double lr = pretrain::warmup_linear_lr(fc.lr, done, warmup, total);
        const double loss = loss_sum / std::max<int64_t>(1, win_examples);
        log::progress(cat("step ", done, "/", total, " | epoch ",
                          fmt(static_cast<double>(done) / per_epoch, 3), " | loss ", fmt(loss),
                          " | lr ", fmt(lr, 3), " | ", static_cast<int64_t>(eps), " ex/s | ETA ",
                          format_duration(static_cast<double>(total - done) * secs / win_steps)));
        nlohmann::ordered_json rec;
        rec["step"] = done;
        rec["epoch"] = static_cast<double>(done) / per_epoch;
        rec["loss"] = loss;
        rec["lr"] = lr;
        rec["grad_norm"] = grad_norm;
        rec["examples_per_s"] = eps;
        log_file->write(rec.dump());
      }
      win_loss = 0;
      win_steps = win_examples = 0;
      win_start = Clock::now();
    }
    if (stop) {
      log::warn("received signal ", stop, " at step ", done, ": stopping without final results",
                fc.save_model && !best_state.empty() ? " (best_model/ holds the best so far)" : "");
      result.signal = stop;
      result.steps = done;
      return result;
    }
    const bool epoch_end = done % per_epoch == 0;
    const bool eval_now = fc.eval_every > 0 ? done % fc.eval_every == 0 : epoch_end;
    if (eval_now || done == total) {
      evaluate(done);
      win_start = Clock::now();  // evaluation time is not training throughput
    }
  }
  result.steps = total;
  result.train_examples_per_s = static_cast<double>(examples_done) / std::max(1e-9, train_secs);

  // --- Results of the best checkpoint --------------------------------------------------------
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, p] : params)
      p.copy_(best_state.at(name));
  }
  result.primary = metric_value(best_metrics[0], task.primary);
  for (size_t i = 0; i < dev.size(); ++i) {
    result.dev.emplace_back(dev[i].split->file.split, best_metrics[i]);
    result.json_lines.push_back(metrics_json_line(task, dev[i].split->file.split, best_metrics[i]));
  }
  if (!test.empty()) {
    const std::string sub_dir = fs::join(fc.output_dir, "submission");
    if (rank == 0) fs::ensure_writable_dir(sub_dir, "output.dir");
    for (const auto& t : test) {
      const Predictions p =
          predict(net, t.features, task.regression, fc.eval_batch_size, dt, pad, comm);
      if (rank == 0)
        log::info("test predictions: ", write_submission(task, data.labels, *t.split, p, sub_dir));
    }
  }
  if (rank == 0) {
    fs::write_file_atomic(fs::join(fc.output_dir, "dev_results.jsonl"),
                          join(result.json_lines, "\n") + "\n");
    nlohmann::ordered_json summary;
    summary["task"] = task.name;
    summary["seed"] = fc.seed;
    summary["steps"] = total;
    summary["best_step"] = result.best_step;
    summary["train_examples"] = n;
    summary["train_examples_per_s"] = result.train_examples_per_s;
    summary["train_seconds"] = train_secs;
    summary["world"] = world;
    summary["precision"] = fc.precision;
    fs::write_file_atomic(fs::join(fc.output_dir, "train_summary.json"), summary.dump(2) + "\n");
    log::info("best ", task.primary, " ", fmt(result.primary), " at step ", result.best_step,
              " of ", total, "; ", static_cast<int64_t>(result.train_examples_per_s),
              " training examples/s");
  }
  return result;
}

}  // namespace electra::finetune
