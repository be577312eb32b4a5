#!/usr/bin/env bash
# Weak scaling of data-parallel pre-training on this machine: tokens/s of ELECTRA-Small in
# bf16, the same per-rank batch three ways, side by side in one run:
#   np2x1t   mpirun -np 2, 1 thread per rank   (global batch 2 x B)
#   np1x1t   1 rank, 1 thread                  (global batch B)
#   np1x2t   1 rank, 2 threads                 (global batch B)
# The three runs are interleaved REPEATS times so that a change in machine load hits them
# alike; each figure is the median tokens/s over the log windows of all repeats, the first
# window of every run (warm-up) left out. Weak-scaling efficiency = np2x1t / (2 x np1x1t).
#
# Usage: bench/scaling.sh            (after building the `electra` target in build/)
# Environment: ELECTRA (binary), CORPUS (dir or file; default the Brown corpus if present,
# else the test fixture), VOCAB (SentencePiece size, 8000), BATCH (sequences per rank per
# step, 8), SEQ (128), STEPS (per run, 36), LOG_EVERY (6), REPEATS (3), WORK (scratch dir).
set -euo pipefail
cd "$(dirname "$0")/.."
ELECTRA=${ELECTRA:-build/launcher/electra}
CORPUS=${CORPUS:-/work/shared/data/corpus/brown}
[ -e "$CORPUS" ] || CORPUS=tests/fixtures/distributed/corpus
VOCAB=${VOCAB:-8000}
BATCH=${BATCH:-8}
SEQ=${SEQ:-128}
STEPS=${STEPS:-36}
LOG_EVERY=${LOG_EVERY:-6}
REPEATS=${REPEATS:-3}
WORK=${WORK:-$(mktemp -d /tmp/electra-scaling.XXXXXX)}
MPIRUN=(mpirun --oversubscribe --allow-run-as-root)

[ -x "$ELECTRA" ] || { echo "build the electra target first ($ELECTRA missing)" >&2; exit 1; }
mkdir -p "$WORK"
if [ ! -f "$WORK/spm/spm.model" ]; then
  "$ELECTRA" vocab --input "$CORPUS" --vocab-size "$VOCAB" --out "$WORK/spm" >/dev/null
fi

# ELECTRA-Small (the paper's sizes) unless configs/pretrain/electra-small.yaml exists.
model=()
if [ -f configs/pretrain/electra-small.yaml ]; then
  model=(--config configs/pretrain/electra-small.yaml)
else
  model=(--set model.hidden_size=256 --set model.num_hidden_layers=12
         --set model.num_attention_heads=4 --set model.embedding_size=128
         --set model.intermediate_size=1024)
fi
common=("${model[@]}" --set "data.files=[$CORPUS]" --set "data.tokenizer=$WORK/spm/spm.model"
        --set data.seq_len="$SEQ" --set train.precision=bf16 --set train.steps="$STEPS"
        --set train.log_every="$LOG_EVERY" --set train.save_every=100000000
        --set optimizer.warmup_steps=10 --set output.tensorboard=false)

run() {  # name np threads repeat
  local name=$1 np=$2 threads=$3 rep=$4 out="$WORK/$1-$4"
  rm -rf "$out"
  local cmd=("$ELECTRA" pretrain "${common[@]}" --set train.threads="$threads"
             --set train.batch_size=$((BATCH * np)) --set output.dir="$out")
  if [ "$np" -gt 1 ]; then cmd=("${MPIRUN[@]}" -np "$np" "${cmd[@]}"); fi
  "${cmd[@]}" > "$out.log" 2>&1 || { echo "$name failed, see $out.log" >&2; tail -5 "$out.log" >&2; exit 1; }
  # Windows after the first: "name rate"
  python3 - "$name" "$out/metrics.jsonl" <<'PY' >> "$WORK/rates.txt"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[2])]
for r in recs[1:]:
    print(sys.argv[1], r["tokens_per_s"])
PY
}

: > "$WORK/rates.txt"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); work dir $WORK"
for rep in $(seq 1 "$REPEATS"); do
  run np2x1t 2 1 "$rep"
  run np1x1t 1 1 "$rep"
  run np1x2t 1 2 "$rep"
  echo "repeat $rep done (load $(cut -d' ' -f1 /proc/loadavg))"
done

python3 - "$WORK/rates.txt" "$BATCH" "$SEQ" <<'PY'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    name, r = line.split()
    rates.setdefault(name, []).append(float(r))
med = {k: statistics.median(v) for k, v in rates.items()}
print(f"ELECTRA-Small bf16, seq {sys.argv[3]}, {sys.argv[2]} sequences per rank per step")
for k in ("np2x1t", "np1x1t", "np1x2t"):
    v = rates[k]
    print(f"  {k}: median {med[k]:8.0f} tokens/s  (min {min(v):.0f}, max {max(v):.0f}, {len(v)} windows)")
print(f"weak-scaling efficiency np2x1t / (2 x np1x1t): {med['np2x1t'] / (2 * med['np1x1t']):.1%}")
print(f"2 ranks x 1 thread vs 1 rank x 2 threads: {med['np2x1t'] / med['np1x2t']:.2f}x")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
