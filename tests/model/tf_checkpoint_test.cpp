// TF tensor-bundle reader against bundles written here byte by byte (tests/support/
// tf_bundle_writer.h): every dtype, string tensors, snappy and plain index blocks, several data
// blocks and shards, out-of-order data, and damaged or truncated files.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/error.h"
#include "model/tf_checkpoint.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tf_bundle_writer.h"
#include "tests/support/user_error.h"

namespace electra::model {
namespace {

using testing::BundleOptions;
using testing::BundleTensor;
using testing::raw_bytes;
using testing::TempDir;
namespace stdfs = std::filesystem;

constexpr auto error_of = testing::user_error_of;

// Every supported dtype, a string tensor and an empty tensor. `shards` > 1 spreads them.
std::vector<BundleTensor> sample_tensors(int shards) {
  std::vector<BundleTensor> t = {
      {"a/float", kTfFloat, {2, 3}, raw_bytes(std::vector<float>{1.5f, -2, 3.25f, 0, 1e-3f, 7})},
      {"a/double", kTfDouble, {2}, raw_bytes(std::vector<double>{1.0 / 3, -2.5})},
      {"b/int32", kTfInt32, {3}, raw_bytes(std::vector<int32_t>{1, -2, 2147483647})},
      {"global_step", kTfInt64, {}, raw_bytes(std::vector<int64_t>{1000000})},
      // bfloat16 1.0, -2.0; float16 1.0, 0.5
      {"c/bf16", kTfBfloat16, {2}, raw_bytes(std::vector<uint16_t>{0x3F80, 0xC000})},
      {"c/half", kTfHalf, {2}, raw_bytes(std::vector<uint16_t>{0x3C00, 0x3800})},
      {"d/bool", kTfBool, {3}, raw_bytes(std::vector<uint8_t>{1, 0, 1})},
      {"d/uint8", kTfUint8, {2}, raw_bytes(std::vector<uint8_t>{0, 255})},
      {"d/int8", kTfInt8, {2}, raw_bytes(std::vector<int8_t>{-128, 127})},
      {"e/strings", kTfString, {2}, std::string("hello\0", 6)},  // "hello", ""
      {"z/empty", kTfFloat, {0, 4}, ""},
  };
  for (size_t i = 0; i < t.size(); ++i)
    t[i].shard = static_cast<int>(i) % shards;
  return t;
}

class BundleRoundTrip : public ::testing::TestWithParam<std::tuple<bool, int>> {};

TEST_P(BundleRoundTrip, ListsAndReadsEveryDtype) {
  const auto [snappy, shards] = GetParam();
  const TempDir tmp;
  const std::string dir = tmp.path();
  BundleOptions opt;
  opt.num_shards = shards;
  opt.reverse_data_order = shards > 1;  // data offsets not in name order
  opt.table.snappy = snappy;
  opt.table.block_size = 64;  // several data blocks
  opt.table.restart_interval = 2;
  testing::write_bundle(dir + "/model.ckpt", sample_tensors(shards), opt);

  TfCheckpoint ck(dir + "/model.ckpt");
  EXPECT_EQ(ck.num_shards(), shards);
  std::vector<std::string> names;
  for (const auto& v : ck.variables())
    names.push_back(v.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a/double", "a/float", "b/int32", "c/bf16", "c/half",
                                             "d/bool", "d/int8", "d/uint8", "e/strings",
                                             "global_step", "z/empty"}));
  EXPECT_EQ(describe_variable(ck.get("a/float")), "a/float  float32   [2, 3]");
  EXPECT_EQ(describe_variable(ck.get("global_step"), 12), "global_step   int64     []");
  EXPECT_EQ(describe_variable(ck.get("e/strings")), "e/strings  string    [2]");

  const at::Tensor f = ck.read("a/float");
  EXPECT_EQ(f.scalar_type(), at::kFloat);
  EXPECT_EQ(f.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(at::equal(f, at::tensor({1.5f, -2.f, 3.25f, 0.f, 1e-3f, 7.f}).reshape({2, 3})));
  EXPECT_TRUE(at::equal(ck.read("a/double"), at::tensor({1.0 / 3, -2.5}, at::kDouble)));
  EXPECT_TRUE(at::equal(ck.read("b/int32"), at::tensor({1, -2, 2147483647}, at::kInt)));
  const at::Tensor step = ck.read("global_step");
  EXPECT_EQ(step.dim(), 0);
  EXPECT_EQ(step.item<int64_t>(), 1000000);
  const at::Tensor bf = ck.read("c/bf16");
  EXPECT_EQ(bf.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(bf.to(at::kFloat), at::tensor({1.f, -2.f})));
  const at::Tensor h = ck.read("c/half");
  EXPECT_EQ(h.scalar_type(), at::kHalf);
  EXPECT_TRUE(at::equal(h.to(at::kFloat), at::tensor({1.f, 0.5f})));
  const at::Tensor b = ck.read("d/bool");
  EXPECT_EQ(b.scalar_type(), at::kBool);
  EXPECT_TRUE(at::equal(b, at::tensor({1, 0, 1}, at::kByte).to(at::kBool)));
  EXPECT_TRUE(at::equal(ck.read("d/uint8"), at::tensor({0, 255}, at::kByte)));
  EXPECT_TRUE(at::equal(ck.read("d/int8"), at::tensor({-128, 127}, at::kChar)));
  EXPECT_EQ(ck.read("z/empty").sizes(), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(ck.read_strings("e/strings"), (std::vector<std::string>{"hello", ""}));
  EXPECT_NE(error_of([&] { ck.read("e/strings"); }).find("text, not numbers"), std::string::npos);
  EXPECT_NE(error_of([&] { ck.read_strings("a/float"); }).find("not a string tensor"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ck.get("a/flaot"); }).find("closest: 'a/float'"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Layouts, BundleRoundTrip,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(1, 3)));

class BundleDamage : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = tmp_.file("ck");
    testing::write_bundle(prefix_, sample_tensors(1));
    data_ = prefix_ + ".data-00000-of-00001";
  }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void spit(const std::string& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  }
  TempDir tmp_;
  std::string prefix_, data_;
};

