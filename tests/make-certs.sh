#!/bin/sh
# Certificates for the TLS tests, made fresh with the openssl command:
#   ca.pem            a CA
#   server.pem/.key   signed by it, for localhost and 127.0.0.1
#   client.pem/.key   signed by it (a known client)
#   other-ca.pem      another CA
#   rogue.pem/.key    signed by the other CA, for localhost and 127.0.0.1
#   wrongname.pem/.key  signed by ca.pem, for another name only
# EC P-256 keys, valid one day.  tests/make-certs.sh DIR
set -eu
D=$1
mkdir -p "$D"
cd "$D"
exec 3>openssl.log
o() { openssl "$@" >&3 2>&1 || { cat openssl.log >&2; exit 1; }; }
key() { o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() { # name subject
    key "$1.key"
    o req -x509 -new -key "$1.key" -subj "/CN=$2" -days 1 -out "$1.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() { # name ca subject san usage
    key "$1.key"
    o req -new -key "$1.key" -subj "/CN=$3" -out "$1.csr"
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n%s\n' "$5" "$4" >"$1.ext"
    o x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 1 \
        -extfile "$1.ext" -out "$1.pem"
}
ca ca "parley test CA"
ca other-ca "another CA"
leaf server ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1" serverAuth
leaf client ca "a known client" "" clientAuth
leaf rogue other-ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1" serverAuth,clientAuth
leaf wrongname ca elsewhere.example "subjectAltName=DNS:elsewhere.example" serverAuth
printf 'a shared secret token\n' >token
printf 'another token\n' >token2
