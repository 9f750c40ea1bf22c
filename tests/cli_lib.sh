# Helpers sourced by the tests/cli_*.sh scripts, which define fail (say why
# and exit 1) and T (their temporary folder) before sourcing this.

# expect STATUS PATTERN CMD...: CMD exits with STATUS and its stderr matches PATTERN.
expect() {
    want=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "$* exited $got, wanted $want: $(cat "$T/err")"
    grep -q -- "$pat" "$T/err" || fail "$* said '$(cat "$T/err")', wanted /$pat/"
    # EXPECT_MAX_LINES (optional): the message is at most that many lines
    [ -z "${EXPECT_MAX_LINES:-}" ] || [ "$(wc -l <"$T/err")" -le "$EXPECT_MAX_LINES" ] ||
        fail "$* said more than $EXPECT_MAX_LINES lines: $(cat "$T/err")"
}

# wait_port NAME PID: the port server NAME (process PID, its stderr in
# $T/NAME.err) says it listens on, into $port; fails if it dies first.
wait_port() {
    port=
    for i in $(seq 200); do
        port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9][0-9]*\),.*/\1/p' "$T/$1.err" 2>/dev/null)
        [ -n "$port" ] && return 0
        kill -0 "$2" 2>/dev/null || fail "the server $1 died at start"
        sleep 0.05
    done
    fail "the server $1 never said its port"
}

# wait_log FILE PATTERN [SECS]: until FILE has a line matching PATTERN, at
# most SECS seconds (20); 1 if it never does. A server writes a session's
# line after the session's last byte, so its client can exit first.
wait_log() {
    for i in $(seq $((${3:-20} * 20))); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    grep -q -- "$2" "$1" 2>/dev/null
}

# need_numpy: a python3 with numpy (Debian's python3-numpy, which
# scripts/install-deps installs) into $PY; fails if there is none.
need_numpy() {
    PY=
    for c in /usr/bin/python3 python3; do
        if "$c" -c 'import numpy' 2>/dev/null; then PY=$c; return 0; fi
    done
    fail "no python3 with numpy (apt-get install python3-numpy)"
}
