#!/bin/sh
# Scale-out: HAProxy (Debian's haproxy, TCP mode, round robin, started here
# with a configuration written for the ports of this run) in front of two
# `parley serve` processes; 4 clients at once, 5 sessions each one after
# another (20 sessions), through the
# balancer: every output equals parley plain's byte for byte, and both
# backends served sessions. A session is one TCP connection, so a stock TCP
# balancer keeps it on one backend. Skips (exit 77) without haproxy.
#   tests/cli_haproxy.sh PARLEY EXAMPLES_DIR
set -u
P=$1 EX=$2
HA=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$HA" ] || { echo "cli_haproxy: haproxy is not installed; skipped"; exit 77; }
T=$(mktemp -d)
PIDS=
trap 'for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
fail() {
    echo "cli_haproxy: $*" >&2
    for f in "$T"/*.err; do echo "--- $f:" >&2; cat "$f" >&2; done
    exit 1
}
start() { # NAME: a backend on a port the kernel picks; sets the variable NAME to it
    "$P" serve --model "$EX/digits.onnx" --listen 127.0.0.1:0 --threads 1 --max-sessions 2 \
        2>"$T/$1.err" &
    PIDS="$PIDS $!"
    p=
    for i in $(seq 200); do
        p=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9][0-9]*\),.*/\1/p' "$T/$1.err")
        [ -n "$p" ] && break
        sleep 0.05
    done
    [ -n "$p" ] || fail "backend $1 never said its port"
    eval "$1=$p"
}
start a
start b

# HAProxy cannot bind port 0: try a few random ports below the ephemeral
# range (so no outgoing connection holds one), each checked by starting it.
hp=
for try in 1 2 3 4 5 6 7 8; do
    port=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12000))
    cat >"$T/haproxy.cfg" <<CFG
global
    maxconn 64
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend parley
    bind 127.0.0.1:$port
    default_backend servers
backend servers
    balance roundrobin
    server a 127.0.0.1:$a
    server b 127.0.0.1:$b
CFG
    "$HA" -db -f "$T/haproxy.cfg" >"$T/haproxy.err" 2>&1 &
    hp=$!
    sleep 0.3
    if kill -0 $hp 2>/dev/null; then
        PIDS="$PIDS $hp"
        break
    fi
    hp=
done
[ -n "$hp" ] || fail "haproxy did not start on any port tried: $(cat "$T/haproxy.err")"

for n in 0 1 2 3; do
    "$P" plain --quiet --model "$EX/digits.onnx" --input "$EX/digit-$n.npy" \
        --output "$T/plain-$n.npy" || fail "parley plain failed"
done
# 4 clients at once, each running 5 sessions one after another.
cl=
for n in 0 1 2 3; do
    (
        for s in 1 2 3 4 5; do
            "$P" infer --connect "127.0.0.1:$port" --input "$EX/digit-$n.npy" \
                --output "$T/r$s-$n.npy" --quiet >/dev/null 2>"$T/c$s-$n.log" ||
                { echo "client $n, session $s: $(cat "$T/c$s-$n.log")"; exit 1; }
            cmp -s "$T/r$s-$n.npy" "$T/plain-$n.npy" ||
                { echo "client $n, session $s: the output through haproxy differs from parley plain's"; exit 1; }
        done
    ) >"$T/client-$n.out" &
    cl="$cl $!"
done
for c in $cl; do wait $c || fail "a client through haproxy failed: $(cat "$T"/client-*.out)"; done
# A server logs a session after its client has its answer: wait (bounded)
# for the last lines.
for i in $(seq 600); do
    da=$(grep -c ") done:" "$T/a.err") db=$(grep -c ") done:" "$T/b.err")
    [ $((da + db)) -ge 20 ] && break
    sleep 0.1
done
[ "$da" -ge 1 ] && [ "$db" -ge 1 ] || fail "not both backends served: $da and $db sessions"
[ $((da + db)) -eq 20 ] || fail "$da + $db sessions done, wanted 20"
echo "cli_haproxy: 20 sessions from 4 clients through haproxy on port $port, $da on backend a, $db on b, all exact"
exit 0
