#!/bin/bash
# parley serve against faulty clients (issue 11), one at a time, each beside a
# good client, on loopback with a port the kernel picks and a short
# --idle-timeout (2 s) so the whole test takes a few seconds:
#   - a client that connects and sends nothing: its session is ended, logged
#     as failed for sending nothing, within the idle timeout (plus slack),
#     while the connection is still held open; a good client meanwhile is
#     served, exact;
#   - a client that sends garbage bytes (an HTTP request, then random bytes):
#     refused at once with a log line that names the protocol error, not
#     after the idle timeout; a good client meanwhile is exact;
#   - a client that stops reading mid-session (SIGSTOP after its session has
#     exchanged data): its session ends within the idle timeout with bytes
#     logged both ways (it was past the set-up); a good client is exact;
#   - clients killed at random points of their sessions (a printed seed):
#     each session ends with its log line within the idle timeout, and a
#     good client after each is exact;
#   - afterwards the server still serves, and stops cleanly on SIGTERM.
# (cli_server.sh covers a client killed beside another, "server busy", the session time
# limit and the memory limit.)
#   bash tests/cli_faults.sh PARLEY EXAMPLES_DIR
set -u
P=$1 EX=$2
IDLE=2
SLACK=8 # the machine is shared: time to notice, on top of the idle timeout
T=$(mktemp -d)
PIDS=
trap 'for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
fail() {
    echo "cli_faults: $*" >&2
    echo "--- server log:" >&2
    cat "$T/srv.err" >&2
    exit 1
}
. "$(dirname "$0")/cli_lib.sh"
"$P" serve --model "$EX/digits.onnx" --listen 127.0.0.1:0 --threads 1 --max-sessions 2 \
    --queue 2 --idle-timeout $IDLE --log-json 2>"$T/srv.err" &
SP=$!
PIDS="$PIDS $SP"
wait_port srv "$SP"

for n in 0 1 2; do
    "$P" plain --quiet --model "$EX/digits.onnx" --input "$EX/digit-$n.npy" \
        --output "$T/plain-$n.npy" || fail "parley plain failed"
done
good() { # N NAME: a good client beside the fault, exact
    "$P" infer --connect "127.0.0.1:$port" --input "$EX/digit-$1.npy" --output "$T/$2.npy" \
        --quiet >/dev/null 2>"$T/$2.err" || fail "client $2 failed beside a faulty one: $(cat "$T/$2.err")"
    cmp -s "$T/$2.npy" "$T/plain-$1.npy" || fail "client $2's output differs from parley plain's"
}
nfailed() { grep -c '"outcome":"failed"' "$T/srv.err"; }
nended() { grep -c '"outcome":"' "$T/srv.err"; } # sessions ended, either way
# connected PID: until the client has its socket (at most 10 s). Delays
# count from there: a loaded machine (a sanitizer build beside other tests)
# can take longer than a delay to start a client, and a client stopped or
# killed before it connects has no session for the server to end.
connected() {
    for i in $(seq 200); do
        ls -l "/proc/$1/fd" 2>/dev/null | grep -q 'socket:' && return 0
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
}
secs() { echo "$1" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p'; } # a log line's session seconds
under() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a < b)}'; }
# wait_failed N SECS: until N failed lines, at most SECS seconds; prints the time taken
wait_failed() {
    t0=$(date +%s.%N)
    for i in $(seq $(($2 * 20))); do
        [ "$(nfailed)" -ge "$1" ] && break
        sleep 0.05
    done
    [ "$(nfailed)" -ge "$1" ] || return 1
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'
}

# 1. Connects, sends nothing, keeps the connection open.
bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && sleep 60' silent "$port" &
S=$!
PIDS="$PIDS $S"
sleep 0.2
good 0 g1
dt=$(wait_failed 1 $((IDLE + SLACK))) || fail "a silent client was not freed within $((IDLE + SLACK)) s"
kill -0 $S 2>/dev/null || fail "the silent client's holder died (the test's fault)"
line=$(grep '"outcome":"failed"' "$T/srv.err" | tail -1)
echo "$line" | grep -q 'sent no' || fail "the silent client's session did not fail for sending nothing"
under "$(secs "$line")" $((IDLE + SLACK)) || fail "the silent session lasted $(secs "$line") s"
kill $S
echo "cli_faults: a silent client's session ended after $(secs "$line") s (--idle-timeout $IDLE)"

# 2. Garbage: an HTTP request, then 4 KiB of random bytes; held open, so a
#    refusal that waited for the idle timeout would be seen as slow.
bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
         printf "GET / HTTP/1.0\r\nHost: parley\r\n\r\n" >&3
         head -c 4096 /dev/urandom >&3
         sleep 60' garbage "$port" &
