#include "model/sstable.h"

#include <snappy.h>

#include "common/crc32c.h"
#include "common/error.h"

namespace electra::model {

uint64_t ByteReader::varint64(const char* what) {
  uint64_t v = 0;
  for (int shift = 0; shift <= 63; shift += 7) {
    ELECTRA_CHECK_USER(pos_ < data_.size(), origin_, ": truncated ", what,
                       " (a varint runs past the end of its data)");
    const auto b = static_cast<uint8_t>(data_[pos_++]);
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
  throw_user(origin_, ": corrupt ", what, " (a varint longer than 10 bytes)");
}

uint32_t ByteReader::varint32(const char* what) {
  const uint64_t v = varint64(what);
  ELECTRA_CHECK_USER(v <= UINT32_MAX, origin_, ": corrupt ", what, " (value ", v,
                     " does not fit 32 bits)");
  return static_cast<uint32_t>(v);
}

uint32_t ByteReader::fixed32(const char* what) {
  const std::string_view b = bytes(4, what);
  uint32_t v = 0;
  for (int k = 3; k >= 0; --k)
    v = (v << 8) | static_cast<uint8_t>(b[k]);
  return v;
}

uint64_t ByteReader::fixed64(const char* what) {
  const std::string_view b = bytes(8, what);
  uint64_t v = 0;
  for (int k = 7; k >= 0; --k)
    v = (v << 8) | static_cast<uint8_t>(b[k]);
  return v;
}

std::string_view ByteReader::bytes(uint64_t n, const char* what) {
  ELECTRA_CHECK_USER(n <= data_.size() - pos_, origin_, ": truncated ", what, " (needs ", n,
                     " bytes, ", data_.size() - pos_, " left)");
  const std::string_view out = data_.substr(pos_, n);
  pos_ += n;
  return out;
}

namespace {

constexpr uint64_t kTableMagic = 0xdb4775248b80fb57ull;
constexpr size_t kFooterSize = 48;  // two handles of at most 20 bytes, padded, + magic
constexpr size_t kTrailerSize = 5;  // compression type + masked CRC32C
// Snappy expands at most ~21x (a 3-byte copy op emits 64 bytes); a larger claimed size is
// corruption, caught before the output buffer is allocated.
constexpr uint64_t kMaxSnappyRatio = 32;

struct BlockHandle {
  uint64_t offset = 0, size = 0;
};

BlockHandle read_handle(ByteReader& r, const char* what) {
  BlockHandle h;
  h.offset = r.varint64(what);
  h.size = r.varint64(what);
  return h;
}

// The contents of one block, CRC-checked and decompressed. `storage` keeps decompressed bytes.
std::string_view read_block(std::string_view table, const BlockHandle& h, const char* what,
                            const std::string& origin, std::string& storage) {
  const uint64_t end = table.size() - kFooterSize;  // blocks lie before the footer
  ELECTRA_CHECK_USER(
      h.offset <= end && h.size <= end - h.offset && kTrailerSize <= end - h.offset - h.size,
      origin, ": corrupt ", what, " handle (offset ", h.offset, ", size ", h.size,
      ") points past the end of the file (", table.size(),
      " bytes): the file is truncated or damaged");
  const std::string_view block = table.substr(h.offset, h.size);
  const auto type = static_cast<uint8_t>(table[h.offset + h.size]);
  ByteReader tr(table.substr(h.offset + h.size + 1, 4), origin);
  const uint32_t stored = crc32c_unmask(tr.fixed32("block trailer"));
  const uint32_t actual = crc32c(table.data() + h.offset, h.size + 1);
  ELECTRA_CHECK_USER(stored == actual, origin, ": CRC mismatch in the ", what, " at offset ",
                     h.offset, ": the file is damaged");
  if (type == 0) return block;
  ELECTRA_CHECK_USER(type == 1, origin, ": the ", what, " at offset ", h.offset,
                     " uses compression type ", int(type),
                     "; only uncompressed (0) and snappy (1) blocks exist in TF checkpoints");
  size_t n = 0;
  ELECTRA_CHECK_USER(snappy::GetUncompressedLength(block.data(), block.size(), &n) &&
                         n <= kMaxSnappyRatio * block.size() + 64 &&
                         snappy::IsValidCompressedBuffer(block.data(), block.size()),
                     origin, ": the snappy-compressed ", what, " at offset ", h.offset,
                     " is corrupt");
  storage.resize(n);
  ELECTRA_CHECK_USER(snappy::RawUncompress(block.data(), block.size(), storage.data()), origin,
                     ": the snappy-compressed ", what, " at offset ", h.offset, " is corrupt");
  return storage;
}

// Appends a block's entries. Keys are prefix-compressed against the previous key of the
// block; the restart array is not needed for a full scan, only checked for consistency.
void parse_block(std::string_view block, const char* what, const std::string& origin,
                 SstableEntries& out) {
  ELECTRA_CHECK_USER(block.size() >= 4, origin, ": corrupt ", what, " (", block.size(),
                     " bytes, too short for its restart count)");
  ByteReader tail(block.substr(block.size() - 4), origin);
  const uint32_t restarts = tail.fixed32("restart count");
  ELECTRA_CHECK_USER(restarts >= 1 && restarts <= (block.size() - 4) / 4, origin, ": corrupt ",
                     what, " (restart count ", restarts, " does not fit its ", block.size(),
                     " bytes)");
  const size_t entries_end = block.size() - 4 - 4 * static_cast<size_t>(restarts);
  ByteReader r(block.substr(0, entries_end), origin);
  std::string key;
  while (!r.done()) {
    const uint32_t shared = r.varint32(what);
    const uint32_t unshared = r.varint32(what);
    const uint32_t value_size = r.varint32(what);
    ELECTRA_CHECK_USER(shared <= key.size(), origin, ": corrupt ", what, " (an entry shares ",
                       shared, " bytes with a previous key of ", key.size(), ")");
    key.resize(shared);
    key.append(r.bytes(unshared, what));
    const std::string_view value = r.bytes(value_size, what);
    ELECTRA_CHECK_USER(out.empty() || out.back().first < key, origin, ": corrupt ", what,
                       " (keys out of order at '", key, "')");
    out.emplace_back(key, std::string(value));
  }
}

}  // namespace

SstableEntries read_sstable(std::string_view table, const std::string& origin) {
  ELECTRA_CHECK_USER(table.size() >= kFooterSize, origin, ": ", table.size(),
                     " bytes is too short for a TensorFlow checkpoint index (its footer alone "
                     "is 48 bytes): the file is truncated or not an index");
  ByteReader footer(table.substr(table.size() - kFooterSize), origin);
  const BlockHandle meta = read_handle(footer, "footer");
  const BlockHandle index = read_handle(footer, "footer");
  (void)meta;  // TF writes an empty metaindex block: nothing in it is needed
  ByteReader magic(table.substr(table.size() - 8), origin);
  ELECTRA_CHECK_USER(magic.fixed64("footer") == kTableMagic, origin,
                     ": not a TensorFlow checkpoint index (bad table magic number); give the "
                     "checkpoint prefix, e.g. model.ckpt for model.ckpt.index");

  std::string index_storage, data_storage;
  const std::string_view index_block =
      read_block(table, index, "index block", origin, index_storage);
  SstableEntries handles;
  parse_block(index_block, "index block", origin, handles);
  SstableEntries out;
  for (const auto& [last_key, handle_bytes] : handles) {
    ByteReader hr(handle_bytes, origin);
    const BlockHandle h = read_handle(hr, "index block entry");
    const std::string_view data = read_block(table, h, "data block", origin, data_storage);
    const size_t before = out.size();
    parse_block(data, "data block", origin, out);
    // The index key is at least the block's last key: a mismatch means a mixed-up file.
    ELECTRA_CHECK_USER(out.size() == before || out.back().first <= last_key, origin,
                       ": corrupt index block (key '", last_key, "' is below its block's keys)");
  }
  return out;
}

}  // namespace electra::model
