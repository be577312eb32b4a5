# Shared setup of the fault-injection scripts (sourced, not run): the `electra` binary, a tiny
# corpus and WordPiece vocabulary, and the --set overrides of a tiny, deterministic pretraining
# run whose checkpoints are small and frequent.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ELECTRA=${ELECTRA:-$ROOT/build/launcher/electra}
[ -x "$ELECTRA" ] || { echo "no electra binary at $ELECTRA (build it, or set ELECTRA=...)"; exit 2; }
WORK=${FAULT_WORK:-$(mktemp -d /tmp/electra_faults_XXXXXX)}
mkdir -p "$WORK"
export OMP_NUM_THREADS=1

fail() { echo "FAIL: $*"; exit 1; }

# A corpus with some structure, and the uncased WordPiece fixture as the vocabulary.
make_inputs() {
  mkdir -p "$WORK/corpus"
  local subj=("the cat" "a dog" "my friend" "the old man") verb=(sees likes finds follows)
  local obj=("the ball" "a red apple" "the river" "some bread")
  local i line
  : >"$WORK/corpus/a.txt"
  for ((i = 0; i < 400; i++)); do
    line="${subj[i % 4]} ${verb[(i / 4) % 4]} ${obj[(i / 16) % 4]} ."
    echo "$line" >>"$WORK/corpus/a.txt"
    ((i % 5 == 4)) && echo >>"$WORK/corpus/a.txt"
  done
  VOCAB=$ROOT/tests/fixtures/wordpiece/uncased_vocab.txt
}

# tiny_args OUT_DIR STEPS [extra --set k=v ...]: the argument list of `electra pretrain`.
tiny_args() {
  local out=$1 steps=$2
  shift 2
  local a=(pretrain --config "$ROOT/configs/pretrain/electra-tiny.yaml"
    --set "data.files=[$WORK/corpus]" --set "data.tokenizer=$VOCAB" --set data.seq_len=32
    --set model.embedding_size=16 --set model.hidden_size=32 --set model.num_hidden_layers=2
    --set model.num_attention_heads=2 --set model.intermediate_size=64
    --set model.max_position_embeddings=32 --set generator.size_fraction=0.5
    --set train.batch_size=8 --set train.precision=fp32 --set "train.steps=$steps"
    --set train.log_every=5 --set train.save_every=2 --set train.keep_last=2
    --set train.threads=1 --set optimizer.warmup_steps=5 --set output.tensorboard=false
    --set data.chunk_bytes=1024
    --set "output.dir=$out")
  local s
  for s in "$@"; do a+=(--set "$s"); done
  printf '%s\n' "${a[@]}"
}

# Checksums of what a finished run's last checkpoint holds: weights and optimizer moments.
final_digest() {
  local ck
  ck=$(ls -d "$1"/checkpoints/step-* 2>/dev/null | grep -v '\.tmp' | sort | tail -1)
  [ -n "$ck" ] || { echo none; return; }
  (cd "$ck" && sha256sum discriminator/model.safetensors generator/model.safetensors \
    optimizer.safetensors | sha256sum | cut -c1-16)
}

# The newest complete checkpoint's step (0 when none).
latest_complete_step() {
  local d best=0 s
  for d in "$1"/checkpoints/step-*; do
    [ -f "$d/COMPLETE" ] || continue
    s=$(basename "$d" | sed 's/^step-0*//')
    # Staging (step-N.tmp, where COMPLETE is written before the rename) and set-aside
    # directories are not checkpoints, as in pretrain::latest_checkpoint.
    [[ $s =~ ^[0-9]+$ ]] && ((s > best)) && best=$s
  done
  echo $best
}
