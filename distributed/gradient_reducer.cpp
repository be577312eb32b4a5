#include "distributed/gradient_reducer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>

#include "common/crc32c.h"
#include "common/error.h"

namespace electra::dist {

GradientReducer::GradientReducer(Communicator& comm,
                                 std::vector<std::pair<std::string, at::Tensor>> params,
                                 ReducerOptions options)
    : comm_(comm), params_(std::move(params)), options_(options), scale_(1.0 / comm.world_size()) {
  ELECTRA_CHECK(options_.bucket_mb > 0, "bucket_mb ", options_.bucket_mb);
  if (comm_.world_size() == 1) return;  // nothing to reduce: no hooks, no buffers
  std::vector<size_t> order(params_.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = params_.size() - 1 - i;
  build_buckets(order);
  hooks_.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    ELECTRA_CHECK(params_[i].second.requires_grad(), "parameter ", params_[i].first,
                  " does not require grad");
    hooks_.push_back(
        params_[i].second.register_hook([this, i](const at::Tensor& g) { on_gradient(i, g); }));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t i = 0; i < hooks_.size(); ++i)
    params_[i].second.remove_hook(hooks_[i]);
  // Works still in flight reference our buffers; let them complete before they are freed.
  for (auto& b : buckets_) {
    if (b.work) {
      try {
        b.work->wait();
      } catch (...) {  // the failure was reported where it happened
      }
    }
  }
}

void GradientReducer::build_buckets(const std::vector<size_t>& order) {
  const int64_t cap_bytes = std::llround(options_.bucket_mb * 1024.0 * 1024.0);
  buckets_.clear();
  slots_.assign(params_.size(), Slot{});
  std::vector<std::vector<size_t>> groups;
  int64_t bytes = 0;
  for (size_t i : order) {
    const at::Tensor& p = params_[i].second;
    const int64_t b = p.numel() * static_cast<int64_t>(p.element_size());
    const bool fits = !groups.empty() && bytes + b <= cap_bytes &&
                      params_[groups.back().front()].second.options().type_equal(p.options());
    if (!fits) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(i);
    bytes += b;
  }
  buckets_.resize(groups.size());
  for (size_t k = 0; k < groups.size(); ++k) {
    Bucket& bk = buckets_[k];
    bk.params = groups[k];
    int64_t n = 0;
    for (size_t j = 0; j < bk.params.size(); ++j) {
      slots_[bk.params[j]] = Slot{k, j, false};
      bk.offsets.push_back(n);
      n += params_[bk.params[j]].second.numel();
    }
    bk.flags_offset = n;
    bk.buffer = at::zeros({n + static_cast<int64_t>(bk.params.size())},
                          params_[bk.params.front()].second.options().requires_grad(false));
  }
}

at::Tensor GradientReducer::view_of(size_t param) {
  const Slot& s = slots_[param];
  Bucket& b = buckets_[s.bucket];
  const at::Tensor& p = params_[param].second;
  return b.buffer.narrow(0, b.offsets[s.index], p.numel()).view(p.sizes());
}

void GradientReducer::broadcast_parameters(int root) {
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : params_) {
    comm_.broadcast(p, root);
    // The collective wrote the raw data: bump the version as an in-place op would
    // (model/weight_cast.h keeps copies keyed by it).
    p.unsafeGetTensorImpl()->bump_version();
  }
}

void GradientReducer::prepare_backward(bool sync) {
  if (comm_.world_size() == 1) return;
  std::lock_guard<std::mutex> lock(mu_);
  ELECTRA_CHECK(next_launch_ == 0,
                "prepare_backward while a reduction is in progress "
                "(finish() was not called after the synchronised backward)");
  sync_ = sync;
  // finish() leaves .grad as views into the buckets. Autograd would add the next gradients
  // into them in place, possibly while their bucket is being reduced: a caller that keeps
  // gradients across steps (no zero_grad) gets private copies first.
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].second;
    if (p.grad().defined() && p.grad().is_alias_of(buckets_[slots_[i].bucket].buffer))
      p.mutable_grad() = p.grad().clone();
  }
  if (!sync) return;
  for (auto& b : buckets_) {
    b.pending = b.params.size();
    b.buffer.narrow(0, b.flags_offset, static_cast<int64_t>(b.params.size())).zero_();
  }
  for (auto& s : slots_)
    s.ready = false;
}

void GradientReducer::on_gradient(size_t param, const at::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!sync_) return;  // a micro-step before the last: autograd accumulates into .grad
  torch::NoGradGuard no_grad;
  Slot& s = slots_[param];
  Bucket& b = buckets_[s.bucket];
  ELECTRA_CHECK(b.work == nullptr, "gradient of ", params_[param].first,
                " arrived after its bucket was sent (a second backward without "
                "prepare_backward?)");
  at::Tensor v = view_of(param);
  // Gradients enter the bucket already divided by the world size, so the reduction is a
  // plain sum and no pass over the bucket divides afterwards. The hook runs before autograd
  // adds `grad` to .grad, which still holds the earlier micro-steps' sum: the bucket gets the
  // whole step's gradient.
  const at::Tensor& acc = params_[param].second.grad();
  if (s.ready) {
    v.add_(grad, scale_);  // a second gradient in the same backward (not expected, kept correct)
    return;
  }
  if (acc.defined()) {
    at::add_out(v, acc, grad);
    v.mul_(scale_);
  } else {
    at::mul_out(v, grad, at::scalar_tensor(scale_, grad.options()));
  }
  b.buffer[b.flags_offset + static_cast<int64_t>(s.index)] = scale_;
  s.ready = true;
  if (!rebuilt_) ready_order_.push_back(param);
  if (--b.pending == 0) launch_ready_buckets();
}

