// Shared gtest main: keeps LibTorch to 1 thread so tests are deterministic and do not fight
// over the cores when ctest runs them in parallel.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  at::set_num_threads(1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
