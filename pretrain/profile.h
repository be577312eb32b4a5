// A trace (Chrome trace JSON, viewable in Perfetto or chrome://tracing) of a piece of
// work: every ATen operator on the host and, on a GPU, every kernel and copy with its time.
// `electra bench --profile trace.json` traces a few steps after the timed ones;
// bench/trace_summary.py turns the trace into a table (device busy time, launches, top kernels).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace electra::pretrain {

// Runs `fn` under the profiler (CUDA activities too when `cuda`) and writes the trace to
// `path`: Kineto where this LibTorch has it, else (Debian's 1.13) the legacy profiler, which
// times host operators only; a user error when that is not enough because `cuda`.
void profile_to_file(const std::string& path, bool cuda, const std::function<void()>& fn);

// The ATen operators `fn` dispatches, nested ones included, on every thread (backward runs on the
// autograd engine's); with `only`, those of that name alone (e.g. "aten::_local_scalar_dense",
// which every read of a tensor's value on the host dispatches). On a GPU each leaf operator is at
// least one kernel launch, and a step whose host cannot launch them as fast as the device runs
// them is bound by this count. One call at a time per process.
int64_t count_aten_ops(const std::function<void()>& fn, const char* only = nullptr);

}  // namespace electra::pretrain
