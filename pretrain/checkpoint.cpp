#include "pretrain/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <tuple>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/json_int.h"
#include "common/log.h"
#include "common/strings.h"
#include "model/weights.h"

namespace electra::pretrain {

using nlohmann::json;
namespace stdfs = std::filesystem;

namespace {

constexpr const char* kStaging = ".tmp";
constexpr const char* kMarker = "COMPLETE";

std::string rank_file(int rank) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "rank-%05d.json", rank);
  return buf;
}

void write_model_dir(const std::string& dir, const torch::nn::Module& m,
                     const model::ElectraConfig& cfg) {
  stdfs::create_directories(dir);
  fs::write_file(fs::join(dir, "config.json"), model::config_to_json(cfg));
  fs::write_file(fs::join(dir, "model.safetensors"),
                 model::serialize_safetensors(model::state_dict(m), {{"format", "pt"}}));
}

// Relative path -> {bytes, crc32c} for every file under `root` except the marker.
json manifest(const std::string& root) {
  json files = json::object();
  std::vector<std::string> paths;
  for (const auto& e : stdfs::recursive_directory_iterator(root))
    if (e.is_regular_file()) paths.push_back(stdfs::relative(e.path(), root).string());
  std::sort(paths.begin(), paths.end());
  for (const auto& rel : paths) {
    if (rel == kMarker) continue;
    const std::string bytes = fs::read_file(fs::join(root, rel), "checkpoint");
    files[rel] = {{"bytes", bytes.size()}, {"crc32c", crc32c(bytes)}};
  }
  return files;
}

// Deletes a checkpoint directory so that no interruption leaves a final-named directory without
// its COMPLETE marker (found by tests/faults/kill_resume.sh: a kill in the middle of
// remove_all left "step-N" holding only config.yaml, never resumed and never cleaned up). The
// rename is atomic; remove_stale_staging() finishes a deletion that was cut short.
void remove_checkpoint_dir(const std::string& dir) {
  const std::string doomed = dir + ".old-prune";
  fs::remove_all(doomed);
  std::error_code ec;
  stdfs::rename(dir, doomed, ec);
  fs::remove_all(ec ? dir : doomed);
}

int64_t step_of(const std::string& name) {
  if (!starts_with(name, "step-")) return -1;
  const std::string digits = name.substr(5);
  // At most 18 digits: std::stoll of a longer name (a stray "step-99999999999999999999")
  // would throw out_of_range instead of skipping it.
  if (digits.empty() || digits.size() > 18 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoll(digits);
}

}  // namespace

std::string checkpoint_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08lld", static_cast<long long>(step));
  return buf;
}

void write_tokenizer_files(const data::Tokenizer& tok, const std::string& dir) {
  stdfs::create_directories(dir);
  const auto files = tok.files();
  ELECTRA_CHECK(!files.empty(), "tokenizer without files");
  fs::copy_file(files[0], fs::join(dir, tok.canonical_name()));
  const std::string hf = tok.hf_tokenizer_config();
  if (!hf.empty()) fs::write_file(fs::join(dir, "tokenizer_config.json"), hf);
}

std::string save_checkpoint(const std::string& checkpoints_dir, const CheckpointWrite& w,
                            dist::Communicator& comm) {
  const std::string final_dir = fs::join(checkpoints_dir, checkpoint_name(w.state.step));
  const std::string staging = final_dir + kStaging;
  std::unique_ptr<fs::StagedDir> staged;
  if (comm.rank() == 0) staged = std::make_unique<fs::StagedDir>(final_dir, kStaging);
  comm.barrier();  // the staging directory exists

  // Per-rank state: data cursor and RNG streams.
  json rs = {{"data", json::parse(w.rank.data.to_json())},
             {"torch_rng", base64_encode(w.rank.torch_rng)},
             {"gumbel_rng", base64_encode(w.rank.gumbel_rng)},
             {"gumbel_device", w.rank.gumbel_device}};
  if (!w.rank.cuda_rng.empty()) rs["cuda_rng"] = base64_encode(w.rank.cuda_rng);
  fs::write_file(fs::join(staging, rank_file(comm.rank())), rs.dump());

  if (comm.rank() == 0) {
    write_model_dir(fs::join(staging, "discriminator"), *w.pair->discriminator,
                    w.pair->discriminator->config);
    write_model_dir(fs::join(staging, "generator"), *w.pair->generator, w.pair->generator->config);
    fs::write_file(fs::join(staging, "optimizer.safetensors"),
                   model::serialize_safetensors(w.optimizer->state()));
    json ts = {{"version", kCheckpointVersion},
               {"step", w.state.step},
               {"tokens_seen", w.state.tokens_seen},
               {"elapsed_s", w.state.elapsed_s},
               {"world", w.state.world},
               {"skipped_steps", w.state.skipped_steps},
               {"loss_scale", w.state.loss_scale},
               {"loss_scale_good_steps", w.state.loss_scale_good_steps},
               {"optimizer_steps", w.optimizer->steps()}};
    fs::write_file(fs::join(staging, "trainer_state.json"), ts.dump(2));
    fs::write_file(fs::join(staging, "config.yaml"), w.config_yaml);
    write_tokenizer_files(*w.tokenizer, fs::join(staging, "tokenizer"));
  }
  comm.barrier();  // every rank's files are written
  if (comm.rank() == 0) {
    const json files = manifest(staging);
    // The manifest checksums itself too, so a flipped byte in COMPLETE is reported as such
    // rather than as a mismatch of the file whose entry it hit.
    json marker = {{"version", kCheckpointVersion},
                   {"step", w.state.step},
                   {"files", files},
                   {"manifest_crc32c", crc32c(files.dump())}};
    fs::write_file(fs::join(staging, kMarker), marker.dump(1));
    staged->commit();
  }
  comm.barrier();  // the checkpoint is in place before anyone moves on
  return final_dir;
}

