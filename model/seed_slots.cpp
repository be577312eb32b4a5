#include "model/seed_slots.h"

#include <ATen/ATen.h>

#include <atomic>

#include "common/error.h"
#include "model/fast_random.h"

namespace electra::model {
namespace {

std::atomic<SeedSlots*> g_recording{nullptr};

}  // namespace

SeedSlots::SeedSlots(const at::Device& device, int64_t capacity)
    : slots_(at::zeros({capacity}, at::TensorOptions().dtype(at::kLong).device(device))) {
  ELECTRA_CHECK(capacity > 0, "SeedSlots: capacity must be positive, got ", capacity);
}

const uint64_t* SeedSlots::take() {
  ELECTRA_CHECK(used_ < slots_.numel(), "SeedSlots: all ", slots_.numel(),
                " slots taken (a captured step with more dropout kernels than expected)");
  return reinterpret_cast<const uint64_t*>(slots_.data_ptr<int64_t>()) + used_++;
}

void SeedSlots::refill(at::Generator& gen) {
  if (used_ == 0) return;
  at::Tensor host = at::empty({used_}, at::kLong);  // [used]
  auto* h = reinterpret_cast<uint64_t*>(host.data_ptr<int64_t>());
  for (int64_t i = 0; i < used_; ++i)
    h[i] = draw_seed(gen);
  const bool gpu = slots_.is_cuda();
  // From page-locked memory the copy is queued like a kernel; LibTorch's caching host
  // allocator keeps the block until the copy has run.
  if (gpu) host = host.pin_memory();
  slots_.narrow(0, 0, used_).copy_(host, /*non_blocking=*/gpu);
}

SeedSlots* recording_seed_slots() {
  return g_recording.load();
}

RecordSeedSlots::RecordSeedSlots(SeedSlots& slots) {
  SeedSlots* expected = nullptr;
  ELECTRA_CHECK(g_recording.compare_exchange_strong(expected, &slots),
                "RecordSeedSlots: another SeedSlots is already recording");
}

RecordSeedSlots::~RecordSeedSlots() {
  g_recording.store(nullptr);
}

}  // namespace electra::model
