// Reader for the LevelDB table format ("SSTable"), which TensorFlow uses for the `.index`
// file of a checkpoint (tensor bundle):
//
//   [data block]... [metaindex block] [index block] [footer: 48 bytes]
//   footer = varint64 offset + size of the metaindex block, the same for the index block,
//            zero padding to 40 bytes, fixed64 magic 0xdb4775248b80fb57 (little-endian)
//   every block is followed by a 5-byte trailer: compression type (0 none, 1 snappy) and the
//   masked CRC32C of the block bytes plus that type byte
//   block = entries (varint32 shared key bytes, varint32 unshared bytes, varint32 value size,
//           unshared key bytes, value) + fixed32 restart offsets + fixed32 restart count
//   the index block maps the last key of each data block to that block's handle
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace electra::model {

using SstableEntries = std::vector<std::pair<std::string, std::string>>;  // key order

// Parses a whole table held in memory and returns every key/value of its data blocks. Every
// handle, length and offset is checked against the buffer before it is used, every block's
// CRC is verified, and any inconsistency is a UserError naming `origin` and what was wrong.
SstableEntries read_sstable(std::string_view table, const std::string& origin);

// Protobuf-style varints and little-endian fixed-width integers over a bounded buffer; each
// read is checked and throws UserError naming `origin` and `what` when the data ends early.
class ByteReader {
 public:
  ByteReader(std::string_view data, std::string origin) : data_(data), origin_(std::move(origin)) {}
  uint64_t varint64(const char* what);
  uint32_t varint32(const char* what);
  uint32_t fixed32(const char* what);
  uint64_t fixed64(const char* what);
  std::string_view bytes(uint64_t n, const char* what);
  bool done() const { return pos_ == data_.size(); }
  size_t pos() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  std::string origin_;
  size_t pos_ = 0;
};

}  // namespace electra::model