G=$!
PIDS="$PIDS $G"
good 1 g2
dt=$(wait_failed 2 $((IDLE + SLACK))) || fail "the garbage client's session did not end"
line=$(grep '"outcome":"failed"' "$T/srv.err" | tail -1)
echo "$line" | grep -q 'sent no' && fail "garbage was taken for silence: $line"
echo "$line" | grep -q '"error":"[^"]' || fail "the garbage client's line names no error: $line"
under "$(secs "$line")" $((IDLE + SLACK)) || fail "garbage was refused only after $(secs "$line") s"
kill $G
echo "cli_faults: garbage refused after $(secs "$line") s: $(echo "$line" | sed 's/.*"error":"\([^"]*\)".*/\1/')"

# 3. Stops reading (and sending) mid-session: SIGSTOP once the session has
#    moved data past its set-up; tried at later points if the client was
#    still in its hello when stopped (a loaded machine), and at the next
#    one if its session had already finished (a digits session takes about
#    0.3 s on an idle machine: the stop can land while the client writes
#    its output).
ok=
for delay in 0.1 0.2 0.3 0.6 1.0 1.5; do
    before=$(nfailed)
    ended=$(nended)
    "$P" infer --connect "127.0.0.1:$port" --input "$EX/digit-2.npy" --output "$T/stopped.npy" \
        --quiet >/dev/null 2>&1 &
    C=$!
    PIDS="$PIDS $C"
    connected $C
    sleep $delay
    kill -STOP $C 2>/dev/null
    st=
    for i in $(seq 40); do # the signal is asynchronous: until it is stopped or gone
        st=$(ps -o stat= -p $C 2>/dev/null)
        case $st in T* | Z* | "") break ;; esac
        sleep 0.05
    done
    case $st in
    T*) ;;
    *) kill -9 $C 2>/dev/null; wait $C; continue ;; # it finished before it was stopped
    esac
    good 2 g3
    # the stopped client's session and g3's: until both have ended
    for i in $(seq $(((IDLE + SLACK) * 20))); do
        [ "$(nended)" -ge $((ended + 2)) ] && break
        sleep 0.05
    done
    [ "$(nended)" -ge $((ended + 2)) ] ||
        fail "a client that stopped reading was not freed within $((IDLE + SLACK)) s"
    kill -9 $C
    wait $C 2>/dev/null
    [ "$(nfailed)" -gt "$before" ] || continue # its session was done before the stop
    line=$(grep '"outcome":"failed"' "$T/srv.err" | tail -1)
    sent=$(echo "$line" | sed -n 's/.*"bytes_sent":\([0-9]*\).*/\1/p')
    recv=$(echo "$line" | sed -n 's/.*"bytes_recv":\([0-9]*\).*/\1/p')
    if [ "${sent:-0}" -gt 10000 ] && [ "${recv:-0}" -gt 10000 ]; then
        ok=1
        break
    fi
done
[ -n "$ok" ] || fail "never stopped a client mid-session (its session always ended in the set-up or finished)"
under "$(secs "$line")" $((IDLE + SLACK + 2)) || fail "the stopped client's session lasted $(secs "$line") s"
# Stopped, it neither reads nor sends: the server names whichever it was
# waiting for (a send into a full window during the set-up's batches, or a
# read).
echo "$line" | grep -Eq 'sent no|does not read' ||
    fail "the stopped client's session did not end for its silence: $line"
echo "cli_faults: a client stopped mid-session ($sent bytes sent, $recv received) ended after $(secs "$line") s"

# 4. Clients killed (SIGKILL) at random points of their sessions: in the
#    hellos and set-up (the control stream) or in the layers (the lanes'
#    streams; all ride on the session's one connection). Each session ends
#    within the idle timeout with one log line, and the server goes on.
seed=${PARLEY_TEST_SEED:-$$}
RANDOM=$seed
echo "cli_faults: kill points from seed $seed (replay: PARLEY_TEST_SEED=$seed)"
lines() { grep -c '^{"session"' "$T/srv.err"; }
for k in 1 2 3 4 5 6; do
    before=$(lines)
    ms=$((RANDOM % 1000)) # 0 .. 1 s after it connects: a digits session takes about 0.8 s on a quiet machine
    "$P" infer --connect "127.0.0.1:$port" --input "$EX/digit-$((k % 3)).npy" \
        --output "$T/killed.npy" --quiet >/dev/null 2>&1 &
    C=$!
    PIDS="$PIDS $C"
    connected $C
    sleep "$(awk -v m=$ms 'BEGIN {printf "%.3f", m / 1000}')"
    kill -9 $C 2>/dev/null
    wait $C 2>/dev/null
    for i in $(seq $(((IDLE + SLACK) * 20))); do
        [ "$(lines)" -gt "$before" ] && break
        sleep 0.05
    done
    [ "$(lines)" -gt "$before" ] ||
        fail "the session of a client killed after $ms ms has no log line within $((IDLE + SLACK)) s"
    line=$(grep '^{"session"' "$T/srv.err" | tail -1)
    echo "cli_faults: killed after $ms ms: $(echo "$line" | sed 's/.*"outcome":"\([a-z]*\)".*/\1/')"
    good $((k % 3)) "k$k"
done

good 0 g4
kill -TERM $SP
wait $SP || fail "the server did not exit 0 on SIGTERM"
exit 0
