// A small TensorFlow tensor-bundle WRITER for tests: builds `.index` (LevelDB table) and
// `.data-NNNNN-of-NNNNN` files byte by byte from the format description, so that the reader
// (model/tf_checkpoint.h) is tested against files it did not write itself. Options cover
// snappy-compressed blocks, several data blocks, several shards, offsets out of name order,
// and a hook that damages block contents before their CRC is computed.
#pragma once

#include <snappy.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/crc32c.h"

namespace electra::testing {

inline void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline void put_fixed32(std::string& out, uint32_t v) {
  for (int k = 0; k < 4; ++k)
    out.push_back(static_cast<char>(v >> (8 * k)));
}
inline void put_fixed64(std::string& out, uint64_t v) {
  for (int k = 0; k < 8; ++k)
    out.push_back(static_cast<char>(v >> (8 * k)));
}
// Protobuf fields: varint (wire type 0), bytes (2), fixed32 (5).
inline void pb_varint(std::string& out, int field, uint64_t v) {
  put_varint(out, static_cast<uint64_t>(field) << 3 | 0);
  put_varint(out, v);
}
inline void pb_bytes(std::string& out, int field, const std::string& b) {
  put_varint(out, static_cast<uint64_t>(field) << 3 | 2);
  put_varint(out, b.size());
  out += b;
}
inline void pb_fixed32(std::string& out, int field, uint32_t v) {
  put_varint(out, static_cast<uint64_t>(field) << 3 | 5);
  put_fixed32(out, v);
}

struct TableOptions {
  size_t block_size = 4096;   // a data block is closed once it reaches this many bytes
  int restart_interval = 16;  // full keys every N entries
  bool snappy = false;        // compress every block
  // Called on each block's contents (before compression and CRC): lets a test write a
  // structurally corrupt block that still passes its checksum.
  std::function<void(std::string&)> mutate;
};

// Writes a LevelDB-format table from sorted key/values.
inline std::string build_table(const std::vector<std::pair<std::string, std::string>>& kvs,
                               const TableOptions& opt = {}) {
  std::string file;
  auto build_block = [&](const std::vector<std::pair<std::string, std::string>>& entries) {
    std::string b;
    std::vector<uint32_t> restarts;
    std::string prev;
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& [k, v] = entries[i];
      size_t shared = 0;
      if (i % opt.restart_interval == 0) {
        restarts.push_back(static_cast<uint32_t>(b.size()));
      } else {
        while (shared < prev.size() && shared < k.size() && prev[shared] == k[shared])
          ++shared;
      }
      put_varint(b, shared);
      put_varint(b, k.size() - shared);
      put_varint(b, v.size());
      b += k.substr(shared);
      b += v;
      prev = k;
    }
    if (restarts.empty()) restarts.push_back(0);
    for (uint32_t r : restarts)
      put_fixed32(b, r);
    put_fixed32(b, static_cast<uint32_t>(restarts.size()));
    return b;
  };
  // Appends a block with its trailer; returns its handle (offset, size).
  auto emit = [&](std::string contents) {
    if (opt.mutate) opt.mutate(contents);
    char type = 0;
    if (opt.snappy) {
      std::string c;
      snappy::Compress(contents.data(), contents.size(), &c);
      contents = c;
      type = 1;
    }
    const uint64_t offset = file.size();
    file += contents;
    file.push_back(type);
    put_fixed32(file, crc32c_mask(crc32c(file.data() + offset, contents.size() + 1)));
    return std::make_pair(offset, static_cast<uint64_t>(contents.size()));
  };

  std::vector<std::pair<std::string, std::string>> index_entries, current;
  size_t current_bytes = 0;
  auto flush = [&] {
    if (current.empty()) return;
    const auto [off, size] = emit(build_block(current));
    std::string handle;
    put_varint(handle, off);
    put_varint(handle, size);
    index_entries.emplace_back(current.back().first, handle);
    current.clear();
    current_bytes = 0;
  };
  for (const auto& kv : kvs) {
    current.push_back(kv);
    current_bytes += kv.first.size() + kv.second.size() + 3;
    if (current_bytes >= opt.block_size) flush();
  }
  flush();
  const auto meta = emit(build_block({}));
  const auto index = emit(build_block(index_entries));
  std::string footer;
  put_varint(footer, meta.first);
  put_varint(footer, meta.second);
  put_varint(footer, index.first);
  put_varint(footer, index.second);
  footer.resize(40, '\0');
  put_fixed64(footer, 0xdb4775248b80fb57ull);
  return file + footer;
}

