// MPI counts are C ints: a collective over more than INT_MAX elements (a 2^31-element bucket,
// an 8 GiB fp32 tensor) is issued as several calls over consecutive pieces.
#pragma once

#include <climits>
#include <cstdint>
#include <vector>

namespace electra::dist {

struct Piece {
  int64_t offset = 0;  // first element
  int64_t count = 0;   // elements, 1 .. max_count
};

// Consecutive pieces covering [0, count), each at most `max_count` elements (the last one
// takes the remainder). Empty for count 0. `max_count` is a parameter so tests can use a
// small stand-in for INT_MAX.
std::vector<Piece> split_count(int64_t count, int64_t max_count = INT_MAX);

}  // namespace electra::dist
