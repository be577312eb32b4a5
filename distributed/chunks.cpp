#include "distributed/chunks.h"

#include "common/error.h"

namespace electra::dist {

std::vector<Piece> split_count(int64_t count, int64_t max_count) {
  ELECTRA_CHECK(count >= 0 && max_count >= 1, "split_count(", count, ", ", max_count, ")");
  std::vector<Piece> out;
  out.reserve(static_cast<size_t>((count + max_count - 1) / max_count));
  for (int64_t off = 0; off < count; off += max_count)
    out.push_back(Piece{off, std::min(max_count, count - off)});
  return out;
}

}  // namespace electra::dist
