#!/bin/sh
# Precision in serving, as a user meets it (docs/MODELS.md, "Range"):
# - parley serve --calibrate refuses (exit 2) a (l, s) under which a sample's
#   value wraps, naming the sample, the layer and the bits it is out by, and
#   suggesting exactly what parley calibrate recommends on the same samples;
# - serve --bits auto --calibrate picks that recommendation, says so, checks
#   it, and a client's secure output then equals parley plain's at that pair
#   byte for byte;
# - with samples that fit it says they were checked; without samples it says
#   in one line that its (l, s) was not checked against data;
# - bad samples (missing, wrong shape) are refused with their names;
# - parley calibrate skips a candidate s the importer refuses (every weight
#   of a layer rounds to 0, a kind's domain, a bias that does not fit 64
#   bits), naming the reason, and still recommends; when it refuses every
#   candidate the command fails saying so.
# Servers bind port 0 (loopback) and are ended by their pid.
#   tests/cli_serve_calib.sh PARLEY EXAMPLES_DIR DATA_DIR
set -u
P=$1 EX=$2 DATA=$3
T=$(mktemp -d)
SP=
trap '[ -n "$SP" ] && kill "$SP" 2>/dev/null; rm -rf "$T"' EXIT
fail() {
    echo "cli_serve_calib: $*" >&2
    [ -f "$T/srv.err" ] && { echo "--- server's stderr:" >&2; cat "$T/srv.err" >&2; }
    exit 1
}
. "$(dirname "$0")/cli_lib.sh"
M="$EX/digits.onnx" SMALL="$EX/digit-0.npy" BIG="$DATA/digit-0x1e4.npy"

# What calibrate recommends on the two samples (the large one wraps at the
# default (37, 12)).
"$P" calibrate --model "$M" --input "$SMALL" --input "$BIG" --quiet >"$T/rec" 2>&1 ||
    fail "calibrate failed: $(cat "$T/rec")"
REC=$(tail -n 1 "$T/rec")
case "$REC" in --bits\ [0-9]*\ --scale\ [0-9]*) ;; *) fail "calibrate's last line: $REC" ;; esac

# Refused at the default: exit 2, before listening, naming everything.
# (Each refusal is bounded in time: a server that wrongly starts would wait
# for a client.)
expect 2 "parley serve: calibration sample '$BIG' does not fit (l, s) = (37, 12): layer 0 '/0/Conv' (conv): .* by [0-9.]* bits: the result would wrap around.*; on the 2 samples parley calibrate recommends $REC\$" \
    timeout 60 "$P" serve --model "$M" --listen 127.0.0.1:0 --once --threads 1 \
    --calibrate "$SMALL" --calibrate "$BIG"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "the refusal is not one line: $(cat "$T/err")"
grep -q " on 127\.0\.0\.1:" "$T/err" && fail "the refused server listened: $(cat "$T/err")"
# Bad samples: named (exit 1 for a file, 2 for a shape); --bits auto without
# samples is bad use.
expect 1 "no-such.npy" timeout 60 "$P" serve --model "$M" --listen 127.0.0.1:0 --once --calibrate "$T/no-such.npy"
expect 2 "calibration sample '$DATA/cnn.input.npy' has shape \[2,3,32,32\], the model expects" \
    timeout 60 "$P" serve --model "$M" --listen 127.0.0.1:0 --once --calibrate "$DATA/cnn.input.npy"
expect 2 "--bits auto needs --calibrate" timeout 60 "$P" serve --model "$M" --listen 127.0.0.1:0 --once \
    --bits auto

# start NAME ARGS...: a server in the background (stderr in $T/NAME.err), its port in $port.
start() {
    name=$1
    shift
    "$P" serve --model "$M" --listen 127.0.0.1:0 --once --threads 1 "$@" 2>"$T/$name.err" &
    SP=$!
    wait_port "$name" "$SP"
}
# stop: end the server we started (it waits for a client that never comes).
stop() {
    kill "$SP" 2>/dev/null
    wait "$SP" 2>/dev/null
    SP=
}

