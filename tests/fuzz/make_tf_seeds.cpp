// Writes the seed inputs of fuzz_tf_bundle (corpus/tf_bundle/) with the test bundle writer:
// index + "\n--8<--\n" + data shard, for plain, snappy, multi-block and string-tensor bundles.
// Not built by CMake; regenerate with (from the repository root, after building electra_common):
//   g++ -std=c++17 -I. tests/fuzz/make_tf_seeds.cpp build/common/libelectra_common.a -lsnappy \
//       -o /tmp/make_tf_seeds && /tmp/make_tf_seeds tests/fuzz/corpus/tf_bundle
#include <fstream>
#include <iterator>
#include <string>

#include "tests/support/tf_bundle_writer.h"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void seed(const std::string& out_dir, const std::string& name,
          std::vector<electra::testing::BundleTensor> tensors,
          const electra::testing::BundleOptions& opt) {
  const std::string prefix = "/tmp/electra_tf_seed";
  electra::testing::write_bundle(prefix, std::move(tensors), opt);
  std::ofstream(out_dir + "/" + name, std::ios::binary) << slurp(prefix + ".index") << "\n--8<--\n"
                                                        << slurp(prefix + ".data-00000-of-00001");
}

}  // namespace

int main(int argc, char** argv) {
  using electra::testing::raw_bytes;
  const std::string out = argc > 1 ? argv[1] : ".";
  const std::vector<electra::testing::BundleTensor> base = {
      {"bert/embeddings/word_embeddings",
       1,
       {3, 2},
       raw_bytes(std::vector<float>{1, 2, 3, 4, 5, 6})},
      {"global_step", 9, {}, raw_bytes(std::vector<int64_t>{1000})},
      {"bert/encoder/layer_0/output/LayerNorm/beta",
       1,
       {2},
       raw_bytes(std::vector<float>{0.5f, -1})},
  };
  seed(out, "plain", base, {});
  electra::testing::BundleOptions snappy;
  snappy.table.snappy = true;
  seed(out, "snappy", base, snappy);
  electra::testing::BundleOptions small_blocks;
  small_blocks.table.block_size = 16;
  small_blocks.table.restart_interval = 1;
  small_blocks.reverse_data_order = true;
  seed(out, "small_blocks", base, small_blocks);
  seed(out, "strings_and_types",
       {{"names", 7, {2}, std::string("ab\0cde", 6)},
        {"h", 19, {2}, raw_bytes(std::vector<uint16_t>{0x3c00, 0xc000})},
        {"bf", 14, {1}, raw_bytes(std::vector<uint16_t>{0x3f80})},
        {"flag", 10, {3}, std::string("\1\0\1", 3)},
        {"d", 2, {1, 1}, raw_bytes(std::vector<double>{2.5})},
        {"i8", 6, {2}, std::string("\x7f\x80", 2)}},
       {});
  return 0;
}