bool is_complete_checkpoint(const std::string& dir) {
  return fs::exists(fs::join(dir, kMarker));
}

void verify_checkpoint(const std::string& dir) {
  const std::string marker_path = fs::join(dir, kMarker);
  ELECTRA_CHECK_USER(fs::exists(marker_path), dir,
                     " is not a complete checkpoint (no COMPLETE marker): it was interrupted "
                     "while being written");
  const auto corrupt_manifest = [&](const auto&... what) {
    throw_user(marker_path, ": corrupt checkpoint manifest (", what...,
               "). Delete this checkpoint directory to resume from an older one");
  };
  std::vector<std::tuple<std::string, uint64_t, uint32_t>> entries;  // path, bytes, crc32c
  try {
    const json m = json::parse(fs::read_file(marker_path, "checkpoint marker"));
    const json& files = m.at("files");
    if (!files.is_object()) corrupt_manifest("'files' is not an object");
    if (m.contains("manifest_crc32c") &&
        json_int<uint32_t>(m, "manifest_crc32c", marker_path) != crc32c(files.dump()))
      corrupt_manifest("its own CRC32C does not match: the file list was modified");
    for (const auto& [rel, info] : files.items()) {
      // Entries name files inside this directory only: a crafted manifest must not make us
      // read (or later copy) anything outside it.
      const stdfs::path p(rel);
      bool escapes = rel.empty() || p.is_absolute();
      for (const auto& part : p)
        escapes = escapes || part == "..";
      if (escapes) corrupt_manifest("the entry '", rel, "' points outside the checkpoint");
      entries.emplace_back(rel, json_int<uint64_t>(info, "bytes", marker_path),
                           json_int<uint32_t>(info, "crc32c", marker_path));
    }
  } catch (const json::exception& e) {
    corrupt_manifest(e.what());
  }
  for (const auto& [rel, want_bytes, want_crc] : entries) {
    const std::string path = fs::join(dir, rel);
    ELECTRA_CHECK_USER(fs::exists(path), "checkpoint file '", path,
                       "' is missing (listed in COMPLETE)");
    const std::string bytes = fs::read_file(path, "checkpoint");
    ELECTRA_CHECK_USER(bytes.size() == want_bytes, "checkpoint file '", path, "' has ",
                       bytes.size(), " bytes but ", want_bytes,
                       " were written: it is truncated or was modified. Delete this "
                       "checkpoint directory to resume from an older one");
    ELECTRA_CHECK_USER(crc32c(bytes) == want_crc, "checkpoint file '", path,
                       "' fails its CRC32C check: it is corrupted. Delete this checkpoint "
                       "directory to resume from an older one");
  }
}

std::optional<std::string> latest_checkpoint(const std::string& checkpoints_dir) {
  int64_t best = -1;
  std::string best_dir;
  for (const auto& name : fs::list_dir(checkpoints_dir)) {
    const int64_t s = step_of(name);
    const std::string dir = fs::join(checkpoints_dir, name);
    if (s > best && is_complete_checkpoint(dir)) {
      best = s;
      best_dir = dir;
    }
  }
  if (best < 0) return std::nullopt;
  return best_dir;
}

void remove_stale_staging(const std::string& checkpoints_dir) {
  for (const auto& name : fs::list_dir(checkpoints_dir)) {
    const std::string dir = fs::join(checkpoints_dir, name);
    if (starts_with(name, "step-") &&
        (name.find(".tmp") != std::string::npos || name.find(".old-") != std::string::npos)) {
      log::warn("removing the incomplete checkpoint ", dir, " left by an interrupted save");
      fs::remove_all(dir);
    } else if (step_of(name) >= 0 && fs::is_dir(dir) && !is_complete_checkpoint(dir)) {
      // Only an interrupted deletion by an older version leaves one: never resumable.
      log::warn("removing ", dir, ": it has no COMPLETE marker (a deletion was interrupted)");
      fs::remove_all(dir);
    }
  }
}

