// Fuzzes the small state files of a pretraining checkpoint (pretrain/checkpoint.h):
// trainer_state.json, rank-NNNNN.json (data cursor, packer state, RNG bytes) and the COMPLETE
// manifest that verify_checkpoint checks before a resume. The first byte picks the file; the
// manifest is checked against a directory holding one real file, and may name any path.
#include "data/corpus.h"
#include "data/pipeline.h"
#include "pretrain/checkpoint.h"
#include "tests/fuzz/fuzz_support.h"

ELECTRA_FUZZ_ENTRY {
  const uint8_t sel = electra::fuzz::take_selector(&bytes);
  const auto& scratch = electra::fuzz::Scratch::get();
  scratch.clear();
  const std::string dir = scratch.dir();
  switch (sel % 4) {
    case 0:
      scratch.write("trainer_state.json", bytes);
      (void)electra::pretrain::read_trainer_state(dir);
      break;
    case 1:
      scratch.write("rank-00000.json", bytes);
      (void)electra::pretrain::read_rank_state(dir, 0);
      break;
    case 2:
      scratch.write("config.yaml", "train:\n  steps: 10\n");
      scratch.write("COMPLETE", bytes);
      electra::pretrain::verify_checkpoint(dir);
      break;
    default: {
      // A rank state's data cursor, then a seek with it into a small two-document corpus.
      const auto state = electra::data::DataState::from_json(std::string(bytes), "fuzz.json");
      electra::data::CorpusOptions opts;
      opts.files = {scratch.write("corpus.txt", "one\ntwo\n\nthree\nfour\n")};
      opts.chunk_bytes = 5;
      electra::data::CorpusStream stream(opts, {0, state.corpus.world});
      stream.seek(state.corpus);
      electra::data::TextLine line;
      for (int i = 0; i < 8; ++i)
        stream.next(&line);
      break;
    }
  }
}
