#!/bin/sh
# Load (issue 11): C clients at once, each running S sessions one after
# another against one `parley serve` on the example digits model, in the
# given mode (ot or he), on loopback with a port the kernel picks. Zero
# failures: every client exits 0, every output equals parley plain's byte for
# byte, and the server logs C x S sessions done and nothing else. Long (C = 8,
# S = 25 is 200 sessions): CTest label `slow`. PARLEY_LOAD_CLIENTS and
# PARLEY_LOAD_SESSIONS set C and S (e.g. 8 and 3 while developing).
#   tests/cli_load.sh PARLEY EXAMPLES_DIR MODE
set -u
P=$1 EX=$2 MODE=$3
C=${PARLEY_LOAD_CLIENTS:-8}
S=${PARLEY_LOAD_SESSIONS:-25}
T=$(mktemp -d)
SP=
trap '[ -n "$SP" ] && kill -9 $SP 2>/dev/null; rm -rf "$T"' EXIT
fail() {
    echo "cli_load: $*" >&2
    grep -v '"outcome":"done"' "$T/srv.err" | head -40 >&2
    exit 1
}
"$P" serve --model "$EX/digits.onnx" --listen 127.0.0.1:0 --mode "$MODE" --threads 1 \
    --queue $((2 * C)) --log-json 2>"$T/srv.err" &
SP=$!
port=
for i in $(seq 200); do
    port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9][0-9]*\),.*/\1/p' "$T/srv.err")
    [ -n "$port" ] && break
    kill -0 $SP 2>/dev/null || fail "the server died at start"
    sleep 0.05
done
[ -n "$port" ] || fail "the server never said its port"
for n in 0 1 2 3 4; do
    "$P" plain --quiet --model "$EX/digits.onnx" --input "$EX/digit-$n.npy" \
        --output "$T/plain-$n.npy" || fail "parley plain failed"
done

t0=$(date +%s)
cl=
for c in $(seq "$C"); do
    (
        bad=0
        for s in $(seq "$S"); do
            n=$(((c + s) % 5))
            if ! "$P" infer --connect "127.0.0.1:$port" --input "$EX/digit-$n.npy" \
                --output "$T/o-$c-$s.npy" --quiet >/dev/null 2>"$T/e-$c-$s"; then
                echo "cli_load: client $c, session $s failed: $(cat "$T/e-$c-$s")" >&2
                bad=$((bad + 1))
            elif ! cmp -s "$T/o-$c-$s.npy" "$T/plain-$n.npy"; then
                echo "cli_load: client $c, session $s (digit $n): output differs from parley plain's" >&2
                bad=$((bad + 1))
            fi
            rm -f "$T/o-$c-$s.npy"
        done
        exit $((bad > 0))
    ) &
    cl="$cl $!"
done
nbad=0
for p in $cl; do wait $p || nbad=$((nbad + 1)); done
secs=$(($(date +%s) - t0))
kill -TERM $SP
wait $SP || fail "the server did not exit 0 on SIGTERM"
SP=
[ $nbad -eq 0 ] || fail "$nbad of $C clients saw a failure or a wrong output"
done_=$(grep -c '"outcome":"done"' "$T/srv.err")
other=$(grep '^{"session":' "$T/srv.err" | grep -vc '"outcome":"done"')
[ "$done_" -eq $((C * S)) ] || fail "$done_ sessions done, wanted $((C * S))"
[ "$other" -eq 0 ] || fail "$other sessions did not end 'done'"
echo "cli_load: $MODE mode, $C clients x $S sessions: $done_ sessions done, all exact, in $secs s"
exit 0
