#include <ATen/Parallel.h>

#include <iostream>

#include "common/error.h"
#include "common/log.h"
#include "distributed/cpu_binding.h"
#include "finetune/dataset.h"
#include "finetune/evaluate.h"
#include "finetune/features.h"
#include "finetune/model_dir.h"
#include "finetune/model_init.h"
#include "launcher/command.h"
#include "launcher/runtime.h"
#include "pretrain/trainer.h"

namespace electra::launcher {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra eval options");
  desc.add_options()("model", po::value<std::string>()->required(),
                     "a fine-tuned model directory (output.dir/best_model of `electra finetune`, "
                     "or any HF ElectraForSequenceClassification)")(
      "task", po::value<std::string>(), "task name; default: the one in the model's finetune.json")(
      "data-dir", po::value<std::string>()->required(), "GLUE or CLUE root (or the task's folder)")(
      "split", po::value<std::string>()->default_value("dev"),
      "dev (all dev splits), or one of them: dev_matched, dev_mismatched (MNLI)")(
      "tokenizer", po::value<std::string>(), "default: the tokenizer files in --model")(
      "max-seq-len", po::value<int64_t>(), "default: the fine-tuning run's data.max_seq_len")(
      "batch-size", po::value<int64_t>()->default_value(64), "examples per forward pass")(
      "precision", po::value<std::string>()->default_value("fp32"), "fp32 | bf16")(
      "threads", po::value<int64_t>()->default_value(0), "intra-op threads; 0 = automatic");
  po::variables_map vm;
  if (!parse_args(
          args, desc, &vm,
          "usage: electra eval --model FINETUNED_DIR --task NAME --data-dir DIR "
          "[--split dev]\n\n"
          "Runs a fine-tuned classifier on a task's dev set and prints one JSON line of\n"
          "metrics per dev split, e.g. {\"task\":\"cola\",\"split\":\"dev\",\"mcc\":0.57}."))
    return 0;
  const std::string model_dir = vm["model"].as<std::string>();
  const std::string precision = vm["precision"].as<std::string>();
  ELECTRA_CHECK_USER(precision == "fp32" || precision == "bf16",
                     "--precision must be fp32 or "
                     "bf16, got '",
                     precision, "'");
  const int64_t batch = vm["batch-size"].as<int64_t>();
  ELECTRA_CHECK_USER(batch >= 1, "--batch-size must be at least 1");
  dist::Communicator& comm = communicator();
  dist::set_compute_threads(pretrain::choose_threads(vm["threads"].as<int64_t>(), comm.info()));

  // Cheap checks first: the task name, then the model, then the data.
  const finetune::TaskSpec* named =
      vm.count("task") ? &finetune::find_task(vm["task"].as<std::string>(), "--task") : nullptr;
  finetune::LoadedClassifier m = finetune::read_finetuned_model(model_dir);
  ELECTRA_CHECK_USER(named || !m.info.task.empty(), "--task is required: ", model_dir,
                     " has no finetune.json naming its task");
  const finetune::TaskSpec& task = named ? *named : finetune::find_task(m.info.task, model_dir);
  if (m.has_info && m.info.task != task.name)
    log::warn(model_dir, " was fine-tuned on ", m.info.task, ", evaluated here on ", task.name);
  finetune::LoadOptions lo;
  lo.train = false;
  lo.test = false;
  lo.dev_split = vm["split"].as<std::string>();
  const finetune::TaskData data =
      finetune::load_task_data(task, vm["data-dir"].as<std::string>(), lo, "--data-dir");
  const std::string why = finetune::head_mismatch(m.net->config, task, data.labels);
  ELECTRA_CHECK_USER(why.empty(), model_dir, ": ", why);

  const std::string tok_path =
      vm.count("tokenizer") ? vm["tokenizer"].as<std::string>() : model_dir;
  const auto tok = data::load_tokenizer(
      tok_path, vm.count("tokenizer") ? "--tokenizer" : "the tokenizer in --model");
  ELECTRA_CHECK_USER(tok->vocab_size() <= m.net->config.vocab_size, "the tokenizer ", tok_path,
                     " has ", tok->vocab_size(), " tokens, more than the model's ",
                     m.net->config.vocab_size, ": they do not belong together");
  const int64_t max_len =
      vm.count("max-seq-len") ? vm["max-seq-len"].as<int64_t>() : m.info.max_seq_len;
  ELECTRA_CHECK_USER(max_len >= 8 && max_len <= m.net->config.max_position_embeddings,
                     "--max-seq-len must be in [8, ", m.net->config.max_position_embeddings,
                     "], got ", max_len);

  const at::ScalarType dt = precision == "bf16" ? at::kBFloat16 : at::kFloat;
  for (const auto& split : data.dev) {
    const auto features = finetune::encode_examples(split.examples, *tok, max_len);
    const auto p =
        finetune::predict(m.net, features, task.regression, batch, dt, tok->special().pad, comm);
    const auto metrics = finetune::score(task, data.labels, split, p);
    if (comm.rank() == 0)
      std::cout << finetune::metrics_json_line(task, split.file.split, metrics) << std::endl;
  }
  return 0;
}

Registrar reg({"eval", "evaluate a fine-tuned model on a GLUE/CLUE dev set (metrics JSON line)",
               run});

}  // namespace
}  // namespace electra::launcher
