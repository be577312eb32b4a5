#!/bin/bash
# electra-cpp against eager PyTorch (../shared/ref/ref_electra.py, the same LibTorch 1.13),
# side by side in one run: ELECTRA-Small (generator at 0.25 of the width, as in the paper),
# the same batch, seq, precision, threads and BLAS environment for both. Runs are interleaved
# (ours, ref, ref --mlm-head all, for each precision and repeat) so that every system sees the
# same machine load; the table reports medians of the per-run tokens/s and their ratios.
#
#   bench/compare_reference.sh                         # REPEATS=3 STEPS=10 BATCH=32 SEQ=128
#   PRECISIONS=bf16 REPEATS=5 bench/compare_reference.sh
#
# Environment: ELECTRA (binary), REF (ref_electra.py), PY (a python with torch), THREADS,
# SAME_MALLOC (below).
set -euo pipefail

ELECTRA=${ELECTRA:-build/launcher/electra}
REF=${REF:-../shared/ref/ref_electra.py}
PY=${PY:-/usr/bin/python3}
REPEATS=${REPEATS:-3}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-2}
BATCH=${BATCH:-32}
SEQ=${SEQ:-128}
THREADS=${THREADS:-$(nproc)}
PRECISIONS=${PRECISIONS:-"fp32 bf16"}
INFERENCE=${INFERENCE:-1}
OUT=${OUT:-runs/compare_reference.jsonl}
REFCFG=$(dirname "$REF")/configs

# The same BLAS environment for both programs. electra would re-execute itself with the
# AVX-512 kernels on its own (common/blas.h); the reference cannot, so the kernel family is
# set for both here, before either loads OpenBLAS.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=SKYLAKEX
fi

# OpenMP threads that sleep rather than spin between parallel regions (electra sets this for
# itself; see common/blas.cpp): given to both so that the comparison is of the code alone.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

# glibc's malloc thresholds that keep freed blocks for reuse instead of unmapping them (electra
# sets these for itself, common/blas.cpp): without them the reference's steps have the kernel
# map and zero their activations again, its all-positions head's [tokens, vocab] logits above
# all. Both get them, so that the comparison stays of the code alone. SAME_MALLOC=0 runs the
# reference with glibc's defaults instead, as a user runs it (electra still sets its own).
if [ "${SAME_MALLOC:-1}" = 1 ]; then
  export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=68719476736:glibc.malloc.trim_threshold=68719476736}
fi

mkdir -p "$(dirname "$OUT")"
: > "$OUT"
ours() {  # precision, extra args...
  local p=$1; shift
  "$ELECTRA" bench --config configs/pretrain/electra-small.yaml --set train.precision="$p" \
    --set train.batch_size="$BATCH" --set data.seq_len="$SEQ" --set train.threads="$THREADS" \
    --steps "$STEPS" --warmup "$WARMUP" "$@" 2>/dev/null | tail -1
}
record() {  # system, precision, json
  "$PY" -c '
import json, sys
r = json.loads(sys.argv[3]); r["system"], r["precision"] = sys.argv[1], sys.argv[2]
print(json.dumps(r))
print("  %-22s %-5s %9.0f tok/s  step %8.1f ms  rss %7.0f MB" % (
    r["system"], r["precision"], r["tokens_per_s"], r["step_ms_median"], r["peak_rss_mb"]),
    file=sys.stderr)' "$1" "$2" "$3" >> "$OUT"
}

for rep in $(seq 1 "$REPEATS"); do
  echo "repeat $rep/$REPEATS"
  for p in $PRECISIONS; do
    record electra-train "$p" "$(ours "$p")"
    for head in masked all; do
      record "ref-train-$head" "$p" "$("$PY" "$REF" bench-train --config "$REFCFG/electra-small-discriminator.json" \
        --gen-config "$REFCFG/electra-small-generator-paper.json" --mlm-head "$head" --batch "$BATCH" \
        --seq "$SEQ" --steps "$STEPS" --warmup "$WARMUP" --dtype "$p" --threads "$THREADS" | tail -1)"
    done
    if [ "$INFERENCE" = 1 ]; then
      record electra-infer "$p" "$(ours "$p" --inference --gemm-seconds 0.5)"
      record ref-infer "$p" "$("$PY" "$REF" bench-infer --config "$REFCFG/electra-small-discriminator.json" \
        --batch "$BATCH" --seq "$SEQ" --steps "$STEPS" --warmup "$WARMUP" --dtype "$p" --threads "$THREADS" | tail -1)"
    fi
  done
done

"$PY" - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(system, p, key="tokens_per_s"):
    v = [r[key] for r in rows if r["system"] == system and r["precision"] == p]
    return statistics.median(v) if v else float("nan")
print()
print(f"{'precision':<9} {'electra tok/s':>13} {'ref tok/s':>10} {'ref-all tok/s':>13} {'vs ref':>7} {'vs ref-all':>10} {'MFU':>6} {'RSS MB':>7}  {'infer vs ref':>12}")
for p in sorted({r["precision"] for r in rows}):
    e, m, a = med("electra-train", p), med("ref-train-masked", p), med("ref-train-all", p)
    ei, ri = med("electra-infer", p), med("ref-infer", p)
    print(f"{p:<9} {e:13.0f} {m:10.0f} {a:13.0f} {e / m:6.2f}x {e / a:9.2f}x {med('electra-train', p, 'mfu'):6.1%} "
          f"{med('electra-train', p, 'peak_rss_mb'):7.0f}  {ei / ri:11.2f}x")
# The spread behind each median: the ratio within every repeat (the runs of one repeat are
# back to back, so they share the machine's state; repeats do not).
def per_repeat(system, ref, p):
    mine = [r["tokens_per_s"] for r in rows if r["system"] == system and r["precision"] == p]
    theirs = [r["tokens_per_s"] for r in rows if r["system"] == ref and r["precision"] == p]
    return " ".join(f"{x / y:.2f}x" for x, y in zip(mine, theirs))
print()
for p in sorted({r["precision"] for r in rows}):
    print(f"{p} per repeat: vs ref {per_repeat('electra-train', 'ref-train-masked', p)};"
          f" vs ref-all {per_repeat('electra-train', 'ref-train-all', p)};"
          f" infer {per_repeat('electra-infer', 'ref-infer', p)}")
PY
