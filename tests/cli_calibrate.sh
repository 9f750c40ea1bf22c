#!/bin/sh
# parley calibrate as a user runs it: on the digits model with ordinary
# inputs and with an input times 1e4 (which wraps at the default ring), it
# recommends a (l, s) on its last line; parley plain then runs every sample
# at it (no wrap-around) and gives the same label as the most precise run;
# the recommendation for the large input has more bits than the default.
# plain and run take --bits auto and compute at calibrate's choice.
#   tests/cli_calibrate.sh PARLEY EXAMPLES_DIR DATA_DIR
set -u
P=$1 EX=$2 DATA=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() {
    echo "cli_calibrate: $*" >&2
    exit 1
}
. "$(dirname "$0")/cli_lib.sh"
need_numpy
M="$EX/digits.onnx"
"$P" calibrate --model "$M" --input "$EX/digit-0.npy" --input "$EX/digit-3.npy" >"$T/out" 2>&1 ||
    fail "calibrate failed: $(cat "$T/out")"
grep -q "recommended" "$T/out" || fail "no reasoning printed: $(cat "$T/out")"
grep -q "checked: every sample runs" "$T/out" || fail "no check printed: $(cat "$T/out")"
REC=$(tail -n 1 "$T/out")
case "$REC" in --bits\ [0-9]*\ --scale\ [0-9]*) ;; *) fail "last line is not the options: $REC" ;; esac
for x in digit-0 digit-3; do
    "$P" plain --model "$M" --input "$EX/$x.npy" --output "$T/$x.npy" $REC --quiet ||
        fail "plain $REC failed on $x"
    "$P" plain --model "$M" --input "$EX/$x.npy" --output "$T/$x.ref.npy" --bits 64 --scale 20 \
        --quiet || fail "plain at (64, 20) failed on $x"
    "$PY" -c 'import sys, numpy as np; a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); sys.exit(3 if a.argmax() != b.argmax() else 0)' \
        "$T/$x.npy" "$T/$x.ref.npy"
    rc=$?
    [ $rc -eq 3 ] && fail "$x: the label at $REC differs from (64, 20)"
    [ $rc -eq 0 ] || fail "$x: the label comparison failed (status $rc)"
done
# The input times 1e4 wraps at (37, 12); calibrate's choice runs it.
"$P" calibrate --model "$M" --input "$DATA/digit-0x1e4.npy" --quiet >"$T/big" 2>&1 ||
    fail "calibrate failed on the large input: $(cat "$T/big")"
BIG=$(tail -n 1 "$T/big")
set -- $BIG
[ "$2" -gt 37 ] || fail "the large input got --bits $2, not more than the default 37"
"$P" plain --model "$M" --input "$DATA/digit-0x1e4.npy" --output "$T/big.npy" $BIG --quiet ||
    fail "plain $BIG failed on the large input"
# --bits auto: plain and run calibrate on their input, say the choice, and
# compute at it: plain's output equals plain's at calibrate's recommendation,
# and the secure run's equals plain's, bit for bit.
"$P" plain --model "$M" --input "$DATA/digit-0x1e4.npy" --output "$T/auto.npy" --bits auto \
    2>"$T/auto.err" || fail "plain --bits auto failed: $(cat "$T/auto.err")"
grep -q -- "--bits auto: calibrated on .*: $BIG\$" "$T/auto.err" ||
    fail "plain --bits auto did not print the choice $BIG: $(cat "$T/auto.err")"
cmp -s "$T/auto.npy" "$T/big.npy" || fail "plain --bits auto differs from plain $BIG"
"$P" run --model "$M" --input "$DATA/digit-0x1e4.npy" --output "$T/run.npy" --bits auto \
    >"$T/run.out" 2>&1 || fail "run --bits auto failed: $(cat "$T/run.out")"
grep -q -- "--bits auto: calibrated on .*: $BIG\$" "$T/run.out" ||
    fail "run --bits auto did not print the choice $BIG: $(cat "$T/run.out")"
cmp -s "$T/run.npy" "$T/big.npy" || fail "run --bits auto differs from plain $BIG"
# --bits auto chooses the scale: with --scale it is bad use; serve has no input.
for c in plain run; do
    "$P" $c --model "$M" --input "$EX/digit-0.npy" --output "$T/x.npy" --bits auto --scale 9 \
        >/dev/null 2>&1
    [ $? -eq 2 ] || fail "$c --bits auto --scale 9 did not exit 2"
done
"$P" serve --model "$M" --bits auto >/dev/null 2>&1
[ $? -eq 2 ] || fail "serve --bits auto did not exit 2"
# Bad use: no input (exit 2).
"$P" calibrate --model "$M" >/dev/null 2>&1
[ $? -eq 2 ] || fail "calibrate without --input did not exit 2"
exit 0