TEST_F(BundleDamage, FlippedDataByteFailsTheCrcOfThatTensorOnly) {
  TfCheckpoint ck(prefix_);
  const TfVariable& v = ck.get("a/float");
  std::string bytes = slurp(data_);
  bytes[v.offset + 5] ^= 0x10;
  spit(data_, bytes);
  const std::string e = error_of([&] { ck.read("a/float"); });
  EXPECT_NE(e.find("CRC32C mismatch for 'a/float'"), std::string::npos) << e;
  EXPECT_NE(e.find(data_), std::string::npos) << e;
  EXPECT_TRUE(at::equal(ck.read("b/int32"), at::tensor({1, -2, 2147483647}, at::kInt)));
}

TEST_F(BundleDamage, FlippedStringBytesFailTheirChecks) {
  TfCheckpoint ck(prefix_);
  const TfVariable& v = ck.get("e/strings");
  const std::string good = slurp(data_);
  std::string bytes = good;
  bytes[v.offset + v.size - 1] ^= 0x01;  // in "hello"
  spit(data_, bytes);
  EXPECT_NE(error_of([&] { ck.read_strings("e/strings"); }).find("CRC32C mismatch"),
            std::string::npos);
  bytes = good;
  bytes[v.offset] = 9;  // first length: 5 -> 9
  spit(data_, bytes);
  EXPECT_NE(error_of([&] { ck.read_strings("e/strings"); }).find("fail their checksum"),
            std::string::npos);
}

TEST_F(BundleDamage, TruncatedOrMissingDataFile) {
  TfCheckpoint ck(prefix_);
  const std::string bytes = slurp(data_);
  spit(data_, bytes.substr(0, bytes.size() / 2));
  // The tensors stored last no longer fit the file.
  const TfVariable* last = &ck.variables()[0];
  for (const auto& v : ck.variables())
    if (v.offset + v.size > last->offset + last->size) last = &v;
  std::string e = error_of([&] { ck.read(last->name); });
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  stdfs::remove(data_);
  e = error_of([&] { ck.read("a/float"); });
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
  EXPECT_EQ(ck.variables().size(), 11u);  // listing needs only the index
}

TEST_F(BundleDamage, DamagedIndexFilesAreUserErrors) {
  const std::string index = prefix_ + ".index";
  const std::string good = slurp(index);
  std::string bytes = good;
  bytes[3] ^= 0x40;  // inside the first data block
  spit(index, bytes);
  std::string e = error_of([&] { TfCheckpoint ck(prefix_); });
  EXPECT_NE(e.find("CRC mismatch in the data block"), std::string::npos) << e;
  EXPECT_NE(e.find(index), std::string::npos) << e;
  spit(index, good.substr(0, good.size() - 1));
  e = error_of([&] { TfCheckpoint ck(prefix_); });
  EXPECT_NE(e.find("bad table magic"), std::string::npos) << e;
  spit(index, good.substr(0, 20));
  e = error_of([&] { TfCheckpoint ck(prefix_); });
  EXPECT_NE(e.find("too short"), std::string::npos) << e;
  // A table whose footer points past the end (a file cut in the middle, footer re-appended).
  spit(index, good.substr(0, 10) + good.substr(good.size() - 48));
  e = error_of([&] { TfCheckpoint ck(prefix_); });
  EXPECT_NE(e.find("points past the end"), std::string::npos) << e;
}

