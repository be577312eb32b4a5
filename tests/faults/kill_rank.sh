#!/usr/bin/env bash
# mpirun -np 2 pretraining with one rank killed (kill -9), then one rank frozen (SIGSTOP: alive
# but silent, the case only the collective timeout can catch): each time the job must end with
# a non-zero status within dist.timeout_s (plus slack), and resubmitting the same command must
# resume from the newest complete checkpoint and finish with the weights of an uninterrupted
# two-rank run.
#
#   tests/faults/kill_rank.sh [TIMEOUT_S=20]
source "$(dirname "$0")/common.sh"
TIMEOUT_S=${1:-20}
STEPS=40
MPIRUN=${MPIRUN:-mpirun}
MPI_FLAGS=(-np 2 --oversubscribe --allow-run-as-root)
make_inputs
# Only the faulted run needs the short collective timeout; the reference run and the
# resubmissions get a long one, so that a slow, loaded CI machine cannot time them out.
CALM_TIMEOUT_S=120
mapfile -t REF_ARGS < <(tiny_args "$WORK/ref" $STEPS "dist.timeout_s=$CALM_TIMEOUT_S")
$MPIRUN "${MPI_FLAGS[@]}" "$ELECTRA" "${REF_ARGS[@]}" >"$WORK/ref.log" 2>&1 ||
  { tail "$WORK/ref.log"; fail "reference two-rank run"; }
ref=$(final_digest "$WORK/ref")
echo "reference two-rank run: $STEPS steps, final digest $ref"

# phase SIGNAL: start the job in a fresh directory, wait for its step-4 checkpoint, send SIGNAL
# to one rank (KILL: the rank dies; STOP: it hangs, alive, inside the next collective), check
# that the job ends non-zero within dist.timeout_s, then resubmit and compare the final weights.
phase() {
  local sig=$1 dir=$WORK/run-$1
  mapfile -t ARGS < <(tiny_args "$dir" $STEPS "dist.timeout_s=$TIMEOUT_S")
  $MPIRUN "${MPI_FLAGS[@]}" "$ELECTRA" "${ARGS[@]}" >"$dir.0.log" 2>&1 &
  local mpirun_pid=$! t
  for ((t = 0; t < 600; t++)); do
    (($(latest_complete_step "$dir") >= 4)) && break
    sleep 0.1
  done
  # The ranks are children of this mpirun (a single-node job).
  local ranks victim
  ranks=$(pgrep -P $mpirun_pid -f "electra pretrain" | sort -n)
  victim=$(echo "$ranks" | tail -1)
  [ -n "$victim" ] || fail "no rank process found under mpirun $mpirun_pid"
  local at_step start rc took
  at_step=$(latest_complete_step "$dir")
  start=$(date +%s.%N)
  kill -s "$sig" "$victim"
  wait $mpirun_pid
  rc=$?
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  echo "SIG$sig to rank pid $victim (of: $(echo $ranks)) after checkpoint step $at_step: mpirun exited $rc after ${took}s"
  grep -h "error" "$dir.0.log" | grep -v "^\[vm" | head -2 | sed 's/^/  message: /'
  ((rc != 0)) || fail "the job ended with status 0 after losing a rank"
  awk -v t="$took" -v lim="$TIMEOUT_S" 'BEGIN { exit !(t <= lim + 15) }' ||
    fail "the job took ${took}s to end, more than dist.timeout_s=$TIMEOUT_S (+15 s slack)"
  mapfile -t ARGS < <(tiny_args "$dir" $STEPS "dist.timeout_s=$CALM_TIMEOUT_S")
  $MPIRUN "${MPI_FLAGS[@]}" "$ELECTRA" "${ARGS[@]}" >"$dir.1.log" 2>&1 ||
    { tail "$dir.1.log"; fail "the resubmitted job failed"; }
  local resumed got
  resumed=$(sed -n 's/.*resuming from .*step-0*\([0-9]*\) at step.*/\1/p' "$dir.1.log" | head -1)
  [ -n "$resumed" ] || fail "the resubmitted job did not resume from a checkpoint"
  got=$(final_digest "$dir")
  echo "resubmission resumed from step $resumed; final digest $got (uninterrupted: $ref)"
  [ "$got" = "$ref" ] || fail "final weights differ from the uninterrupted two-rank run"
}
phase KILL
phase STOP
echo "PASS: a dead and a hung rank each ended the job non-zero within dist.timeout_s=$TIMEOUT_S; resubmissions resumed and matched"
[ -n "${FAULT_WORK:-}" ] || rm -rf "$WORK"
