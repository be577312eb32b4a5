// Dropout seeds for kernels inside a CUDA graph. The fused LayerNorm kernel takes its dropout
// seed from the CPU generator, on the host, at launch. A captured graph would freeze that seed
// and replay the same masks every step. While SeedSlots is recording, such a kernel reads its
// seed from the next slot of a device buffer instead; before each replay, refill() draws a fresh
// seed per slot from the same CPU generator, in the order the eager step would have drawn them,
// so a replayed step is the eager step with the same masks, and checkpoints replay them too.
#pragma once

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

#include <cstdint>

namespace electra::model {

class SeedSlots {
 public:
  SeedSlots(const at::Device& device, int64_t capacity);

  // The device address of the next unused slot (a uint64 the kernel reads when it runs).
  const uint64_t* take();
  int64_t used() const { return used_; }

  // Writes one draw_seed(gen) per used slot, in slot order, to the device buffer. The copy is
  // queued on the current stream (from page-locked memory on a GPU): it does not wait.
  void refill(at::Generator& gen);

  // The buffer ([capacity] int64), for tests.
  const at::Tensor& slots() const { return slots_; }

 private:
  at::Tensor slots_;  // [capacity] int64 on the device
  int64_t used_ = 0;
};

// The slots recording on this process, or null: kernels draw their seeds on the host at once.
SeedSlots* recording_seed_slots();

// Makes `slots` the recording slots for its lifetime (one at a time).
class RecordSeedSlots {
 public:
  explicit RecordSeedSlots(SeedSlots& slots);
  ~RecordSeedSlots();
  RecordSeedSlots(const RecordSeedSlots&) = delete;
  RecordSeedSlots& operator=(const RecordSeedSlots&) = delete;
};

}  // namespace electra::model
