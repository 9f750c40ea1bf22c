#!/bin/sh
# The leaves on 4-bit VOLE as a user asks for them (--leaves vole4): parley
# run in both modes writes plain's output byte for byte and reports
# "leaves":"vole4"; each party's bytes are what parley inspect --leaves
# vole4 predicts for that mode; a bad value, and vole4 with --ot iknp, are
# refused with a message naming them.
#   tests/cli_leaves.sh PARLEY DATA_DIR
set -u
P=$1 D=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
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
exit 0
