// Data-parallel gradient averaging: gradients are packed into buckets of about
// `bucket_mb`, and a bucket's all-reduce starts as soon as every gradient in it is ready
// during backward (autograd hooks on the parameters), so communication overlaps the rest of
// the backward pass. Buckets are reduced in one fixed order on every rank.
//
// Use, per optimizer step of `accum` micro-steps:
//   for (micro = 0; micro < accum; ++micro) {
//     reducer.prepare_backward(/*sync=*/micro + 1 == accum);  // no traffic before the last
//     loss.backward();
//   }
//   reducer.finish();  // .grad now holds the average over ranks of each rank's accumulated sum
//
// Bucket order: at first the reverse of the parameter order (the usual backward order). The
// first synchronised backward records the order in which gradients really became ready; the
// buckets are then rebuilt in that order (rank 0's order, broadcast), so the first bucket to
// fill is the first to be sent.
//
// Parameters that get no gradient: a rank that has none for a parameter contributes zeros;
// each bucket also carries one "had a gradient" flag per parameter, so a parameter that no
// rank touched keeps an undefined .grad, exactly as in a single-process run (the optimizer
// then skips it).
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "distributed/communicator.h"

namespace electra::dist {

struct ReducerOptions {
  double bucket_mb = 25;           // bucket capacity in MiB of gradient
  int64_t check_params_every = 0;  // verify parameters are equal across ranks every N steps
};

class GradientReducer {
 public:
  // `params`: (name, parameter) pairs, every tensor once (shared tensors deduplicated, e.g.
  // model::unique_parameters). Hooks are registered on them; the reducer must outlive any
  // backward through them.
  GradientReducer(Communicator& comm, std::vector<std::pair<std::string, at::Tensor>> params,
                  ReducerOptions options);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Every rank's parameters become rank `root`'s (at start, and after loading weights).
  void broadcast_parameters(int root = 0);

  // Call before each backward. `sync`: this backward ends the optimizer step, so its
  // gradients (plus those accumulated by the earlier micro-steps) are reduced.
  void prepare_backward(bool sync);
  // After the synchronised backward: completes the reductions; .grad then holds the averages
  // (views into the reducer's buckets, valid until the next synchronised backward; zero_grad
  // between steps as usual). Collective.
  void finish();

  // With check_params_every = N > 0, on steps divisible by N: checks that every rank holds
  // the same parameters (see check_parameters_match). Collective.
  void check_parameters_if_due(int64_t step);

  size_t num_buckets() const { return buckets_.size(); }
  // Parameter indices of each bucket, in reduction order (for tests and logs).
  std::vector<std::vector<size_t>> bucket_layout() const;
  std::string describe() const;

 private:
  struct Bucket {
    std::vector<size_t> params;    // indices into params_
    std::vector<int64_t> offsets;  // element offset of each parameter in `buffer`
    int64_t flags_offset = 0;      // one "had a gradient" flag per parameter, after the data
    at::Tensor buffer;             // [data..., flags...] flat, the parameters' dtype/device
    size_t pending = 0;            // parameters not ready in this backward
    std::unique_ptr<Work> work;
  };
  struct Slot {
    size_t bucket = 0, index = 0;  // bucket and position within it
    bool ready = false;
  };

  void build_buckets(const std::vector<size_t>& order);
  void on_gradient(size_t param, const at::Tensor& grad);
  at::Tensor view_of(size_t param);
  void launch_ready_buckets();  // in bucket order, as far as they are ready
  void launch(Bucket& b);

  Communicator& comm_;
  std::vector<std::pair<std::string, at::Tensor>> params_;
  ReducerOptions options_;
  double scale_;  // 1 / world size
  std::vector<unsigned> hooks_;
  std::vector<Bucket> buckets_;
  std::vector<Slot> slots_;  // by parameter
  size_t next_launch_ = 0;   // first bucket not yet launched
  bool sync_ = false;        // the current backward is synchronised
  bool rebuilt_ = false;     // buckets follow the observed ready order
  std::vector<size_t> ready_order_;
  std::mutex mu_;  // hooks may run on autograd's device threads (CUDA)
};

// Compares a CRC32C of every parameter's bytes with rank 0's. If any rank differs, every rank
// throws std::runtime_error with the same message, naming the first differing parameter,
// the rank and `context` (e.g. "after step 100"). Collective.
void check_parameters_match(Communicator& comm,
                            const std::vector<std::pair<std::string, at::Tensor>>& params,
                            const std::string& context);

}  // namespace electra::dist
