#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan, coverage in every library) in their own
# build directory and runs each for a bounded time, starting from its committed seed corpus.
#
#   tests/fuzz/run.sh [SECONDS_PER_HARNESS=60] [HARNESS...]
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (build parallelism, default 2),
# FUZZ_WORK (where new corpus entries and crash files go, default $FUZZ_BUILD_DIR/fuzz-work).
# Prints one line per harness: executions, coverage (libFuzzer's cov: and ft: of its final
# stats line), corpus size and the result. Crash reproducers are left in $FUZZ_WORK/<harness>/;
# a found bug gets fixed and its reproducer committed to tests/fuzz/corpus/<harness>/.
set -uo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER=${1:-60}
shift || true
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
WORK=${FUZZ_WORK:-$BUILD/fuzz-work}
JOBS=${FUZZ_JOBS:-2}

HARNESSES=("$@")
if [ ${#HARNESSES[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cpp; do HARNESSES+=("$(basename "$f" .cpp | sed 's/^fuzz_//')"); done
fi

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  mkdir -p "$BUILD"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DELECTRA_FUZZ=ON -DELECTRA_WITH_MPI=OFF >"$BUILD/configure.log" 2>&1 ||
    { cat "$BUILD/configure.log"; exit 1; }
fi
targets=()
for h in "${HARNESSES[@]}"; do targets+=("fuzz_$h"); done
nice cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}" electra_spm || exit 1

# LibTorch and its dependencies are not instrumented: leak reports from their one-time
# allocations are noise, and OpenMP threads only slow a fuzzer down.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1
export ELECTRA_SPM_BRIDGE="$PWD/$BUILD/launcher/libelectra_spm.so"

status=0
printf '%-18s %10s %8s %8s %8s  %s\n' harness execs cov ft corpus result
for h in "${HARNESSES[@]}"; do
  mkdir -p "$WORK/$h/corpus" "$WORK/$h/artifacts"
  log="$WORK/$h/fuzz.log"
  # -rss_limit_mb: LibTorch's own footprint is ~400 MB; a parser that believes a size field
  # and allocates gigabytes is a bug, reported as out-of-memory.
  "$BUILD/tests/fuzz/fuzz_$h" "$WORK/$h/corpus" "tests/fuzz/corpus/$h" \
    -max_total_time="$SECONDS_PER" -max_len=65536 -rss_limit_mb=2048 -timeout=20 \
    -artifact_prefix="$WORK/$h/artifacts/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  if [ $rc -eq 0 ]; then result=ok; else
    result="FAILED (rc $rc): see $log and $WORK/$h/artifacts/"
    status=1
  fi
  printf '%-18s %10s %8s %8s %8s  %s\n' "$h" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
exit $status
