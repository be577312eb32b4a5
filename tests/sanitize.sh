#!/usr/bin/env bash
# Sanitizer runs of the unit tests, for CI and for anyone to rerun.
#
#   tests/sanitize.sh asan [CTEST_REGEX]   ASan + UBSan (no recovery: any report fails the test)
#                                          on the unit tests and on test_launcher, whose tests run
#                                          the `electra` binary of the same build directory
#                                          (ELECTRA_BINARY is $<TARGET_FILE:electra>), so the
#                                          binary under test is the instrumented one
#   tests/sanitize.sh asan-mpi             ASan + UBSan with MPI: the `mpi` tests (mpirun -np 2)
#                                          and the launcher's DistributedPretrain tests (electra
#                                          pretrain under mpirun: kills, hangs, SIGTERM, resume)
#   tests/sanitize.sh tsan                 ThreadSanitizer on the threaded parts: the prefetcher
#                                          (data/pipeline), the collective queue, watchdog and
#                                          gradient reducer (distributed/)
#
# Environment: SANITIZE_BUILD_DIR (default build-fuzz for asan: the fuzz build is the same
# clang ASan + UBSan build and is reused; build-asan-mpi for asan-mpi; build-tsan for tsan),
# SANITIZE_JOBS (default 2).
# MPI is off in the asan and tsan builds (TSan would report races inside the uninstrumented MPI
# library); asan-mpi covers the MPI paths in a build of its own. Open MPI is not instrumented
# either: ASan checks our code's accesses to the buffers it hands to MPI and sees MPI's heap
# through its malloc, but not MPI's own reads and writes. Leak checking stays off, as for
# LibTorch. Open MPI 4.1 runs under ASan as it is (no suppressions, no MCA settings needed).
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?usage: tests/sanitize.sh asan|asan-mpi|tsan [CTEST_REGEX]}
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

# Sanitizer reports go to files as well as failing the process: a launcher test runs `electra`
# as a child and may expect it to fail (a usage error, a killed rank), so a report there could
# be swallowed with the child's output. Any file in $LOGS fails the run and is printed.
sanitizer_env() {  # sanitizer_env BUILD_DIR
  LOGS="$PWD/$1/sanitizer-logs"
  rm -rf "$LOGS" && mkdir -p "$LOGS"
  # LibTorch (and Open MPI) are not instrumented: their one-time allocations would read as leaks.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:log_path=$LOGS/asan}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:log_path=$LOGS/ubsan}
  export ELECTRA_SPM_BRIDGE="$PWD/$1/launcher/libelectra_spm.so"
}
check_logs() {
  local found=0 f
  for f in "$LOGS"/*; do
    [ -e "$f" ] || continue
    echo "=== sanitizer report $f"
    cat "$f"
    found=1
  done
  return $found
}

case $MODE in
  asan)
    BUILD=${SANITIZE_BUILD_DIR:-build-fuzz}
    configure "$BUILD" -DELECTRA_FUZZ=ON
    REGEX=${2:-}
    targets=(test_common test_model test_data test_distributed test_pretrain test_finetune
      test_launcher electra)
    nice cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}" electra_spm || exit 1
    sanitizer_env "$BUILD"
    status=0
    # The NCCL link check is not among the targets above (CUDA's runtime is not instrumented).
    ctest --test-dir "$BUILD" --output-on-failure -E '^(fuzz|distributed_nccl)\.' ${REGEX:+-R "$REGEX"} \
      -L 'common|model|data|distributed|pretrain|finetune|launcher' || status=1
    check_logs || status=1
    exit $status
    ;;
  asan-mpi)
    BUILD=${SANITIZE_BUILD_DIR:-build-asan-mpi}
    configure "$BUILD" -DELECTRA_SANITIZE=ON -DELECTRA_WITH_MPI=ON
    nice cmake --build "$BUILD" -j"$JOBS" --target test_distributed_mpi test_launcher electra \
      electra_spm || exit 1
    sanitizer_env "$BUILD"
    status=0
    ctest --test-dir "$BUILD" --output-on-failure -L mpi || status=1
    ctest --test-dir "$BUILD" --output-on-failure -R '^DistributedPretrain\.' || status=1
    check_logs || status=1
    exit $status
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
    echo "unknown mode '$MODE': asan, asan-mpi or tsan"
    exit 2
    ;;
esac
