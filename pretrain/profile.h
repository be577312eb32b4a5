// A trace (Chrome trace JSON, viewable in Perfetto or chrome://tracing) of a piece of
// work: every ATen operator on the host and, on a GPU, every kernel and copy with its time.
// `electra bench --profile trace.json` traces a few steps after the timed ones;
// bench/trace_summary.py turns the trace into a table (device busy time, launches, top kernels).
#pragma once

#include <functional>
#include <string>

namespace electra::pretrain {

// Runs `fn` under the profiler (CUDA activities too when `cuda`) and writes the trace to
// `path`: Kineto where this LibTorch has it, else (Debian's 1.13) the legacy profiler, which
// times host operators only; a user error when that is not enough because `cuda`.
void profile_to_file(const std::string& path, bool cuda, const std::function<void()>& fn);

}  // namespace electra::pretrain