void GradientReducer::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0)
    launch(buckets_[next_launch_++]);
}

void GradientReducer::launch(Bucket& b) {
  b.work = comm_.all_reduce_async(b.buffer, ReduceOp::kSum);  // terms are pre-scaled
}

void GradientReducer::finish() {
  if (comm_.world_size() == 1) return;
  std::lock_guard<std::mutex> lock(mu_);
  ELECTRA_CHECK(sync_, "finish() without prepare_backward(true)");
  torch::NoGradGuard no_grad;
  // Parameters this backward did not reach: their earlier micro-steps' sum, or zeros.
  for (size_t k = next_launch_; k < buckets_.size(); ++k) {
    Bucket& b = buckets_[k];
    for (size_t j = 0; j < b.params.size(); ++j) {
      const size_t i = b.params[j];
      if (slots_[i].ready) continue;
      const at::Tensor& acc = params_[i].second.grad();
      at::Tensor v = view_of(i);
      if (acc.defined()) {
        at::mul_out(v, acc, at::scalar_tensor(scale_, acc.options()));
        b.buffer[b.flags_offset + static_cast<int64_t>(j)] = scale_;
      } else {
        v.zero_();
      }
    }
    b.pending = 0;
  }
  launch_ready_buckets();
  for (auto& b : buckets_) {
    b.work->wait();
    b.work.reset();
    const at::Tensor flags =
        b.buffer.narrow(0, b.flags_offset, static_cast<int64_t>(b.params.size()))
            .to(at::kFloat)
            .cpu();
    const float* used = flags.data_ptr<float>();
    for (size_t j = 0; j < b.params.size(); ++j) {
      at::Tensor& p = params_[b.params[j]].second;
      // A view, not a copy: saves a pass over every gradient. No rank had a gradient for
      // an unused parameter: it keeps none, as in a single-process run.
      p.mutable_grad() = used[j] == 0 ? at::Tensor() : view_of(b.params[j]);
    }
  }
  next_launch_ = 0;
  sync_ = false;
  if (!rebuilt_) {
    // Rebuild in the observed order; rank 0's order is used everywhere so that every rank
    // reduces the same buckets in the same sequence.
    std::vector<bool> seen(params_.size(), false);
    for (size_t i : ready_order_)
      seen[i] = true;
    std::vector<int64_t> order(ready_order_.begin(), ready_order_.end());
    for (size_t i = params_.size(); i-- > 0;)
      if (!seen[i]) order.push_back(static_cast<int64_t>(i));
    at::Tensor t = at::tensor(order, at::kLong);
    comm_.broadcast(t, 0);
    const int64_t* o = t.data_ptr<int64_t>();
    build_buckets(std::vector<size_t>(o, o + t.numel()));
    rebuilt_ = true;
    ready_order_.clear();
  }
}

void GradientReducer::check_parameters_if_due(int64_t step) {
  if (options_.check_params_every <= 0 || step % options_.check_params_every != 0) return;
  check_parameters_match(comm_, params_, cat("after step ", step));
}

std::vector<std::vector<size_t>> GradientReducer::bucket_layout() const {
  std::vector<std::vector<size_t>> out;
  for (const auto& b : buckets_)
    out.push_back(b.params);
  return out;
}

std::string GradientReducer::describe() const {
  if (comm_.world_size() == 1) return "world size 1: no gradient reduction";
  int64_t elems = 0;
  for (const auto& b : buckets_)
    elems += b.flags_offset;
  return cat(buckets_.size(), " bucket(s) of <= ", options_.bucket_mb, " MiB for ", elems,
             " gradient elements, all-reduce over ", comm_.world_size(), " ranks (",
             comm_.backend(), ")");
}

void check_parameters_match(Communicator& comm,
                            const std::vector<std::pair<std::string, at::Tensor>>& params,
                            const std::string& context) {
  const int64_t n = static_cast<int64_t>(params.size());
  at::Tensor mine = at::empty({n}, at::kLong);
  for (int64_t i = 0; i < n; ++i) {
    const at::Tensor c = params[static_cast<size_t>(i)].second.detach().cpu().contiguous();
    mine[i] = static_cast<int64_t>(crc32c(c.data_ptr(), c.numel() * c.element_size()));
  }
  at::Tensor ref = mine.clone();
  comm.broadcast(ref, 0);
  const at::Tensor diff = mine.ne(ref).nonzero();  // [k, 1]
  const int64_t first = diff.numel() ? diff[0][0].item<int64_t>() : n;
  const auto firsts = comm.all_gather(first);
  const auto counts = comm.all_gather(static_cast<int64_t>(diff.numel()));
  int bad_rank = -1;
  int64_t bad_index = n;
  for (size_t r = 0; r < firsts.size(); ++r) {
    if (firsts[r] < bad_index) {
      bad_index = firsts[r];
      bad_rank = static_cast<int>(r);
    }
  }
  if (bad_rank < 0) return;
  throw std::runtime_error(cat(
      "parameters differ across ranks ", context, ": '",
      params[static_cast<size_t>(bad_index)].first, "' on rank ", bad_rank,
      " differs from rank 0 (", counts[static_cast<size_t>(bad_rank)], " of ", n,
      " parameters differ on that rank). The ranks no longer train one model: a "
      "non-deterministic or rank-dependent update, or a corrupted reduction. Report this with the "
      "config (dist.check_params_every found it)"));
}

}  // namespace electra::dist