struct BundleTensor {
  std::string name;
  int dtype = 1;  // TF DataType
  std::vector<int64_t> shape;
  std::string bytes;  // raw little-endian data (for strings: built by add_strings)
  int shard = 0;
  int num_slices = 0;  // > 0: write `slices` entries (a partitioned variable)
};

template <class T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// The string-tensor layout: varint lengths, masked CRC32C of the lengths (as uint32), bytes.
// Returns the data bytes and sets *crc to the unmasked checksum of the whole layout.
inline std::string string_tensor_bytes(const std::vector<std::string>& elems, uint32_t* crc) {
  std::string out;
  uint32_t c = 0;
  for (const auto& e : elems) {
    put_varint(out, e.size());
    const auto len = static_cast<uint32_t>(e.size());
    c = crc32c_extend(c, &len, 4);
  }
  std::string masked;
  put_fixed32(masked, crc32c_mask(c));
  out += masked;
  c = crc32c_extend(c, masked.data(), 4);
  for (const auto& e : elems) {
    out += e;
    c = crc32c_extend(c, e.data(), e.size());
  }
  *crc = c;
  return out;
}

struct BundleOptions {
  int num_shards = 1;
  bool reverse_data_order = false;  // lay tensors out in the data files in reverse name order
  TableOptions table;
};

// Writes PREFIX.index and PREFIX.data-0000k-of-0000n.
inline void write_bundle(const std::string& prefix, std::vector<BundleTensor> tensors,
                         const BundleOptions& opt = {}) {
  std::sort(tensors.begin(), tensors.end(),
            [](const BundleTensor& a, const BundleTensor& b) { return a.name < b.name; });
  std::vector<std::string> shards(opt.num_shards);
  std::map<std::string, std::string> entries;
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  if (opt.reverse_data_order) std::reverse(order.begin(), order.end());
  for (size_t i : order) {
    const BundleTensor& t = tensors[i];
    uint32_t crc = crc32c(t.bytes.data(), t.bytes.size());
    std::string data = t.bytes;
    if (t.dtype == 7) {  // DT_STRING: t.bytes holds the elements joined by '\0'
      std::vector<std::string> elems;
      size_t start = 0;
      for (size_t k = 0; k <= t.bytes.size(); ++k)
        if (k == t.bytes.size() || t.bytes[k] == '\0') {
          elems.push_back(t.bytes.substr(start, k - start));
          start = k + 1;
        }
      data = string_tensor_bytes(elems, &crc);
    }
    std::string shape;
    for (int64_t d : t.shape) {
      std::string dim;
      pb_varint(dim, 1, static_cast<uint64_t>(d));
      pb_bytes(shape, 2, dim);
    }
    std::string e;
    pb_varint(e, 1, t.dtype);
    pb_bytes(e, 2, shape);
    if (t.shard) pb_varint(e, 3, t.shard);
    if (!shards[t.shard].empty()) pb_varint(e, 4, shards[t.shard].size());
    pb_varint(e, 5, data.size());
    pb_fixed32(e, 6, crc32c_mask(crc));
    for (int s = 0; s < t.num_slices; ++s)
      pb_bytes(e, 7, std::string());
    shards[t.shard] += data;
    entries[t.name] = e;
  }
  std::string header, version;
  pb_varint(header, 1, opt.num_shards);
  pb_varint(version, 1, 1);  // producer
  pb_bytes(header, 3, version);
  std::vector<std::pair<std::string, std::string>> kvs = {{"", header}};
  for (const auto& kv : entries)
    kvs.push_back(kv);
  std::ofstream(prefix + ".index", std::ios::binary) << build_table(kvs, opt.table);
  for (int s = 0; s < opt.num_shards; ++s) {
    char suffix[48];
    std::snprintf(suffix, sizeof suffix, ".data-%05d-of-%05d", s, opt.num_shards);
    std::ofstream(prefix + suffix, std::ios::binary) << shards[s];
  }
}

}  // namespace electra::testing
