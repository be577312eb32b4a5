#!/bin/bash
# Fine-tuning throughput benchmark (not a test): training examples per second for
# ELECTRA-Small (hidden 256, 12 layers, 4 heads, embedding 128, FFN 1024, max_seq_len 128) on
# SST-2, fp32 against bf16, interleaved in one run so that both see the same machine load.
# Each measurement is a fresh `electra finetune` of STEPS steps of batch 32 from a random
# initialisation; the trainer's train_summary.json gives examples/s over the training steps only
# (data loading, tokenisation and evaluation excluded). Batches are padded to their longest
# example (SST-2 averages ~25 tokens with an 8k SentencePiece vocabulary), as fine-tuning does.
#
#   bench/finetune_throughput.sh                 # REPEATS=3 STEPS=40
# The tokenizer defaults to the vocabulary bench/finetune_quality.sh trains.
set -euo pipefail

ELECTRA=${ELECTRA:-build/launcher/electra}
DATA=${DATA:-/work/shared/data}
WORK=${WORK:-runs/bench-finetune}
TOKENIZER=${TOKENIZER:-$WORK/vocab/spm.model}
STEPS=${STEPS:-40}
REPEATS=${REPEATS:-3}
THREADS=${THREADS:-2}
[ -f "$TOKENIZER" ] || { echo "no tokenizer at $TOKENIZER (run bench/finetune_quality.sh first or set TOKENIZER)" >&2; exit 2; }

SMALL=(--set model.init_from=null --set "data.tokenizer=$TOKENIZER"
       --set model.embedding_size=128 --set model.hidden_size=256 --set model.num_hidden_layers=12
       --set model.num_attention_heads=4 --set model.intermediate_size=1024
       --set data.max_seq_len=128 --set train.batch_size=32)

results="$WORK/throughput.jsonl"
: > "$results"
for rep in $(seq 1 "$REPEATS"); do
  for precision in fp32 bf16; do
    out="$WORK/throughput/$precision-$rep"
    "$ELECTRA" finetune --config configs/finetune/glue/sst-2.yaml "${SMALL[@]}" \
      --set data.dir="$DATA/glue" --set train.precision="$precision" --set train.max_steps="$STEPS" \
      --set train.threads="$THREADS" --set train.log_every=1000 --set output.save_model=false \
      --set output.write_test=false --set output.dir="$out" > /dev/null
    python3 -c "
import json
s = json.load(open('$out/train_summary.json'))
print(json.dumps({'precision': '$precision', 'repeat': $rep, 'examples_per_s': s['train_examples_per_s']}))" \
      | tee -a "$results"
  done
done
python3 - "$results" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for p in ("fp32", "bf16"):
    v = [r["examples_per_s"] for r in rows if r["precision"] == p]
    print(f"{p}: median {statistics.median(v):.1f} examples/s (runs: {', '.join(f'{x:.1f}' for x in v)})")
EOF
