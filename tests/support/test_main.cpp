// Shared gtest main: keeps LibTorch to 1 thread so tests are deterministic and do not fight
// over the cores when ctest runs them in parallel, and seeds LibTorch's default generator, whose
// first draws otherwise differ from process to process here (a test that draws its inputs
// without seeding got other inputs on every run).
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  at::set_num_threads(1);
  at::manual_seed(1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
