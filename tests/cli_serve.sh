#!/bin/sh
# parley serve and parley infer as a user runs them: one server on a port
# the kernel picks (--listen 127.0.0.1:0, read back from its first line),
# then clients with bad input, a second server on the same port, and finally
# a good client. Each failure must exit non-zero with one line naming what
# is wrong; the server must keep serving and the good client's output must
# be byte-identical to parley plain's.
#   tests/cli_serve.sh PARLEY EXAMPLES_DIR WRONG_SHAPE_NPY MODE
set -u
P=$1 EX=$2 WRONG=$3 MODE=$4
T=$(mktemp -d)
SP=
trap '[ -n "$SP" ] && kill "$SP" 2>/dev/null; rm -rf "$T"' EXIT
fail() {
    echo "cli_serve ($MODE): $*" >&2
    echo "--- server's stderr:" >&2
    cat "$T/srv.err" >&2
    exit 1
}
. "$(dirname "$0")/cli_lib.sh"

"$P" serve --model "$EX/digits.onnx" --listen 127.0.0.1:0 --mode "$MODE" \
    --threads 1 >"$T/srv.out" 2>"$T/srv.err" &
SP=$!
port=
for i in $(seq 200); do
    port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9][0-9]*\),.*/\1/p' "$T/srv.err")
    [ -n "$port" ] && break
    kill -0 "$SP" 2>/dev/null || fail "the server died at start"
    sleep 0.05
done
[ -n "$port" ] || fail "the server never said its port"
addr=127.0.0.1:$port

# A wrong-shape input: refused by both sides before any cryptography.
expect 1 "a batch of 2, the model expects \[1,1,8,8\]" \
    "$P" infer --connect "$addr" --input "$WRONG" --quiet
# Not a .npy file at all: refused before connecting.
expect 1 "not a .npy file" "$P" infer --connect "$addr" --input "$EX/digits.onnx" --quiet
# A missing input file.
expect 1 "no-such.npy" "$P" infer --connect "$addr" --input "$T/no-such.npy" --quiet
# A second server on the same port.
expect 1 "already in use" "$P" serve --model "$EX/digits.onnx" --listen "$addr" --once
# A TLS client: this server speaks plaintext, and says so.
expect 1 "does not speak TLS" "$P" infer --connect "$addr" --input "$EX/digit-0.npy" --quiet \
    --tls-pin 0000000000000000000000000000000000000000000000000000000000000000
# Bad options: exit 2.
expect 2 "HOST:PORT" "$P" infer --connect 127.0.0.1 --input "$EX/digit-0.npy"

# The server is still up, and a good client gets the reference's result.
kill -0 "$SP" 2>/dev/null || fail "the server died after the bad clients"
"$P" infer --connect "$addr" --input "$EX/digit-0.npy" --output "$T/secure.npy" --quiet \
    >"$T/out" 2>"$T/err" || fail "the good client failed: $(cat "$T/err")"
grep -q '^label: ' "$T/out" || fail "no label in '$(cat "$T/out")'"
"$P" plain --quiet --model "$EX/digits.onnx" --input "$EX/digit-0.npy" --output "$T/plain.npy" ||
    fail "parley plain failed"
cmp -s "$T/secure.npy" "$T/plain.npy" || fail "secure output differs from parley plain's"
wait_log "$T/srv.err" "session 1 (.*) failed: .*shape" || fail "the server did not report the refused session"
wait_log "$T/srv.err" "failed: the client speaks TLS" || fail "the server did not report the TLS client"
wait_log "$T/srv.err" "done" || fail "the server did not report the good session"
exit 0
