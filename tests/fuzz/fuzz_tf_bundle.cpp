// Fuzzes the TensorFlow tensor-bundle reader (model/tf_checkpoint.h, model/sstable.h). The
// input is the `.index` table, optionally followed by "\n--8<--\n" and the bytes of the single
// data shard; every variable the index lists is then read (numeric and string tensors), so
// offsets, sizes and CRCs taken from the index are exercised against the real shard.
#include <ATen/ATen.h>

#include "model/sstable.h"
#include "model/tf_checkpoint.h"
#include "tests/fuzz/fuzz_support.h"

ELECTRA_FUZZ_ENTRY {
  const auto [index, shard] = electra::fuzz::split_two(bytes);
  (void)electra::model::read_sstable(index, "fuzz.index");
  const auto& scratch = electra::fuzz::Scratch::get();
  scratch.write("model.ckpt.index", index);
  scratch.write("model.ckpt.data-00000-of-00001", shard);
  electra::model::TfCheckpoint ckpt(scratch.dir() + "/model.ckpt");
  for (const auto& v : ckpt.variables()) {
    (void)electra::model::describe_variable(v, 10);
    electra::fuzz::accept_user_errors([&] {
      if (v.dtype == electra::model::kTfString) {
        (void)ckpt.read_strings(v.name);
      } else {
        at::Tensor t = ckpt.read(v.name);
        if (t.numel() > 0) (void)t.to(at::kDouble).sum().item<double>();
      }
    });
  }
}
