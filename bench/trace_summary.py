#!/usr/bin/env python3
"""Summarise a trace written by `electra bench --profile FILE` (Chrome trace JSON).

Prints, per traced step: wall time, device busy time (union of kernels, copies and memsets),
the sum of kernel times by class (GEMM, attention, other), kernel launches, time the host spent
blocked in synchronising CUDA calls, and the largest kernels and host operators. With a CPU
trace (or the legacy profiler's, from a LibTorch without Kineto) only the host part is printed:
its operators by inclusive and by self time.

    python3 bench/trace_summary.py trace.json [--steps 3] [--top 20]
"""
import argparse
import collections
import gzip
import json
import sys

SYNC_CALLS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize",
              "cudaMemcpy", "cudaMemcpyAsync")
GEMM_HINTS = ("gemm", "xmma", "cutlass", "nvjet", "cublas", "_mma")
ATTN_HINTS = ("flash", "fmha", "attention", "efficient")


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    return [e for e in events if e.get("ph") == "X" and "dur" in e]


def union_length(intervals):
    total, end = 0.0, None
    for s, d in sorted(intervals):
        e = s + d
        if end is None or s > end:
            total += d
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def kernel_class(name):
    low = name.lower()
    if any(h in low for h in ATTN_HINTS):
        return "attention"
    if any(h in low for h in GEMM_HINTS):
        return "gemm"
    return "other"


def self_times(ops):
    """Each operator's time minus the time of the operators nested in it (same thread), so
    that a table of them adds up to the traced time instead of counting nesting twice."""
    out = []
    by_thread = collections.defaultdict(list)
    for e in ops:
        by_thread[(e.get("pid"), e.get("tid"))].append(e)
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [end, event, self]
        for e in evs:
            while stack and e["ts"] >= stack[-1][0]:
                _, p, d = stack.pop()
                out.append({"name": p["name"], "dur": d})
            if stack:
                stack[-1][2] -= e["dur"]
            stack.append([e["ts"] + e["dur"], e, e["dur"]])
        out += [{"name": p["name"], "dur": d} for _, p, d in stack]
    return out


def print_top(events, top, ms, steps, by_count=False):
    """The `top` event names by total duration (or by occurrences): ms per step, occurrences
    per step, name."""
    agg = collections.defaultdict(lambda: [0.0, 0])
    for e in events:
        agg[e["name"]][0] += e["dur"]
        agg[e["name"]][1] += 1
    order = (lambda kv: -kv[1][1]) if by_count else (lambda kv: -kv[1][0])
    for name, (d, c) in sorted(agg.items(), key=order)[:top]:
        print(f"    {ms(d):8.3f} {c / steps:6.0f}  {name[:100]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--steps", type=int, default=3, help="steps in the trace (bench traces 3)")
    ap.add_argument("--top", type=int, default=20)
    a = ap.parse_args()
    ev = load(a.trace)
    if not ev:
        sys.exit(f"{a.trace}: no complete events")
    n = a.steps
    cat = lambda e: e.get("cat", "").lower()
    kernels = [e for e in ev if cat(e) == "kernel"]
    device = kernels + [e for e in ev if cat(e) in ("gpu_memcpy", "gpu_memset")]
    runtime = [e for e in ev if cat(e) in ("cuda_runtime", "cuda_driver")]
    # Kineto marks host operators "cpu_op"; the legacy profiler (LibTorch without Kineto)
    # writes only operators, with no category.
    ops = [e for e in ev if cat(e) in ("cpu_op", "")]
    t0 = min(e["ts"] for e in ev)
    t1 = max(e["ts"] + e["dur"] for e in ev)
    ms = lambda us: us / 1e3 / n
    print(f"trace: {a.trace}, {len(ev)} events, {n} steps; per step:")
    print(f"  wall                 {ms(t1 - t0):9.2f} ms")
    if device:
        busy = union_length([(e["ts"], e["dur"]) for e in device])
        print(f"  device busy          {ms(busy):9.2f} ms  ({100 * busy / (t1 - t0):.0f}% of wall)")
        by_class = collections.Counter()
        for e in kernels:
            by_class[kernel_class(e["name"])] += e["dur"]
        for c in ("gemm", "attention", "other"):
            print(f"  kernels: {c:<11} {ms(by_class[c]):9.2f} ms")
        print(f"  kernel launches      {len(kernels) / n:9.0f}")
        launches = [e for e in runtime if "Launch" in e["name"]]
        if launches:
            per = sum(e["dur"] for e in launches) / len(launches)
            print(f"  host launch calls    {len(launches) / n:9.0f}  ({per:.1f} us each)")
        sync = [e for e in runtime if e["name"] in SYNC_CALLS]
        print(f"  host in sync calls   {ms(sum(e['dur'] for e in sync)):9.2f} ms  "
              f"({len(sync) / n:.0f} calls)")
        print(f"  top kernels (ms per step, launches per step):")
        print_top(kernels, a.top, ms, n)
    if ops:
        print(f"  host operators: {len(ops) / n:.0f} per step; top by inclusive time:")
        print_top(ops, a.top, ms, n)
        print(f"  top by self time (nested operators subtracted):")
        print_top(self_times(ops), a.top, ms, n)
        # A host that cannot queue work as fast as the device runs it is bound by this count.
        print(f"  top by count (nested operators included):")
        print_top(ops, a.top, ms, n, by_count=True)


if __name__ == "__main__":
    main()
