#!/usr/bin/env bash
# Weak scaling of data-parallel pre-training on this machine: tokens/s of ELECTRA-Small in
# bf16, the same per-rank batch three ways, side by side in one run:
#   np2x1t   mpirun -np 2, 1 thread per rank   (global batch 2 x B)
#   np1x1t   1 rank, 1 thread                  (global batch B)
#   np1x2t   1 rank, 2 threads                 (global batch B)
#   indep    for reference: two independent 1-rank, 1-thread runs at once, one per core, no
#            communication (their summed tokens/s): what this machine gives two processes
#            under its current load. np2x1t / indep isolates the cost of being distributed
#            (reduction, waiting for the slower rank) from the machine's contention.
# The runs are interleaved REPEATS times so that a change in machine load hits them alike;
# each figure is the median tokens/s over the log windows of all repeats, the first window
# of every run (warm-up) left out. Weak-scaling efficiency = np2x1t / (2 x np1x1t).
# Also printed: tokens per CPU-second of the training steps (CPU time of all processes of a
# run, minus a 2-step run's start-up), and their ratio np2x1t / np1x1t: the efficiency the
# wall clock shows when each rank has a core to itself. On a machine whose cores are shared
# (two pinned busy loops each running at half speed), the wall-clock figure measures the
# sharing; the CPU-time figure still measures what distribution costs.
#
# Usage: bench/scaling.sh            (after building the `electra` target in build/)
# Environment: ELECTRA (binary), CORPUS (text dir or file; default the shared Brown corpus,
# /work/shared/data/corpus/brown), VOCAB_FILE (BERT uncased vocab.txt), BATCH (sequences per
# rank per step, 16), SEQ (128), STEPS (per run, 15), LOG_EVERY (3), REPEATS (2), WORK (scratch dir).
# BATCH sets the work per rank between two gradient reductions: each optimizer step reduces
# the whole 57 MB of fp32 gradients however large the batch (so does train.grad_accum > 1).
# The paper's global batch of 128 would be 64 per rank on 2 ranks; 16 keeps the run short.
set -euo pipefail
cd "$(dirname "$0")/.."
ELECTRA=${ELECTRA:-build/launcher/electra}
CORPUS=${CORPUS:-/work/shared/data/corpus/brown}
[ -e "$CORPUS" ] || { echo "no corpus at $CORPUS: set CORPUS to a text directory or file" >&2; exit 1; }
VOCAB_FILE=${VOCAB_FILE:-/work/shared/data/vocab/bert-base-uncased/vocab.txt}
BATCH=${BATCH:-16}
SEQ=${SEQ:-128}
STEPS=${STEPS:-15}
LOG_EVERY=${LOG_EVERY:-3}
REPEATS=${REPEATS:-2}
WORK=${WORK:-$(mktemp -d /tmp/electra-scaling.XXXXXX)}
MPIRUN=(mpirun --oversubscribe --allow-run-as-root)

[ -x "$ELECTRA" ] || { echo "build the electra target first ($ELECTRA missing)" >&2; exit 1; }
[ -f configs/pretrain/electra-small.yaml ] || { echo "configs/pretrain/electra-small.yaml missing" >&2; exit 1; }
mkdir -p "$WORK"
# ELECTRA-Small as published, with BERT's uncased WordPiece vocabulary (30522 tokens) when it
# is there; otherwise with a SentencePiece vocabulary of that size trained on the corpus.
model=(--config configs/pretrain/electra-small.yaml)
if [ -f "$VOCAB_FILE" ]; then
  tokenizer=$VOCAB_FILE
else
  [ -f "$WORK/spm/spm.model" ] ||
    "$ELECTRA" vocab --input "$CORPUS" --vocab-size 30522 --out "$WORK/spm" >/dev/null
  tokenizer=$WORK/spm/spm.model
fi
common=("${model[@]}" --set "data.files=[$CORPUS]" --set "data.tokenizer=$tokenizer"
        --set data.seq_len="$SEQ" --set train.precision=bf16
        --set train.log_every="$LOG_EVERY" --set train.save_every=100000000
        --set optimizer.warmup_steps=10 --set output.tensorboard=false)

# Appends "name rate" for every log window after the first; with several metrics files the
# rates of the same window are summed (concurrent independent runs).
record() {  # name metrics.jsonl...
  python3 - "$@" <<'PY' >> "$WORK/rates.txt"
import json, sys
runs = [[json.loads(l)["tokens_per_s"] for l in open(f)] for f in sys.argv[2:]]
for window in range(1, min(len(r) for r in runs)):
    print(sys.argv[1], sum(r[window] for r in runs))
PY
}

