#!/bin/sh
# The leaves on 4-bit VOLE as a user asks for them (--leaves vole4): parley
# run in both modes writes plain's output byte for byte and reports
# "leaves":"vole4"; each party's bytes are what parley inspect --leaves
# vole4 predicts for that mode; a bad value, and vole4 with --ot iknp, are
# refused with a message naming them; serve weighs --session-memory
# against the pools.
#   tests/cli_leaves.sh PARLEY DATA_DIR
set -u
P=$1 D=$2
T=$(mktemp -d)
SP=
trap '[ -n "$SP" ] && kill -9 "$SP" 2>/dev/null; rm -rf "$T"' EXIT
M="$D/../../examples/digits.onnx" X="$D/../../examples/digit-0.npy"
# the number after "key": in a JSON text (the first one)
num() { grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; }
"$P" plain --model "$M" --input "$X" --output "$T/plain.npy" --quiet ||
    { echo "cli_leaves: plain failed" >&2; exit 1; }
for mode in ot he; do
    "$P" run --model "$M" --input "$X" --output "$T/$mode.npy" --mode "$mode" --threads 1 \
        --leaves vole4 --json --quiet >"$T/run.json" 2>"$T/err" ||
        { echo "cli_leaves: run --mode $mode --leaves vole4 failed: $(cat "$T/err")" >&2; exit 1; }
    cmp "$T/plain.npy" "$T/$mode.npy" ||
        { echo "cli_leaves: run --mode $mode --leaves vole4 differs from plain" >&2; exit 1; }
    grep -q '"leaves":"vole4"' "$T/run.json" ||
        { echo "cli_leaves: the $mode report does not say \"leaves\":\"vole4\"" >&2; exit 1; }
    "$P" inspect "$M" --threads 1 --leaves vole4 --json >"$T/inspect.json" 2>/dev/null ||
        { echo "cli_leaves: inspect --leaves vole4 failed" >&2; exit 1; }
    sed "s/.*\"$mode\":{\"supported\"//" "$T/inspect.json" >"$T/mode.json"
    for k in client server; do
        got=$(num "bytes_$k" <"$T/run.json") want=$(num "${k}_sent_bytes" <"$T/mode.json")
        [ -n "$got" ] && [ "$got" = "$want" ] ||
            { echo "cli_leaves: $mode: the $k sent $got bytes, inspect predicts $want" >&2; exit 1; }
    done
done
# bad options: exit 2 with the option named, for run, serve and inspect
bad() { # WHAT-TO-FIND COMMAND...
    want=$1; shift
    "$P" "$@" >/dev/null 2>"$T/err"
    rc=$?
    [ "$rc" = 2 ] && grep -q -- "$want" "$T/err" ||
        { echo "cli_leaves: $* exited $rc: $(cat "$T/err")" >&2; exit 1; }
}
bad "bad value 'v4' for --leaves" run --model "$M" --input "$X" --leaves v4 --quiet
bad "--leaves vole4 needs --ot silent" run --model "$M" --input "$X" --ot iknp --leaves vole4 --quiet
bad "--leaves vole4 needs --ot silent" serve --model "$M" --listen 127.0.0.1:0 --ot iknp --leaves vole4
bad "--leaves vole4 needs --ot silent" inspect "$M" --ot iknp --leaves vole4
bad "bad value 'x' for --leaves" inspect "$M" --leaves x
# serve: a --session-memory that cannot hold the model and the lanes' OT
# pools (2 x 233 MiB with 4-bit VOLE) is refused naming them; one under the
# session's estimate is taken with a warning; and at the estimate it states
# (its own figure, beside "about N needed"), a session runs and is exact.
bad "session-memory 256 MiB cannot hold a session: .* the OT pools of its 2 lanes" \
    serve --model "$M" --listen 127.0.0.1:0 --leaves vole4 --session-memory 256
fail() {
    echo "cli_leaves: $*" >&2
    cat "$T"/srv*.err >&2
    exit 1
}
. "$(dirname "$0")/cli_lib.sh"
SP=
serve() { # NAME ARGS...
    name=$1
    shift
    "$P" serve --model "$M" --listen 127.0.0.1:0 --leaves vole4 "$@" 2>"$T/$name.err" &
    SP=$!
    wait_port "$name" "$SP"
}
serve srv1 --session-memory 600
w="warning: --session-memory 600 MiB is under the [0-9]* MiB a session of this model"
grep -q "$w is estimated to need (the model [0-9]*, the OT pools 466," "$T/srv1.err" ||
    fail "no warning for --session-memory 600"
kill -TERM "$SP"
wait "$SP"
serve srv0
need=$(sed -n 's/.* MiB (about \([0-9][0-9]*\) needed).*/\1/p' "$T/srv0.err")
kill -TERM "$SP"
wait "$SP"
# at least the pools (466) and the working memory of 2 lanes (384 + 2 x 64)
[ -n "$need" ] && [ "$need" -ge 978 ] || fail "serve states a session's need as '$need' MiB"
# 64 lanes on 4-bit VOLE: about 19 GiB a session. A machine with less
# available is warned, one with more is not (no check within 2 GiB of it).
serve srv64 --threads 64
need64=$(sed -n 's/.* MiB (about \([0-9][0-9]*\) needed).*/\1/p' "$T/srv64.err")
kill -TERM "$SP"
wait "$SP"
avail=$(($(sed -n 's/^MemAvailable: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024))
[ -n "$need64" ] && [ "$need64" -gt 18000 ] || fail "64 lanes: serve states a need of '$need64' MiB"
if [ "$need64" -gt $((avail + 2048)) ]; then
    grep -q "warning: a session of this model needs about [0-9]* MiB (.* the OT pools of 64 lanes" \
        "$T/srv64.err" || fail "no warning for a need of $need64 MiB with $avail MiB available"
elif [ "$need64" -lt $((avail - 2048)) ]; then
    grep -q "more than the [0-9]* MiB available" "$T/srv64.err" &&
        fail "a warning for a need of $need64 MiB with $avail MiB available"
fi
serve srv2 --session-memory "$need"
grep -q "warning" "$T/srv2.err" && fail "a warning at the estimate"
"$P" infer --connect "127.0.0.1:$port" --input "$X" --output "$T/infer.npy" --quiet 2>"$T/err" ||
    fail "a session at --session-memory $need failed: $(cat "$T/err")"
cmp "$T/plain.npy" "$T/infer.npy" || fail "the session at --session-memory $need differs from plain"
kill -TERM "$SP"
wait "$SP"
exit 0
