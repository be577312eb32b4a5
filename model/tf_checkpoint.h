// TensorFlow checkpoints (tensor bundles), read natively: no TensorFlow, no protobuf library.
//
// A checkpoint PREFIX is `PREFIX.index` (an SSTable, see model/sstable.h: key "" holds a
// BundleHeaderProto, every other key a tensor name whose value is a BundleEntryProto) plus the
// data shards `PREFIX.data-00000-of-0000N`, where each tensor is `size` bytes at `offset` of
// shard `shard_id`, checksummed by a masked CRC32C. Numeric tensors are stored raw,
// little-endian, row-major; string tensors as varint lengths, a masked CRC32C of those lengths,
// then the bytes.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace electra::model {

// TensorFlow DataType enum values (tensorflow/core/framework/types.proto).
enum TfDtype : int {
  kTfFloat = 1,
  kTfDouble = 2,
  kTfInt32 = 3,
  kTfUint8 = 4,
  kTfInt16 = 5,
  kTfInt8 = 6,
  kTfString = 7,
  kTfInt64 = 9,
  kTfBool = 10,
  kTfBfloat16 = 14,
  kTfHalf = 19,
};
// "float32", "int64", "string", ...; "dtype(N)" for one this reader does not know.
std::string tf_dtype_name(int dtype);

struct TfVariable {
  std::string name;
  int dtype = 0;               // TfDtype value
  std::vector<int64_t> shape;  // empty: a scalar
  int32_t shard_id = 0;
  uint64_t offset = 0, size = 0;  // byte range in the data shard
  uint32_t crc32c = 0;            // unmasked
  int num_slices = 0;             // > 0: a partitioned variable, stored in slices
  int64_t numel() const;          // INT64_MAX when the product overflows
};

// "name  dtype  [d0, d1]": one line of `electra convert --list` (like tf.train.list_variables,
// with the dtype added). `name_width` pads the name column.
std::string describe_variable(const TfVariable& v, size_t name_width = 0);

class TfCheckpoint {
 public:
  // `path`: a checkpoint prefix ("model.ckpt-1000"), its .index or a .data-* file, or a
  // directory holding a TF `checkpoint` state file or exactly one *.index file. Reads and
  // checks the index only: listing works without the data files.
  explicit TfCheckpoint(const std::string& path);

  const std::string& prefix() const { return prefix_; }
  int32_t num_shards() const { return num_shards_; }
  const std::vector<TfVariable>& variables() const { return vars_; }  // sorted by name
  const TfVariable* find(const std::string& name) const;              // nullptr if absent
  const TfVariable& get(const std::string& name) const;  // UserError naming close matches
  std::string data_path(int32_t shard) const;

  // Reads a numeric tensor into a CPU tensor of the matching dtype (float32/64, bfloat16,
  // float16, int8/16/32/64, uint8, bool), after checking its size and CRC32C.
  at::Tensor read(const std::string& name) const;
  // Reads a string tensor (row-major elements), checking its lengths and CRC32C.
  std::vector<std::string> read_strings(const std::string& name) const;

 private:
  const TfVariable& readable(const std::string& name) const;  // get() + not partitioned
  std::string read_bytes(const TfVariable& v) const;          // the checked raw bytes of a tensor

  std::string prefix_;
  int32_t num_shards_ = 1;
  std::vector<TfVariable> vars_;
};

}  // namespace electra::model
