// model/seed_slots.h: the slots a captured kernel reads its dropout seed from, and the draws
// that fill them before each replay.
#include "model/seed_slots.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "common/error.h"
#include "model/fast_random.h"

namespace electra::model {
namespace {

TEST(SeedSlots, TakeHandsOutConsecutiveSlotsUpToTheCapacity) {
  SeedSlots slots(at::kCPU, 3);
  const uint64_t* base = reinterpret_cast<const uint64_t*>(slots.slots().data_ptr<int64_t>());
  EXPECT_EQ(slots.take(), base);
  EXPECT_EQ(slots.take(), base + 1);
  EXPECT_EQ(slots.take(), base + 2);
  EXPECT_EQ(slots.used(), 3);
  EXPECT_THROW(slots.take(), std::runtime_error);
}

TEST(SeedSlots, RefillDrawsWhatTheEagerKernelsWouldHaveDrawnInOrder) {
  at::Generator eager = at::make_generator<at::CPUGeneratorImpl>(123);
  at::Generator replay = at::make_generator<at::CPUGeneratorImpl>(123);
  SeedSlots slots(at::kCPU, 8);
  const uint64_t* a = slots.take();
  const uint64_t* b = slots.take();
  for (int step = 0; step < 3; ++step) {
    slots.refill(replay);
    // Each replay: the slots hold the next two draws, in slot order, the same numbers an eager
    // step's two kernels would have drawn.
    EXPECT_EQ(*a, draw_seed(eager)) << "step " << step;
    EXPECT_EQ(*b, draw_seed(eager)) << "step " << step;
  }
  // The generator advanced by exactly the slots used: the rest of the step sees the same state.
  EXPECT_EQ(draw_seed(replay), draw_seed(eager));
  // Unused slots stay untouched.
  EXPECT_EQ(slots.slots()[2].item<int64_t>(), 0);
}

TEST(SeedSlots, OneRecordsAtATime) {
  EXPECT_EQ(recording_seed_slots(), nullptr);
  SeedSlots first(at::kCPU, 1), second(at::kCPU, 1);
  {
    const RecordSeedSlots rec(first);
    EXPECT_EQ(recording_seed_slots(), &first);
    EXPECT_THROW(RecordSeedSlots{second}, std::runtime_error);
    EXPECT_EQ(recording_seed_slots(), &first);
  }
  EXPECT_EQ(recording_seed_slots(), nullptr);
}

}  // namespace
}  // namespace electra::model
