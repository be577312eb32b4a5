#!/usr/bin/env bash
# Sanitizer runs of the unit tests, for CI and for anyone to rerun.
#
#   tests/sanitize.sh asan [CTEST_REGEX]   ASan + UBSan (no recovery: any report fails the test)
#   tests/sanitize.sh tsan                 ThreadSanitizer on the threaded parts: the prefetcher
#                                          (data/pipeline), the collective queue, watchdog and
#                                          gradient reducer (distributed/)
#
# Environment: SANITIZE_BUILD_DIR (default build-fuzz for asan: the fuzz build is the same
# clang ASan + UBSan build and is reused; build-tsan for tsan), SANITIZE_JOBS (default 2).
# MPI is off in these builds: an MPI library is not instrumented and reports races of its own.
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?usage: tests/sanitize.sh asan|tsan [CTEST_REGEX]}
JOBS=${SANITIZE_JOBS:-2}
export OMP_NUM_THREADS=1

configure() {  # configure DIR FLAGS...
  local dir=$1
  shift
  [ -f "$dir/CMakeCache.txt" ] && return 0
  mkdir -p "$dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DELECTRA_WITH_MPI=OFF "$@" \
    >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; exit 1; }
}

case $MODE in
  asan)
    BUILD=${SANITIZE_BUILD_DIR:-build-fuzz}
    configure "$BUILD" -DELECTRA_FUZZ=ON
    REGEX=${2:-}
    targets=(test_common test_model test_data test_distributed test_pretrain test_finetune)
    nice cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}" electra_spm || exit 1
    # LibTorch is not instrumented: its one-time allocations would read as leaks.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    export ELECTRA_SPM_BRIDGE="$PWD/$BUILD/launcher/libelectra_spm.so"
    ctest --test-dir "$BUILD" --output-on-failure -E '^fuzz\.' ${REGEX:+-R "$REGEX"} \
      -L 'common|model|data|distributed|pretrain|finetune'
    ;;
  tsan)
    BUILD=${SANITIZE_BUILD_DIR:-build-tsan}
    configure "$BUILD" -DELECTRA_SANITIZE_THREAD=ON
    nice cmake --build "$BUILD" -j"$JOBS" --target test_data test_distributed electra_spm || exit 1
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
    export ELECTRA_SPM_BRIDGE="$PWD/$BUILD/launcher/libelectra_spm.so"
    status=0
    "$BUILD/tests/test_data" --gtest_filter='Pipeline.*' || status=1
    "$BUILD/tests/test_distributed" --gtest_filter='GradientReducer.*:CollectiveQueue.*:SingleProcess.*' ||
      status=1
    exit $status
    ;;
  *)
    echo "unknown mode '$MODE': asan or tsan"
    exit 2
    ;;
esac
