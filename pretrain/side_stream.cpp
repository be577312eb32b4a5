#include "pretrain/side_stream.h"

#include <ATen/Tensor.h>

#include <map>
#include <mutex>
#include <utility>

#include "common/env_switch.h"

#if defined(ELECTRA_WITH_CUDA)
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace electra::pretrain {

bool generator_stream_enabled() {
  static const bool on = env_switch_opted_in("ELECTRA_CUDA_GEN_STREAM");
  return on;
}

#if defined(ELECTRA_WITH_CUDA)

struct SideStream::Impl {
  c10::cuda::CUDAStream side;
  c10::cuda::CUDAStream main;  // the stream current when the side stream was last entered
};

struct SideStream::Scope::Guard {
  explicit Guard(const c10::cuda::CUDAStream& s) : guard(s) {}
  c10::cuda::CUDAStreamGuard guard;
};

void follow_stream(const c10::cuda::CUDAStream& waiter, const c10::cuda::CUDAStream& done) {
  at::cuda::CUDAEvent event;
  event.record(done);
  event.block(waiter);
}

namespace {

// The same side stream for every step on a device: the caching allocator reuses a freed block
// only for the stream it was made on, so a new stream per step would keep a generator's worth of
// memory cached for each. Two per device, because the pool hands its streams out in turn and a
// capture stream (pretrain/graphed_step.h) may be one of them: the side stream is the first that
// differs from the stream it runs beside.
c10::cuda::CUDAStream side_stream_beside(const c10::cuda::CUDAStream& current) {
  static std::mutex mutex;
  static std::map<c10::DeviceIndex, std::pair<c10::cuda::CUDAStream, c10::cuda::CUDAStream>> made;
  const std::lock_guard<std::mutex> lock(mutex);
  const c10::DeviceIndex index = current.device_index();
  auto it = made.find(index);
  if (it == made.end()) {
    const auto first = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index);
    const auto second = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index);
    it = made.emplace(index, std::make_pair(first, second)).first;
  }
  return it->second.first == current ? it->second.second : it->second.first;
}

}  // namespace

SideStream::SideStream(const at::Device& device, bool enabled) {
  if (!enabled || !device.is_cuda()) return;
  const auto index = device.index() < 0 ? c10::cuda::current_device() : device.index();
  const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(index);
  impl_ = std::make_unique<Impl>(Impl{side_stream_beside(current), current});
}

SideStream::~SideStream() = default;

SideStream::Scope SideStream::enter() {
  Scope scope;
  if (!impl_) return scope;
  impl_->main = c10::cuda::getCurrentCUDAStream(impl_->side.device_index());
  follow_stream(impl_->side, impl_->main);
  scope.guard_ = std::make_unique<Scope::Guard>(impl_->side);
  return scope;
}

void SideStream::join() {
  if (!impl_) return;
  follow_stream(c10::cuda::getCurrentCUDAStream(impl_->side.device_index()), impl_->side);
}

void SideStream::share(const at::Tensor& t) {
  if (!impl_ || !t.defined() || !t.is_cuda()) return;
  // The allocator ignores the stream a block was made on; the other one is recorded.
  t.record_stream(impl_->side.unwrap());
  t.record_stream(impl_->main.unwrap());
}

#else

struct SideStream::Impl {};
struct SideStream::Scope::Guard {};

SideStream::SideStream(const at::Device&, bool) {}
SideStream::~SideStream() = default;
SideStream::Scope SideStream::enter() {
  return {};
}
void SideStream::join() {}
void SideStream::share(const at::Tensor&) {}

#endif

SideStream::Scope::Scope() = default;
SideStream::Scope::Scope(Scope&&) noexcept = default;
SideStream::Scope::~Scope() = default;

}  // namespace electra::pretrain
