#!/bin/sh
# parley serve and parley infer over TLS 1.3, as a user runs them, with
# certificates this test makes (tests/make-certs.sh). Server A: a
# certificate and a shared token; server B: client certificates. Every
# wrong client (plaintext, an untrusted certificate, another name, a wrong
# pin, no or a wrong token, no or an untrusted client certificate) must be
# refused with one clear line on both sides while the server goes on; the
# good clients' outputs must equal parley plain's byte for byte. Plaintext
# off loopback is refused unless --insecure.
#   tests/cli_tls.sh PARLEY EXAMPLES_DIR SOURCE_DIR
set -u
P=$1 EX=$2 SRC=$3
T=$(mktemp -d)
PIDS=
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
C=$T/certs
sh "$SRC/tests/make-certs.sh" "$C" || { echo "cli_tls: cannot make certificates" >&2; exit 1; }
fail() {
    echo "cli_tls: $*" >&2
    for f in "$T"/srv*.err; do echo "--- $f:" >&2; cat "$f" >&2; done
    exit 1
}
# every refusal says it in a line or two (cli_lib.sh's expect)
EXPECT_MAX_LINES=2
. "$SRC/tests/cli_lib.sh"
# start NAME ARGS...: a server on a port the kernel picks; sets $port.
start() {
    name=$1
    shift
    "$P" serve --model "$EX/digits.onnx" --listen 127.0.0.1:0 --threads 2 "$@" \
        >"$T/$name.out" 2>"$T/$name.err" &
    PIDS="$PIDS $!"
    port=
    for i in $(seq 200); do
        port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9][0-9]*\),.*/\1/p' "$T/$name.err")
        [ -n "$port" ] && grep -q "TLS 1.3" "$T/$name.err" && break
        port=
        sleep 0.05
    done
    [ -n "$port" ] || fail "server $name never said its port"
}
"$P" plain --quiet --model "$EX/digits.onnx" --input "$EX/digit-0.npy" --output "$T/plain.npy" ||
    fail "parley plain failed"
good() { # a client that must succeed and match parley plain
    "$P" infer --input "$EX/digit-0.npy" --output "$T/secure.npy" --quiet "$@" \
        >"$T/out" 2>"$T/err" || fail "good client $* failed: $(cat "$T/err")"
    cmp -s "$T/secure.npy" "$T/plain.npy" || fail "secure output differs from parley plain's"
    rm -f "$T/secure.npy"
}

# ---- server A: a certificate and a token
start srvA --tls-cert "$C/server.pem" --tls-key "$C/server.key" --token-file "$C/token"
A=127.0.0.1:$port
pin=$(sed -n 's/.*--tls-pin): \(sha256:[0-9a-f]*\).*/\1/p' "$T/srvA.err")
[ -n "$pin" ] || fail "server A printed no pin"
want_pin=$(openssl x509 -in "$C/server.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 | sed 's/.*= *//')
[ "$pin" = "sha256:$want_pin" ] || fail "pin $pin is not the key's sha256 $want_pin"
I="--input $EX/digit-0.npy --quiet"
expect 1 "TLS only" "$P" infer --connect "$A" $I --token-file "$C/token"
expect 1 "not trusted" "$P" infer --connect "$A" $I --tls-ca "$C/other-ca.pem" --token-file "$C/token"
expect 1 "hostname mismatch" "$P" infer --connect "$A" $I --tls-ca "$C/ca.pem" \
    --tls-name elsewhere.example --token-file "$C/token"
expect 1 "does not match --tls-pin" "$P" infer --connect "$A" $I --token-file "$C/token" \
    --tls-pin 0000000000000000000000000000000000000000000000000000000000000000
expect 1 "admits only clients with its token" "$P" infer --connect "$A" $I --tls-ca "$C/ca.pem"
expect 1 "token is not this server's" "$P" infer --connect "$A" $I --tls-ca "$C/ca.pem" \
    --token-file "$C/token2"
expect 2 "64 hex digits" "$P" infer --connect "$A" $I --tls-pin 1234
kill -0 $(echo $PIDS | cut -d' ' -f1) 2>/dev/null || fail "server A died after the bad clients"
good --connect "$A" --tls-ca "$C/ca.pem" --token-file "$C/token"
good --connect "localhost:${A#*:}" --tls-ca "$C/ca.pem" --token-file "$C/token"
good --connect "$A" --tls-pin "$pin" --token-file "$C/token"
for pat in "does not speak TLS" "not accept this server's certificate" "no token" \
    "token is wrong" "TLSv1.3 .* done"; do
    wait_log "$T/srvA.err" "$pat" || fail "server A's log has no /$pat/"
done

# ---- server B: client certificates
start srvB --tls-cert "$C/server.pem" --tls-key "$C/server.key" --tls-client-ca "$C/ca.pem"
B=127.0.0.1:$port
expect 1 "only clients with a certificate" "$P" infer --connect "$B" $I --tls-ca "$C/ca.pem"
expect 1 "did not accept this client's certificate" "$P" infer --connect "$B" $I \
    --tls-ca "$C/ca.pem" --tls-cert "$C/rogue.pem" --tls-key "$C/rogue.key"
good --connect "$B" --tls-ca "$C/ca.pem" --tls-cert "$C/client.pem" --tls-key "$C/client.key"
for pat in "presented no certificate" "client's certificate is not trusted" "done"; do
    wait_log "$T/srvB.err" "$pat" || fail "server B's log has no /$pat/"
done

# ---- plaintext only on loopback, or when asked for by name
expect 2 "refusing to serve" "$P" serve --model "$EX/digits.onnx" --listen 0.0.0.0:0 --once
expect 2 "refusing to connect" "$P" infer --connect 192.0.2.1:7311 $I
expect 2 "need --tls-ca or --tls-pin" "$P" infer --connect "$A" $I --tls-cert "$C/client.pem"
exit 0