# Runs one configuration for `steps` steps; appends "name steps cpu_seconds tokens" to
# cpu.txt (CPU time of every process of the run, tokens summed over ranks).
run() {  # name np threads steps tag
  local name=$1 np=$2 threads=$3 steps=$4 out="$WORK/$1-$5"
  rm -rf "$out"
  local cmd=("$ELECTRA" pretrain "${common[@]}" --set train.threads="$threads"
             --set train.steps="$steps" --set train.batch_size=$((BATCH * np))
             --set output.dir="$out")
  if [ "$np" -gt 1 ]; then cmd=("${MPIRUN[@]}" -np "$np" "${cmd[@]}"); fi
  /usr/bin/time -f "%U %S" -o "$out.cpu" "${cmd[@]}" > "$out.log" 2>&1 ||
    { echo "$name failed, see $out.log" >&2; tail -5 "$out.log" >&2; exit 1; }
  echo "$name $steps $(awk '{print $1 + $2}' "$out.cpu") $(tokens "$out")" >> "$WORK/cpu.txt"
  record "$name" "$out/metrics.jsonl"
  rm -rf "$out/checkpoints"  # ~170 MB each; the logs and metrics stay
}

tokens() { python3 -c "import json,glob,sys; print(json.load(open(sorted(glob.glob(sys.argv[1] + '/checkpoints/step-*/trainer_state.json'))[-1]))['tokens_seen'])" "$1"; }

run_independent() {  # steps tag: two 1-rank runs at once, pinned to CPUs 0 and 1 as mpirun
  local pids=() outs=()  # binds 2 ranks by default
  for i in 0 1; do
    local out="$WORK/indep$i-$2"
    rm -rf "$out"
    taskset -c "$i" /usr/bin/time -f "%U %S" -o "$out.cpu" "$ELECTRA" pretrain "${common[@]}" \
      --set train.threads=1 --set train.steps="$1" --set train.batch_size="$BATCH" \
      --set output.dir="$out" > "$out.log" 2>&1 &
    pids+=($!)
    outs+=("$out/metrics.jsonl")
  done
  wait "${pids[@]}" || { echo "independent runs failed, see $WORK/indep*-$2.log" >&2; exit 1; }
  record indep "${outs[@]}"
  rm -rf "$WORK"/indep?-"$2"/checkpoints
}

# How much of two cores this machine gives two processes right now: a busy loop alone, then
# two pinned to CPUs 0 and 1 at once (100% = two real free cores; 50% = one core's worth).
spin() { taskset -c "$1" python3 -c "
import time; t = time.perf_counter()
for _ in range(20_000_000): pass
print(time.perf_counter() - t)"; }
alone=$(spin 0)
both=$( (spin 0 & spin 1; wait) | sort -g | tail -1)
echo "two pinned busy loops each run at $(python3 -c "print(f'{$alone / $both:.0%}')") of one alone's speed"

: > "$WORK/rates.txt"
: > "$WORK/cpu.txt"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); work dir $WORK"
# Short runs give each configuration's start-up CPU cost (subtracted below).
for cfg in "np2x1t 2 1" "np1x1t 1 1" "np1x2t 1 2"; do
  run $cfg 2 short
done
for rep in $(seq 1 "$REPEATS"); do
  run np2x1t 2 1 "$STEPS" "$rep"
  run np1x1t 1 1 "$STEPS" "$rep"
  run np1x2t 1 2 "$STEPS" "$rep"
  run_independent "$STEPS" "$rep"
  echo "repeat $rep done (load $(cut -d' ' -f1 /proc/loadavg))"
done

python3 - "$WORK" "$BATCH" "$SEQ" <<'PY'
import statistics, sys
work = sys.argv[1]
rates, cpu = {}, {}
for line in open(work + "/rates.txt"):
    name, r = line.split()
    rates.setdefault(name, []).append(float(r))
for line in open(work + "/cpu.txt"):
    name, steps, sec, tok = line.split()
    cpu.setdefault(name, []).append((int(steps), float(sec), int(tok)))
med = {k: statistics.median(v) for k, v in rates.items()}
print(f"ELECTRA-Small bf16, seq {sys.argv[3]}, {sys.argv[2]} sequences per rank per step")
for k in ("np2x1t", "np1x1t", "np1x2t", "indep"):
    v = rates[k]
    print(f"  {k}: median {med[k]:8.0f} tokens/s  (min {min(v):.0f}, max {max(v):.0f}, {len(v)} windows)")
print(f"weak-scaling efficiency np2x1t / (2 x np1x1t): {med['np2x1t'] / (2 * med['np1x1t']):.1%}")
print(f"2 ranks x 1 thread vs 1 rank x 2 threads: {med['np2x1t'] / med['np1x2t']:.2f}x")
print(f"np2x1t vs two independent processes (cost of distribution alone): "
      f"{med['np2x1t'] / med['indep']:.1%}")
# Tokens per CPU-second of the training steps (start-up cost removed with the short run): what
# the wall-clock efficiency becomes when every rank has a core of its own.
per_cpu = {}
for k, runs in cpu.items():
    short = min(runs)
    longs = [r for r in runs if r[0] > short[0]]
    per_cpu[k] = statistics.median((t - short[2]) / (s - short[1]) for _, s, t in longs)
    print(f"  {k}: {per_cpu[k]:8.0f} tokens per CPU-second")
print(f"CPU-time efficiency np2x1t / np1x1t (tokens per CPU-second): "
      f"{per_cpu['np2x1t'] / per_cpu['np1x1t']:.1%}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