// Blocks damaged before their CRC is computed reach the parser itself: every single-byte
// change of the data block must end in a UserError or a consistent read, never a crash.
TEST(BundleFuzz, CorruptBlocksWithValidCrcNeverCrash) {
  const TempDir tmp;
  const std::string dir = tmp.path();
  for (bool snappy : {false, true}) {
    size_t errors = 0, block_size = 0;
    for (size_t pos = 0;; ++pos) {
      BundleOptions opt;
      opt.table.snappy = snappy;
      int block = 0;
      bool hit = false;
      opt.table.mutate = [&](std::string& b) {
        if (block++ != 0) return;  // the data block only
        block_size = b.size();
        if (pos < b.size()) b[pos] ^= 0x5A, hit = true;
      };
      testing::write_bundle(dir + "/ck", sample_tensors(1), opt);
      if (!hit) break;
      try {
        TfCheckpoint ck(dir + "/ck");
        for (const auto& v : ck.variables()) {
          if (v.dtype == kTfString)
            ck.read_strings(v.name);
          else
            ck.read(v.name);
        }
      } catch (const UserError&) {
        ++errors;
      }
    }
    EXPECT_GT(block_size, 100u);
    EXPECT_GT(errors, block_size / 2) << "snappy=" << snappy;
  }
}

TEST(BundleIndex, HandCraftedEntriesAreChecked) {
  const TempDir tmp;
  const std::string dir = tmp.path();
  auto entry = [](int dtype, std::vector<int64_t> shape, uint64_t size, int shard, int slices) {
    std::string shp, e;
    for (int64_t d : shape) {
      std::string dim;
      testing::pb_varint(dim, 1, static_cast<uint64_t>(d));
      testing::pb_bytes(shp, 2, dim);
    }
    testing::pb_varint(e, 1, dtype);
    testing::pb_bytes(e, 2, shp);
    if (shard) testing::pb_varint(e, 3, shard);
    testing::pb_varint(e, 5, size);
    testing::pb_fixed32(e, 6, 0);
    for (int s = 0; s < slices; ++s)
      testing::pb_bytes(e, 7, "");
    return e;
  };
  std::string header;
  testing::pb_varint(header, 1, 1);
  auto write = [&](std::vector<std::pair<std::string, std::string>> kvs) {
    kvs.insert(kvs.begin(), {"", header});
    std::ofstream(dir + "/x.index", std::ios::binary) << testing::build_table(kvs);
    std::ofstream(dir + "/x.data-00000-of-00001", std::ios::binary) << std::string(64, '\0');
  };
  write({{std::string("\0slice", 6), entry(kTfFloat, {2}, 8, 0, 0)},
         {"big", entry(kTfFloat, {int64_t(1) << 28, 16}, uint64_t(1) << 34, 0, 0)},
         {"complex", entry(8, {2}, 16, 0, 0)},
         {"mismatch", entry(kTfFloat, {2, 3}, 20, 0, 0)},
         {"parted", entry(kTfFloat, {4}, 0, 0, 2)}});
  TfCheckpoint ck(dir + "/x");
  ASSERT_EQ(ck.variables().size(), 4u);  // the slice key is not a variable
  EXPECT_EQ(describe_variable(ck.get("parted")), "parted  float32   [4]  (partitioned: 2 slices)");
  EXPECT_EQ(describe_variable(ck.get("complex")), "complex  complex64  [2]");
  EXPECT_NE(error_of([&] { ck.read("big"); }).find("truncated"), std::string::npos);
  EXPECT_NE(error_of([&] { ck.read("complex"); }).find("not supported"), std::string::npos);
  EXPECT_NE(error_of([&] { ck.read("mismatch"); }).find("corrupt index"), std::string::npos);
  EXPECT_NE(error_of([&] { ck.read("parted"); }).find("partitioned"), std::string::npos);

  write({{"a", entry(kTfFloat, {2}, 8, 3, 0)}});
  EXPECT_NE(error_of([&] { TfCheckpoint c(dir + "/x"); }).find("in shard 3 of 1"),
            std::string::npos);
  std::ofstream(dir + "/x.index", std::ios::binary) << testing::build_table({{"a", "b"}});
  EXPECT_NE(error_of([&] { TfCheckpoint c(dir + "/x"); }).find("no bundle header"),
            std::string::npos);
}

TEST(BundlePaths, PrefixIndexDataFileOrDirectory) {
  const TempDir tmp;
  const std::string dir = tmp.path();
  testing::write_bundle(dir + "/model.ckpt-7", sample_tensors(1));
  for (const std::string& p : {dir + "/model.ckpt-7", dir + "/model.ckpt-7.index",
                               dir + "/model.ckpt-7.data-00000-of-00001", dir, dir + "/"}) {
    TfCheckpoint ck(p);
    EXPECT_EQ(ck.prefix(), dir + "/model.ckpt-7") << p;
  }
  // Two checkpoints: the TF `checkpoint` state file picks one.
  testing::write_bundle(dir + "/model.ckpt-9", sample_tensors(1));
  EXPECT_NE(error_of([&] { TfCheckpoint ck(dir); }).find("2 .index files"), std::string::npos);
  std::ofstream(dir + "/checkpoint") << "model_checkpoint_path: \"model.ckpt-9\"\n"
                                        "all_model_checkpoint_paths: \"model.ckpt-7\"\n";
  EXPECT_EQ(TfCheckpoint(dir).prefix(), dir + "/model.ckpt-9");
  EXPECT_NE(error_of([&] { TfCheckpoint ck(dir + "/nope"); }).find("does not exist"),
            std::string::npos);
}

}  // namespace
}  // namespace electra::model
