#!/usr/bin/env bash
# A full disk during a checkpoint write: output.dir on a small tmpfs that holds one checkpoint
# but not two. The run must stop with a clear error, the previous checkpoint must stay intact
# (its checksums verify), no partial directory may carry a checkpoint's final name, and after
# space is freed the same command resumes and finishes with the weights of an unhindered run.
#
#   tests/faults/full_disk.sh
# Needs root for `mount -t tmpfs`; without it the script falls back to RLIMIT_FSIZE (`ulimit -f`,
# with SIGXFSZ ignored so a write fails with EFBIG) on a plain directory, and says so
# (FAULT_DISK_MODE=rlimit forces that mode).
source "$(dirname "$0")/common.sh"
STEPS=8
make_inputs
mapfile -t REF_ARGS < <(tiny_args "$WORK/ref" $STEPS train.save_every=4)
"$ELECTRA" "${REF_ARGS[@]}" >"$WORK/ref.log" 2>&1 || { tail "$WORK/ref.log"; fail "reference run"; }
ref=$(final_digest "$WORK/ref")
ck_kb=$(du -sk "$WORK/ref/checkpoints/step-00000008" | cut -f1)
big_kb=$(find "$WORK/ref/checkpoints/step-00000008" -type f -printf '%s\n' | sort -n | tail -1)
big_kb=$((big_kb / 1024))
echo "one checkpoint: ${ck_kb} KiB (largest file ${big_kb} KiB)"

DISK=$WORK/disk
mkdir -p "$DISK"
mode=tmpfs
# Room for the metrics and one checkpoint and a half: the second save runs out of space.
size_kb=$((ck_kb * 3 / 2 + 64))
if [ "${FAULT_DISK_MODE:-tmpfs}" = rlimit ] ||
  ! mount -t tmpfs -o size=${size_kb}k electra-full-disk "$DISK" 2>/dev/null; then
  mode=rlimit
  echo "no tmpfs (mount not permitted, or FAULT_DISK_MODE=rlimit): RLIMIT_FSIZE instead, a write past the limit fails"
fi
mapfile -t ARGS < <(tiny_args "$DISK/run" $STEPS train.save_every=4 train.keep_last=3)
# First 4 steps and their checkpoint with room to spare, then the resumed run meets the limit
# at its step-8 save.
"$ELECTRA" "${ARGS[@]}" --set train.exit_after_steps=4 >"$WORK/first.log" 2>&1 ||
  { [ $mode = tmpfs ] && umount "$DISK"; fail "first 4 steps: $(tail -2 "$WORK/first.log")"; }
if [ $mode = tmpfs ]; then
  "$ELECTRA" "${ARGS[@]}" >"$WORK/full.log" 2>&1
  rc=$?
else
  (trap '' XFSZ; ulimit -f $((big_kb - 1)); exec "$ELECTRA" "${ARGS[@]}") >"$WORK/full.log" 2>&1
  rc=$?
fi
msg=$(grep -i "error" "$WORK/full.log" | tail -1)
echo "run on the full disk: status $rc; message: $msg"
((rc != 0)) || { [ $mode = tmpfs ] && umount "$DISK"; fail "the run succeeded on a full disk"; }
check() {
  echo "$msg" | grep -qiE "no space left|disk is full|file too large" || fail "unclear message: $msg"
  latest=$(latest_complete_step "$DISK/run")
  [ "$latest" = 4 ] || fail "the newest complete checkpoint is step $latest, expected 4"
  for d in "$DISK"/run/checkpoints/step-*; do
    case $d in *.tmp | *.old-*) continue ;; esac
    [ -f "$d/COMPLETE" ] || fail "$d has a final name but no COMPLETE marker"
  done
  # The previous checkpoint verifies: export checks every file against the manifest.
  "$ELECTRA" export --checkpoint "$DISK/run/checkpoints/step-00000004" --out "$WORK/export" \
    >"$WORK/export.log" 2>&1 || fail "the previous checkpoint does not verify: $(tail -2 "$WORK/export.log")"
}
( check ) || { [ $mode = tmpfs ] && umount "$DISK"; exit 1; }
echo "previous checkpoint step-00000004 intact (verified by electra export); no partial directory taken as complete"
# Free space and resubmit.
[ $mode = tmpfs ] && mount -o remount,size=$((ck_kb * 4 + 256))k "$DISK"
"$ELECTRA" "${ARGS[@]}" >"$WORK/resume.log" 2>&1
rc=$?
got=$(final_digest "$DISK/run")
[ $mode = tmpfs ] && umount "$DISK"
((rc == 0)) || fail "resume after freeing space failed: $(tail -3 "$WORK/resume.log")"
grep -q "resuming from .*step-00000004" "$WORK/resume.log" || fail "did not resume from step 4"
[ "$got" = "$ref" ] || fail "final weights $got differ from the unhindered run's $ref"
echo "PASS ($mode): clear error, step 4 intact, resumed after freeing space, weights identical"
[ -n "${FAULT_WORK:-}" ] || rm -rf "$WORK"