# Without samples: one line says the pair was not checked.
start plain0
[ "$(grep -c "(l, s) = (37, 12) was not checked against data" "$T/plain0.err")" -eq 1 ] ||
    fail "no 'not checked' line: $(cat "$T/plain0.err")"
stop
# Samples that fit the default: checked, said so, no 'not checked' line.
start fits --calibrate "$SMALL" --calibrate "$EX/digit-3.npy"
grep -q "(l, s) = (37, 12) checked on 2 calibration sample files: no value wraps around" \
    "$T/fits.err" || fail "no 'checked' line: $(cat "$T/fits.err")"
grep -q "not checked" "$T/fits.err" && fail "a checked server said 'not checked'"
stop

# --bits auto on the samples: calibrate's pair, checked; a client on the
# large input is exact against plain at that pair.
start srv --bits auto --calibrate "$SMALL" --calibrate "$BIG"
grep -q -- "--bits auto: calibrated on $SMALL, $BIG: $REC\$" "$T/srv.err" ||
    fail "serve --bits auto did not choose $REC: $(cat "$T/srv.err")"
set -- $REC
grep -q "l = $2, s = $4," "$T/srv.err" || fail "the server does not run at $REC"
grep -q "($2, $4) checked on 2 calibration sample files" "$T/srv.err" || fail "no 'checked' line"
timeout 120 "$P" infer --connect "127.0.0.1:$port" --input "$BIG" --output "$T/secure.npy" \
    --quiet >"$T/out" 2>"$T/err" || fail "the client failed: $(cat "$T/err")"
wait "$SP" || fail "the server's session failed"
SP=
"$P" plain --model "$M" --input "$BIG" --output "$T/plain.npy" $REC --quiet ||
    fail "plain $REC failed"
cmp -s "$T/secure.npy" "$T/plain.npy" || fail "the secure output differs from plain's at $REC"

# calibrate skips the candidates the importer refuses, with the reason.
"$P" calibrate --model "$DATA/batch.onnx" --input "$DATA/batch.input.npy" --smin 1 --smax 8 \
    >"$T/skip" 2>&1 || fail "calibrate with refused candidates failed: $(cat "$T/skip")"
grep -q "^ *1 .* skipped: refused at this scale: node '/4/Gemm': every weight rounds to 0 at scale s = 1" \
    "$T/skip" || fail "no skip note for s = 1: $(cat "$T/skip")"
grep -q "^ *2 .* skipped: refused at this scale: node '/4/Gemm': every weight rounds to 0 at scale s = 2" \
    "$T/skip" || fail "no skip note for s = 2: $(cat "$T/skip")"
tail -n 1 "$T/skip" | grep -q -- "^--bits [0-9]* --scale [3-8]\$" ||
    fail "no recommendation among the accepted candidates: $(tail -n 1 "$T/skip")"
"$P" calibrate --model "$DATA/mlp_tanh.onnx" --input "$DATA/mlp_tanh.input.npy" --smin 1 \
    --smax 6 >"$T/skip" 2>&1 || fail "calibrate on mlp_tanh failed: $(cat "$T/skip")"
grep -q "^ *2 .* skipped: refused at this scale: .*Tanh needs a scale s >= 3" "$T/skip" ||
    fail "no skip note for Tanh's domain: $(cat "$T/skip")"
"$P" calibrate --model "$M" --input "$SMALL" --smin 20 --smax 31 >"$T/skip" 2>&1 ||
    fail "calibrate up to s = 31 failed: $(cat "$T/skip")"
grep -q "^ *31 .* skipped: refused at this scale: node '/3/Conv': bias 24 .* does not fit in l = 64 bits at scale 62" \
    "$T/skip" || fail "no skip note for s = 31: $(cat "$T/skip")"
expect 1 "the model is refused at every candidate scale s = 1..2 (at s = 1: node '/4/Gemm': every weight rounds to 0" \
    "$P" calibrate --model "$DATA/batch.onnx" --input "$DATA/batch.input.npy" --smin 1 --smax 2
exit 0
