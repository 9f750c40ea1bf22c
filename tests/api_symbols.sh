#!/bin/sh
# libparley.so's dynamic symbols: exactly the public API.
#   tests/api_symbols.sh LIB HEADER SONAME
set -eu
LIB=$1 HDR=$2 SONAME=$3
fail() { echo "api_symbols: $*" >&2; exit 1; }
syms=$(nm -D --defined-only "$LIB" | awk '{print $3}' | sort -u)
[ -n "$syms" ] || fail "no symbols in $LIB"
other=$(echo "$syms" | grep -v '^parley_' || true)
[ -z "$other" ] || fail "exported outside the API: $(echo $other)"
# every function the header marks PARLEY_API is exported
want=$(grep -o '^PARLEY_API [^(]*(' "$HDR" | sed 's/($//; s/.*[ *]//' | sort -u)
[ -n "$want" ] || fail "no PARLEY_API functions found in $HDR"
for f in $want; do
    echo "$syms" | grep -qx "$f" || fail "$f is declared in $(basename "$HDR") but not exported"
done
# and nothing exported that the header does not declare
for s in $syms; do
    echo "$want" | grep -qx "$s" || fail "$s is exported but not declared PARLEY_API"
done
so=$(readelf -d "$LIB" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$so" = "$SONAME" ] || fail "soname is '$so', want '$SONAME'"
echo "api_symbols: $(echo "$syms" | wc -l) symbols, all parley_, soname $so"
