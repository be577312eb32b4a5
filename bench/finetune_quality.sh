#!/bin/bash
# Fine-tuning quality benchmark (not a test): does pretraining help?
#
#  1. trains a SentencePiece vocabulary on English Wikipedia (WikiExtractor format);
#  2. pre-trains ELECTRA-Tiny (configs/pretrain/electra-tiny.yaml) on it for a fixed wall-clock
#     budget (PRETRAIN_MINUTES): a short calibration run measures seconds per step, and the
#     schedule (warm-up 10%, linear decay) is sized to end on time;
#  3. fine-tunes the pre-trained discriminator and, separately, the same architecture from a
#     random initialisation, on each task in TASKS with the task's config (paper recipe), over
#     SEEDS; `electra finetune --seeds` reports the median and min/max;
#  4. prints one table row per (task, init).
#
# Usage (from the repository root, after building `electra`):
#   bench/finetune_quality.sh                     # ~20 min pretraining + fine-tuning
#   PRETRAIN_MINUTES=5 TASKS=cola SEEDS=1 bench/finetune_quality.sh
#   PRETRAIN_STEPS=600 MAX_STEPS_SST2=600 bench/finetune_quality.sh   # fixed compute, for a
#                                                     # machine shared with other jobs
# Everything goes under $WORK; re-running skips finished stages (delete $WORK to start over).
set -euo pipefail

ELECTRA=${ELECTRA:-build/launcher/electra}
DATA=${DATA:-/work/shared/data}
WORK=${WORK:-runs/bench-finetune}
PRETRAIN_MINUTES=${PRETRAIN_MINUTES:-20}
PRETRAIN_STEPS=${PRETRAIN_STEPS:-}    # set: this many steps instead of the wall-clock budget
MAX_STEPS_SST2=${MAX_STEPS_SST2:-0}   # > 0: cap SST-2 fine-tuning (67k examples) at this many steps
TASKS=${TASKS:-"sst-2 cola"}
SEEDS=${SEEDS:-1,2,3}
THREADS=${THREADS:-2}
VOCAB_SIZE=${VOCAB_SIZE:-8000}
WIKI="$DATA/corpus/wikipedia-en"
mkdir -p "$WORK"

# The tiny architecture, for the random-init baseline (the same as configs/pretrain/electra-tiny.yaml).
TINY="--set model.embedding_size=128 --set model.hidden_size=128 --set model.num_hidden_layers=4
      --set model.num_attention_heads=2 --set model.intermediate_size=512
      --set model.max_position_embeddings=128"

# --- 1. vocabulary ------------------------------------------------------------------------------
# SentencePiece skips lines over 4192 bytes and its warning about them crashes the dlopen'ed
# trainer (a segfault in its std::cerr logging; reported): the vocabulary is trained on a copy of
# the corpus text with WikiExtractor's markup removed and paragraphs cut below that length.
if [ ! -f "$WORK/vocab/spm.model" ]; then
  python3 - "$WIKI" "$WORK/vocab-input.txt" <<'PY'
import glob, os, sys
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "**", "wiki_*"), recursive=True)):
        for line in open(path, encoding="utf-8"):
            line = line.strip()
            if not line or line.startswith("<doc") or line == "</doc>":
                continue
            while len(line.encode("utf-8")) > 4000:
                cut = line.rfind(". ", 0, 2000)
                cut = cut + 1 if cut > 0 else 2000
                out.write(line[:cut].strip() + "\n")
                line = line[cut:].strip()
            out.write(line + "\n")
PY
  "$ELECTRA" vocab --input "$WORK/vocab-input.txt" --vocab-size "$VOCAB_SIZE" \
    --max-sentences 400000 --threads "$THREADS" --out "$WORK/vocab"
fi

PRE=(--config configs/pretrain/electra-tiny.yaml
     --set "data.files=[$WIKI]" --set data.format=wikiextractor
     --set "data.tokenizer=$WORK/vocab/spm.model" --set train.threads="$THREADS")

# --- 2. pretraining on a wall-clock budget ------------------------------------------------------
if [ ! -d "$WORK/pretrain/checkpoints" ] || [ -z "$(ls "$WORK/pretrain/checkpoints" 2>/dev/null)" ]; then
  if [ -n "$PRETRAIN_STEPS" ]; then
    STEPS=$PRETRAIN_STEPS
  else
    rm -rf "$WORK/calibrate"
    "$ELECTRA" pretrain "${PRE[@]}" --set train.steps=40 --set train.log_every=10 \
      --set train.save_every=1000 --set optimizer.warmup_steps=4 --set output.dir="$WORK/calibrate"
    # Seconds per step from the elapsed time between the step-10 and step-40 records.
    SPS=$(python3 -c "
import json
r = [json.loads(l) for l in open('$WORK/calibrate/metrics.jsonl')]
t = {x['step']: x['elapsed_s'] for x in r}
print((t[40] - t[10]) / 30)")
    STEPS=$(python3 -c "print(max(100, int($PRETRAIN_MINUTES * 60 / $SPS)))")
    echo "pretraining: $SPS s/step -> $STEPS steps in ~$PRETRAIN_MINUTES min"
  fi
  WARMUP=$(( STEPS / 10 ))
  "$ELECTRA" pretrain "${PRE[@]}" --set train.steps="$STEPS" --set optimizer.warmup_steps="$WARMUP" \
    --set train.log_every=100 --set train.save_every="$STEPS" --set output.dir="$WORK/pretrain"
fi

# --- 3. fine-tuning: pretrained vs random init --------------------------------------------------
for task in $TASKS; do
  for init in pretrained random; do
    out="$WORK/ft/$task-$init"
    [ -f "$out/sweep_summary.jsonl" ] && continue
    if [ "$init" = pretrained ]; then
      from=(--set model.init_from="$WORK/pretrain")
    else
      # shellcheck disable=SC2086
      from=(--set model.init_from=null --set "data.tokenizer=$WORK/vocab/spm.model" $TINY)
    fi
    cap=()
    if [ "$task" = sst-2 ] && [ "$MAX_STEPS_SST2" -gt 0 ]; then cap=(--set train.max_steps="$MAX_STEPS_SST2"); fi
    "$ELECTRA" finetune --config "configs/finetune/glue/$task.yaml" "${from[@]}" "${cap[@]}" \
      --set data.dir="$DATA/glue" --set train.threads="$THREADS" --set train.log_every=200 \
      --set output.dir="$out" --seeds "$SEEDS"
  done
done

# --- 4. table ------------------------------------------------------------------------------------
python3 - "$WORK" $TASKS <<'EOF'
import json, os, sys
work, tasks = sys.argv[1], sys.argv[2:]
print(f"{'task':<6} {'init':<11} {'metric':<9} {'median':>7} {'min':>7} {'max':>7}  seeds")
for task in tasks:
    for init in ("pretrained", "random"):
        path = os.path.join(work, "ft", f"{task}-{init}", "sweep_summary.jsonl")
        if not os.path.exists(path):
            continue
        for line in open(path):
            r = json.loads(line)
            print(f"{task:<6} {init:<11} {r['metric']:<9} {100 * r['median']:7.2f} "
                  f"{100 * r['min']:7.2f} {100 * r['max']:7.2f}  {r['seeds']}")
EOF
