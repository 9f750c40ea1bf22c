#!/bin/sh
# Batches: a client brings N inputs (the leading dimension of its .npy) to a
# server whose model has a dynamic batch axis, in one session; the N rows it
# learns equal parley plain's on the same batch, byte for byte. Over the
# server's --max-batch, or on a model whose batch is fixed, the client is
# refused in one line naming why, before any cryptography.
#   tests/cli_batch.sh PARLEY EXAMPLES_DIR DATA_DIR MODE
set -u
P=$1 EX=$2 D=$3 MODE=$4
T=$(mktemp -d)
PIDS=
trap 'for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
fail() {
    echo "cli_batch ($MODE): $*" >&2
    for f in "$T"/srv*.err; do echo "--- $f:" >&2; cat "$f" >&2; done
    exit 1
}
. "$(dirname "$0")/cli_lib.sh"
# start NAME MODEL ARGS...: a server logging to $T/NAME.err; sets SP and port.
start() {
    name=$1 model=$2
    shift 2
    "$P" serve --model "$model" --listen 127.0.0.1:0 --threads 1 --mode "$MODE" "$@" \
        2>"$T/$name.err" &
    SP=$!
    PIDS="$PIDS $SP"
    wait_port "$name" "$SP"
}
infer() { # INPUT OUT
    "$P" infer --connect "127.0.0.1:$port" --input "$1" --output "$T/$2.npy" --quiet \
        >"$T/$2.out" 2>"$T/$2.err"
}
M=$D/batch.onnx X=$D/batch.input.npy
"$P" plain --quiet --model "$M" --input "$X" --output "$T/plain5.npy" || fail "plain failed"
"$P" plain --quiet --model "$M" --input "$EX/digit-3.npy" --output "$T/plain1.npy" ||
    fail "plain failed"

start srv "$M" --max-sessions 2 --max-batch 8
# A batch of 5 in one session: 5 rows, exactly parley plain's.
infer "$X" b5 || fail "the batch of 5 failed: $(cat "$T/b5.err")"
cmp -s "$T/b5.npy" "$T/plain5.npy" || fail "the batch's output differs from parley plain's"
[ "$(grep -c '^label: ' "$T/b5.out")" -eq 5 ] || fail "not 5 labels: $(cat "$T/b5.out")"
# One input to the same server still works.
infer "$EX/digit-3.npy" b1 || fail "one input failed: $(cat "$T/b1.err")"
cmp -s "$T/b1.npy" "$T/plain1.npy" || fail "the single input's output differs from plain's"
kill -TERM $SP
wait $SP || fail "the server did not stop cleanly"
grep -q "session 1 (127.0.0.1:[0-9]*, $MODE, batch 5, plaintext) done" "$T/srv.err" ||
    fail "no log line for the batch of 5"

# Over --max-batch: refused by name.
start srv2 "$M" --max-batch 4
infer "$X" over && fail "a batch over --max-batch was served"
grep -q "refused: a batch of 5 inputs is over this server's limit of 4 (parley serve --max-batch)" \
    "$T/over.err" || fail "the over-limit client said '$(cat "$T/over.err")'"
kill -TERM $SP
wait $SP

# A model with a fixed batch of 1: refused by name, the server goes on.
start srv3 "$EX/digits.onnx"
infer "$X" fixed && fail "a batch was served on a fixed-batch model"
grep -q "refused: the client's input has a batch of 5, the model expects \[1,1,8,8\] (its batch is fixed)" \
    "$T/fixed.err" || fail "the fixed-batch client said '$(cat "$T/fixed.err")'"
[ "$(wc -l <"$T/fixed.err")" -eq 1 ] || fail "the refusal is not one line"
infer "$EX/digit-0.npy" one || fail "a good client after the refusal failed: $(cat "$T/one.err")"
kill -TERM $SP
wait $SP

# parley run and serve --once take batches too.
"$P" run --model "$M" --input "$X" --mode "$MODE" --threads 1 --quiet --output "$T/run.npy" \
    >/dev/null 2>"$T/run.err" || fail "parley run with a batch failed: $(cat "$T/run.err")"
cmp -s "$T/run.npy" "$T/plain5.npy" || fail "parley run's batch differs from plain's"
start srv4 "$M" --once
infer "$X" once || fail "serve --once with a batch failed: $(cat "$T/once.err")"
cmp -s "$T/once.npy" "$T/plain5.npy" || fail "serve --once's batch differs from plain's"
wait $SP || fail "serve --once did not exit 0"
exit 0
