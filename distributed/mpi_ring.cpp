// Ring all-reduce over point-to-point messages (see mpi_detail.h).
#if ELECTRA_HAVE_MPI

#include <ATen/ATen.h>

#include "common/error.h"
#include "distributed/chunks.h"
#include "distributed/mpi_detail.h"

namespace electra::dist::detail {

namespace {
constexpr int kRingTag = 0x5249;  // ops never overlap in time, so one tag serves them all
}

RingAllReduce::RingAllReduce(MPI_Comm comm, int rank, int world, at::Tensor buf, MPI_Datatype type,
                             ReduceOp op, int64_t max_count)
    : comm_(comm),
      rank_(rank),
      world_(world),
      buf_(std::move(buf)),
      type_(type),
      op_(op),
      max_count_(max_count) {
  ELECTRA_CHECK(buf_.is_contiguous() && buf_.dim() == 1, "ring all-reduce of a non-flat buffer");
  // Segment i: a contiguous slice, sizes differing by at most one element.
  const int64_t n = buf_.numel(), base = n / world_, extra = n % world_;
  int64_t max_len = 0;
  for (int i = 0; i < world_; ++i) {
    const int64_t len = base + (i < extra ? 1 : 0);
    offsets_.push_back(i * base + std::min<int64_t>(i, extra));
    lengths_.push_back(len);
    max_len = std::max(max_len, len);
  }
  incoming_ = at::empty({max_len}, buf_.options());
}

at::Tensor RingAllReduce::segment(int i) const {
  return buf_.narrow(0, offsets_[static_cast<size_t>(i)], lengths_[static_cast<size_t>(i)]);
}

void RingAllReduce::post(int send_seg, int recv_seg, bool into_temp) {
  const int right = (rank_ + 1) % world_, left = (rank_ + world_ - 1) % world_;
  const int64_t es = static_cast<int64_t>(buf_.element_size());
  char* base = static_cast<char*>(buf_.data_ptr());
  char* recv = into_temp ? static_cast<char*>(incoming_.data_ptr())
                         : base + offsets_[static_cast<size_t>(recv_seg)] * es;
  reqs_.clear();
  for (const Piece& p : split_count(lengths_[static_cast<size_t>(recv_seg)], max_count_)) {
    reqs_.emplace_back();
    ELECTRA_MPI_CHECK(rank_, MPI_Irecv(recv + p.offset * es, static_cast<int>(p.count), type_, left,
                                       kRingTag, comm_, &reqs_.back()));
  }
  const char* send = base + offsets_[static_cast<size_t>(send_seg)] * es;
  for (const Piece& p : split_count(lengths_[static_cast<size_t>(send_seg)], max_count_)) {
    reqs_.emplace_back();
    ELECTRA_MPI_CHECK(rank_, MPI_Isend(send + p.offset * es, static_cast<int>(p.count), type_,
                                       right, kRingTag, comm_, &reqs_.back()));
  }
}

void RingAllReduce::post_step() {
  const int n = world_, r = rank_, s = step_;
  if (!gathering_) {
    // Reduce-scatter: pass segment r - s on, fold segment r - s - 1 in. After n - 1 steps
    // this rank holds the fully reduced segment r + 1.
    post((r - s + 2 * n) % n, (r - s - 1 + 2 * n) % n, /*into_temp=*/true);
  } else {
    // All-gather: pass the reduced segment r + 1 - s on, receive segment r - s in place.
    post((r + 1 - s + 2 * n) % n, (r - s + 2 * n) % n, /*into_temp=*/false);
  }
}

void RingAllReduce::start() {
  if (world_ == 1) {
    done_ = true;
    return;
  }
  post_step();
}

bool RingAllReduce::test() {
  while (!done_) {
    int flag = 0;
    ELECTRA_MPI_CHECK(rank_, MPI_Testall(static_cast<int>(reqs_.size()), reqs_.data(), &flag,
                                         MPI_STATUSES_IGNORE));
    if (!flag) return false;
    if (!gathering_) {
      const int seg = (rank_ - step_ - 1 + 2 * world_) % world_;
      at::Tensor mine = segment(seg);
      const at::Tensor theirs = incoming_.narrow(0, 0, mine.numel());
      switch (op_) {
        case ReduceOp::kSum:
        case ReduceOp::kAvg:
          mine.add_(theirs);
          break;
        case ReduceOp::kMax:
          at::maximum_out(mine, mine, theirs);
          break;
        case ReduceOp::kMin:
          at::minimum_out(mine, mine, theirs);
          break;
      }
    }
    if (++step_ == world_ - 1) {
      step_ = 0;
      if (gathering_) {
        done_ = true;
        break;
      }
      gathering_ = true;
    }
    post_step();
  }
  return true;
}

}  // namespace electra::dist::detail

#endif  // ELECTRA_HAVE_MPI
