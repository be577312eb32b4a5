#!/usr/bin/env bash
# kill -9 of a single-process pretraining run, over and over, each restart resuming from the
# newest complete checkpoint; at the end the weights must equal those of an uninterrupted run.
#
#   tests/faults/kill_resume.sh [KILLS=20] [STEPS=60]
#
# Half of the kills land at a random moment, half as soon as a checkpoint's staging directory
# (step-N.tmp) appears, i.e. in the middle of a checkpoint write. Every restart must say that it
# resumes from the newest directory that had a COMPLETE marker when it was killed (or start
# fresh when there was none), and no directory without COMPLETE may ever be resumed. A run that
# reaches the end between two kills must already hold the reference weights (the next one then
# starts over in a fresh directory).
source "$(dirname "$0")/common.sh"
KILLS=${1:-20}
STEPS=${2:-60}
make_inputs
mapfile -t REF_ARGS < <(tiny_args "$WORK/ref" "$STEPS")
"$ELECTRA" "${REF_ARGS[@]}" >"$WORK/ref.log" 2>&1 || { tail "$WORK/ref.log"; fail "reference run"; }
ref=$(final_digest "$WORK/ref")
echo "reference run: $STEPS steps, final digest $ref"

mapfile -t ARGS < <(tiny_args "$WORK/run" "$STEPS")
kills=0 during_write=0 runs=0 sequences=0 RANDOM=${SEED:-1234}
while ((kills < KILLS)); do
  before=$(latest_complete_step "$WORK/run")
  log="$WORK/run.$runs.log"
  "$ELECTRA" "${ARGS[@]}" >"$log" 2>&1 &
  pid=$!
  runs=$((runs + 1))
  # Let it get past start-up (resume and first steps), then pick the moment.
  for ((t = 0; t < 3000; t++)); do
    grep -q "electra pretrain:" "$log" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.01
  done
  if ((kills % 2 == 0)); then
    # A random moment: a step, a log line or a save.
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.8 * r / 32767 }')"
  else
    # As soon as a checkpoint is being written (polling, so the write is under way).
    for ((t = 0; t < 3000; t++)); do
      compgen -G "$WORK/run/checkpoints/step-*.tmp" >/dev/null && break
      kill -0 $pid 2>/dev/null || break
      sleep 0.005
    done
  fi
  if kill -9 $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    kills=$((kills + 1))
    staged=$(compgen -G "$WORK/run/checkpoints/step-*.tmp" | head -1)
    [ -n "$staged" ] && during_write=$((during_write + 1))
  else
    wait $pid || fail "run $runs ended with an error before it was killed: $(tail -3 "$log")"
    # The run reached the end between kills: its weights must already equal the reference.
    got=$(final_digest "$WORK/run")
    [ "$got" = "$ref" ] || fail "run $runs finished with digest $got, expected $ref"
    sequences=$((sequences + 1))
    echo "run $runs finished before its kill, final digest $got = reference; starting over"
    rm -rf "$WORK/run"
    continue
  fi
  # What the run resumed from must be what was complete before it started.
  got=$(sed -n 's/.*resuming from .*step-0*\([0-9]*\) at step.*/\1/p' "$log" | head -1)
  if [ -z "$got" ] && ! grep -q "electra pretrain:" "$log"; then
    echo "kill $((kills)) (run $runs): killed during start-up, before it could resume"
    continue
  elif ((before == 0)); then
    [ -z "$got" ] || fail "run $runs resumed from step $got but no checkpoint was complete"
  else
    [ "$got" = "$before" ] || fail "run $runs resumed from '${got:-nothing}', expected step $before"
  fi
  # Nothing incomplete is ever taken for a checkpoint.
  for d in "$WORK"/run/checkpoints/step-*; do
    [ -e "$d" ] || continue
    case $d in *.tmp | *.old-*) continue ;; esac
    [ -f "$d/COMPLETE" ] || fail "$d has no COMPLETE marker but carries a final name"
  done
  echo "kill $kills (run $runs): resumed from step ${got:-none}; killed with step $(latest_complete_step "$WORK/run") complete${staged:+, while writing $(basename "$staged")}"
done
"$ELECTRA" "${ARGS[@]}" >"$WORK/run.final.log" 2>&1 || fail "final resume: $(tail -3 "$WORK/run.final.log")"
got=$(final_digest "$WORK/run")
sequences=$((sequences + 1))
echo "kills: $kills ($during_write with a checkpoint write under way), restarts: $runs," \
  "runs to completion: $sequences, each with the reference's final weights"
echo "final digest after kills: $got, uninterrupted: $ref"
[ "$got" = "$ref" ] || fail "the final weights differ from the uninterrupted run"
echo "PASS: $kills kills survived, final weights and optimizer state identical"
[ -n "${FAULT_WORK:-}" ] || rm -rf "$WORK"
