// The central directory of a zip archive (a torch.save file), read to check every entry's
// sizes against the archive's real size BEFORE LibTorch's zip reader allocates a buffer of the
// size an entry claims: a crafted entry claiming terabytes is a clear error, not an
// out-of-memory abort.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace electra::model {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflate
  uint64_t compressed = 0, uncompressed = 0;
  uint64_t local_offset = 0;  // of the entry's local header
};

// Reads the central directory (zip64 included) from the end of the file at `path` and checks
// that every entry lies inside the file and that its uncompressed size is possible for its
// method (stored: equal to the compressed size; deflate: at most 1032:1). UserError naming the
// file and the entry otherwise.
std::vector<ZipEntry> read_zip_directory(const std::string& path);

}  // namespace electra::model