void prune_checkpoints(const std::string& checkpoints_dir, int64_t keep) {
  std::vector<std::pair<int64_t, std::string>> done;
  for (const auto& name : fs::list_dir(checkpoints_dir)) {
    const int64_t s = step_of(name);
    const std::string dir = fs::join(checkpoints_dir, name);
    if (s >= 0 && is_complete_checkpoint(dir)) done.emplace_back(s, dir);
  }
  std::sort(done.begin(), done.end());
  for (size_t i = 0; i + static_cast<size_t>(keep) < done.size(); ++i)
    remove_checkpoint_dir(done[i].second);
}

TrainerState read_trainer_state(const std::string& dir) {
  const std::string path = fs::join(dir, "trainer_state.json");
  TrainerState s;
  try {
    const json j = json::parse(fs::read_file(path, "trainer state"));
    const int version = json_int<int>(j, "version", path);
    ELECTRA_CHECK_USER(version == kCheckpointVersion, path, ": checkpoint format version ", version,
                       " is not supported (this build reads version ", kCheckpointVersion, ")");
    s.step = json_int<int64_t>(j, "step", path);
    s.tokens_seen = json_int<int64_t>(j, "tokens_seen", path);
    s.elapsed_s = j.at("elapsed_s").get<double>();
    s.world = json_int<int>(j, "world", path);
    s.skipped_steps =
        json_int_or<int64_t>(j, "skipped_steps", 0, path);  // absent before train.on_nonfinite
    // Absent before fp16 support: no loss scaling then.
    s.loss_scale = j.contains("loss_scale") ? j.at("loss_scale").get<double>() : 0.0;
    s.loss_scale_good_steps = json_int_or<int64_t>(j, "loss_scale_good_steps", 0, path);
  } catch (const json::exception& e) {
    throw_user(path, ": corrupt trainer state (", e.what(), ")");
  }
  ELECTRA_CHECK_USER(s.step >= 0 && s.world >= 1 && s.tokens_seen >= 0 && s.skipped_steps >= 0 &&
                         s.loss_scale >= 0 && s.loss_scale_good_steps >= 0,
                     path, ": corrupt trainer state (negative fields)");
  return s;
}

RankState read_rank_state(const std::string& dir, int rank) {
  const std::string path = fs::join(dir, rank_file(rank));
  ELECTRA_CHECK_USER(fs::exists(path), "checkpoint ", dir, " has no state for rank ", rank, " (",
                     rank_file(rank), "): it was written by a job with fewer ranks");
  RankState s;
  try {
    const json j = json::parse(fs::read_file(path, "rank state"));
    s.data = data::DataState::from_json(j.at("data").dump(), path);
    s.torch_rng = base64_decode(j.at("torch_rng").get<std::string>(), path);
    s.gumbel_rng = base64_decode(j.at("gumbel_rng").get<std::string>(), path);
    s.gumbel_device = j.value("gumbel_device", std::string("cpu"));  // absent: CPU-only versions
    if (j.contains("cuda_rng"))
      s.cuda_rng = base64_decode(j.at("cuda_rng").get<std::string>(), path);
  } catch (const json::exception& e) {
    throw_user(path, ": corrupt rank state (", e.what(), ")");
  }
  return s;
}

void load_pair_weights(const std::string& dir, model::PretrainingPair& pair) {
  const std::string d = fs::join(dir, "discriminator/model.safetensors");
  const std::string g = fs::join(dir, "generator/model.safetensors");
  model::load_state_dict(*pair.generator, model::read_safetensors(g).tensors, g);
  // Loaded second so the shared embedding block holds the discriminator's copy (they are equal
  // in our checkpoints).
  model::load_state_dict(*pair.discriminator, model::read_safetensors(d).tensors, d);
}

void export_checkpoint(const std::string& checkpoint_dir, const std::string& out_dir,
                       const std::string& part) {
  ELECTRA_CHECK_USER(part == "discriminator" || part == "generator",
                     "--part must be "
                     "discriminator or generator, got '",
                     part, "'");
  verify_checkpoint(checkpoint_dir);
  const std::string src = fs::join(checkpoint_dir, part);
  fs::StagedDir staged(out_dir);
  fs::copy_file(fs::join(src, "config.json"), staged.file("config.json"));
  fs::copy_file(fs::join(src, "model.safetensors"), staged.file("model.safetensors"));
  const std::string tok_dir = fs::join(checkpoint_dir, "tokenizer");
  for (const auto& name : fs::list_dir(tok_dir))
    fs::copy_file(fs::join(tok_dir, name), staged.file(name));
  staged.commit();
}

}  // namespace electra::pretrain
