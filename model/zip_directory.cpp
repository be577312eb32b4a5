#include "model/zip_directory.h"

#include <algorithm>
#include <fstream>

#include "common/error.h"
#include "model/sstable.h"

namespace electra::model {
namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kZip64End = 0x06064b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50;
constexpr uint64_t kMaxComment = 0xFFFF;
constexpr uint64_t kEndSize = 22, kLocatorSize = 20, kLocalHeaderSize = 30;
constexpr uint64_t kMaxDeflateRatio = 1032;  // deflate cannot compress better than this

uint16_t fixed16(ByteReader& r, const char* what) {
  const std::string_view b = r.bytes(2, what);
  return static_cast<uint16_t>(static_cast<uint8_t>(b[0]) | static_cast<uint8_t>(b[1]) << 8);
}

std::string read_range(std::ifstream& in, uint64_t offset, uint64_t n) {
  std::string buf(n, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(buf.data(), static_cast<std::streamsize>(n));
  buf.resize(static_cast<size_t>(in.gcount()));
  return buf;
}

}  // namespace

std::vector<ZipEntry> read_zip_directory(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  ELECTRA_CHECK_USER(in.good(), "cannot open '", path, "'");
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  auto bad = [&](const auto&... what) {
    throw_user(path, ": not a valid zip archive (", what..., ")");
  };

  // The end-of-directory record: the last signature within the final 22 + 65535 bytes.
  const uint64_t tail_size = std::min<uint64_t>(file_size, kEndSize + kMaxComment);
  const std::string tail = read_range(in, file_size - tail_size, tail_size);
  if (tail.size() < kEndSize) bad("it is shorter than the end-of-directory record");
  size_t at = std::string::npos;
  for (size_t i = tail.size() - kEndSize + 1; i-- > 0;) {
    if (tail.compare(i, 4, "PK\x05\x06") == 0) {
      at = i;
      break;
    }
  }
  if (at == std::string::npos) bad("no end-of-directory record");
  const uint64_t end_offset = file_size - tail_size + at;
  ByteReader end(std::string_view(tail).substr(at), path);
  (void)end.fixed32("end of directory");
  end.bytes(6, "end of directory");
  uint64_t count = fixed16(end, "entry count");
  uint64_t dir_size = end.fixed32("directory size");
  uint64_t dir_offset = end.fixed32("directory offset");

  if (count == 0xFFFF || dir_size == 0xFFFFFFFF || dir_offset == 0xFFFFFFFF) {
    // zip64: a locator just before the record points at the zip64 end-of-directory record.
    if (end_offset < kLocatorSize) bad("no zip64 locator");
    const std::string loc = read_range(in, end_offset - kLocatorSize, kLocatorSize);
    ByteReader l(loc, path);
    if (l.fixed32("zip64 locator") != kZip64Locator) bad("no zip64 locator");
    l.bytes(4, "zip64 locator");
    const uint64_t z64 = l.fixed64("zip64 end offset");
    if (z64 > file_size || file_size - z64 < 56) bad("the zip64 record lies outside the file");
    const std::string rec = read_range(in, z64, 56);
    ByteReader z(rec, path);
    if (z.fixed32("zip64 end") != kZip64End) bad("no zip64 end-of-directory record");
    z.bytes(20, "zip64 end");
    (void)z.fixed64("zip64 entries on disk");
    count = z.fixed64("zip64 entry count");
    dir_size = z.fixed64("zip64 directory size");
    dir_offset = z.fixed64("zip64 directory offset");
  }
  if (dir_offset > file_size || dir_size > file_size - dir_offset)
    bad("the central directory (", dir_size, " bytes at ", dir_offset,
        ") lies outside the file of ", file_size, " bytes");
  // Each entry takes at least 46 bytes: a count the directory cannot hold is a lie.
  if (count > dir_size / 46)
    bad("the directory claims ", count, " entries in ", dir_size, " bytes");

  const std::string dir = read_range(in, dir_offset, dir_size);
  ByteReader r(dir, path);
  std::vector<ZipEntry> entries;
  entries.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    if (r.fixed32("directory entry") != kDirectoryEntry) bad("directory entry ", i, " is corrupt");
    ZipEntry e;
    r.bytes(6, "directory entry");
    e.method = fixed16(r, "compression method");
    r.bytes(8, "directory entry");
    e.compressed = r.fixed32("compressed size");
    e.uncompressed = r.fixed32("uncompressed size");
    const uint16_t name_len = fixed16(r, "name length");
    const uint16_t extra_len = fixed16(r, "extra length");
    const uint16_t comment_len = fixed16(r, "comment length");
    r.bytes(8, "directory entry");
    e.local_offset = r.fixed32("local header offset");
    e.name = std::string(r.bytes(name_len, "entry name"));
    ByteReader extra(r.bytes(extra_len, "extra field"), path);
    r.bytes(comment_len, "entry comment");
    while (extra.remaining() >= 4) {
      const uint16_t id = fixed16(extra, "extra field id");
      const uint16_t size = fixed16(extra, "extra field size");
      ByteReader field(extra.bytes(size, "extra field"), path);
      if (id != 1) continue;  // zip64 sizes: present only for the fields set to 0xFFFFFFFF
      if (e.uncompressed == 0xFFFFFFFF) e.uncompressed = field.fixed64("zip64 size");
      if (e.compressed == 0xFFFFFFFF) e.compressed = field.fixed64("zip64 size");
      if (e.local_offset == 0xFFFFFFFF) e.local_offset = field.fixed64("zip64 offset");
    }
    const auto where = [&] { return cat("entry '", e.name, "'"); };
    if (e.method != 0 && e.method != 8)
      bad(where(), " uses compression method ", e.method, " (only stored and deflate exist)");
    if (e.local_offset > file_size || file_size - e.local_offset < kLocalHeaderSize ||
        e.compressed > file_size - e.local_offset - kLocalHeaderSize)
      bad(where(), ": ", e.compressed, " bytes at offset ", e.local_offset,
          " run past the end of the file (", file_size, " bytes)");
    if ((e.method == 0 && e.uncompressed != e.compressed) ||
        (e.method == 8 && e.uncompressed / kMaxDeflateRatio > e.compressed + 1))
      bad(where(), " claims ", e.uncompressed, " bytes from ", e.compressed,
          " stored bytes, which is impossible");
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace electra::model
