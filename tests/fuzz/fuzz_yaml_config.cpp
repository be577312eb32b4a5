// Fuzzes the YAML experiment config (common/config.h) against the pretraining and fine-tuning
// schemas, through the typed readers that turn a resolved Config into the run's structs. The
// first byte picks the schema and whether the text is a file or a --set override.
#include "common/config.h"
#include "finetune/finetune_config.h"
#include "pretrain/pretrain_config.h"
#include "tests/fuzz/fuzz_support.h"

ELECTRA_FUZZ_ENTRY {
  const uint8_t sel = electra::fuzz::take_selector(&bytes);
  const bool finetune = sel & 1;
  const electra::ConfigSchema& schema =
      finetune ? electra::finetune::finetune_schema() : electra::pretrain::pretrain_schema();
  electra::Config cfg;
  if (sel & 2) {
    cfg = electra::Config(schema);
    cfg.apply_override(std::string(bytes));
  } else {
    const std::string path = electra::fuzz::Scratch::get().write("fuzz.yaml", bytes);
    cfg = electra::Config::resolve(schema, path, {});
  }
  const std::string yaml = cfg.to_yaml(true);
  // The resolved config must read back as itself (checkpoints store it this way).
  (void)electra::Config::from_yaml_string(schema, yaml, "round trip");
  if (finetune)
    (void)electra::finetune::read_finetune_config(cfg);
  else
    (void)electra::pretrain::read_pretrain_config(cfg, 1000);
}
