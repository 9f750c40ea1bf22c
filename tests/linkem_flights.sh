#!/bin/sh
# The flight model against the link emulator: one secure inference of the
# example model through parley-linkem (20 ms each way, no rate limit, one
# lane). The client's own chain counter (the report's critical_flights,
# counted by the transport on what each party has read) must equal `parley
# inspect`'s predicted critical flights exactly; the relay's chain must be
# at least the prediction, and at most 24 more: it also counts the
# session's hellos, model, set-up and report (8 today), and it counts a
# message as an answer to everything delivered before it read the message,
# so a party that lags its peer by more than the delay (a streamed OT
# linear layer, its receiver COTV_AHEAD chunks ahead) makes it count
# deeper (docs/NETWORK.md). The output must equal parley plain's.
#   tests/linkem_flights.sh PARLEY LINKEM EXAMPLES_DIR MODE OT
set -u
P=$1 L=$2 EX=$3 MODE=$4 OT=$5
SLACK=24
T=$(mktemp -d)
SP= LP=
trap '[ -n "$SP" ] && kill "$SP" 2>/dev/null; [ -n "$LP" ] && kill "$LP" 2>/dev/null; rm -rf "$T"' EXIT
fail() {
    echo "linkem_flights ($MODE, $OT): $*" >&2
    cat "$T"/*.err >&2 2>/dev/null
    exit 1
}
port_of() { # FILE SED: the port a process printed on its first line
    for i in $(seq 200); do
        p=$(sed -n "$2" "$1" | head -n 1)
        [ -n "$p" ] && { echo "$p"; return 0; }
        sleep 0.05
    done
    return 1
}
"$P" serve --model "$EX/digits.onnx" --listen 127.0.0.1:0 --mode "$MODE" --ot "$OT" \
    --threads 1 --once 2>"$T/srv.err" &
SP=$!
port=$(port_of "$T/srv.err" 's/.* on 127\.0\.0\.1:\([0-9][0-9]*\),.*/\1/p') || fail "no server port"
"$L" --upstream "127.0.0.1:$port" --delay 20 --stats "$T/lk.json" 2>"$T/lk.err" &
LP=$!
lport=$(port_of "$T/lk.err" 's/.* on 127\.0\.0\.1:\([0-9][0-9]*\) to .*/\1/p') || fail "no relay port"
"$P" infer --connect "127.0.0.1:$lport" --input "$EX/digit-0.npy" --output "$T/secure.npy" \
    --quiet --json >"$T/report.json" 2>"$T/cli.err" || fail "the inference failed"
wait "$SP" || fail "the server failed"
SP=
kill -TERM "$LP"
wait "$LP"
LP=
"$P" plain --quiet --model "$EX/digits.onnx" --input "$EX/digit-0.npy" --output "$T/plain.npy" ||
    fail "parley plain failed"
cmp -s "$T/secure.npy" "$T/plain.npy" || fail "the output differs from parley plain's"
chain=$(sed -n 's/.*"chain":\([0-9]*\).*/\1/p' "$T/lk.json")
"$P" inspect "$EX/digits.onnx" --json --threads 1 --ot "$OT" >"$T/inspect.json" ||
    fail "parley inspect failed"
pred=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["critical_flights"])' \
    "$T/inspect.json" "$MODE") || fail "no critical_flights in parley inspect --json"
meas=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["critical_flights"])' \
    "$T/report.json") || fail "no critical_flights in the client's report"
echo "linkem_flights ($MODE, $OT): the relay saw a chain of $chain flights; the transport counted $meas; predicted $pred for the inference"
[ "$meas" -eq "$pred" ] || fail "the transport's chain $meas is not the predicted $pred"
[ -n "$chain" ] && [ "$chain" -ge "$pred" ] && [ "$chain" -le $((pred + SLACK)) ] ||
    fail "chain $chain is not in [$pred, $pred + $SLACK]"
