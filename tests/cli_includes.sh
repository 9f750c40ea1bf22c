#!/bin/sh
# The parley command is built on the public API alone (issue 14):
#   - its sources include parley.h, their own folder's headers and system
#     headers, nothing else of parley's (src/nn, src/net, ...);
#   - the binary links libparley.so (whose internals are hidden), not the
#     static library.
#   tests/cli_includes.sh SRC_CLI_DIR PARLEY_BINARY
set -eu
DIR=$1 BIN=$2
fail() { echo "cli_includes: $*" >&2; exit 1; }
n=0
for f in "$DIR"/*.c "$DIR"/*.h; do
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        n=$((n + 1))
        [ "$inc" = parley.h ] && continue
        case $inc in
        */*) fail "$(basename "$f") includes \"$inc\": the CLI uses the public API (parley.h) only; extend the API instead" ;;
        esac
        [ -f "$DIR/$inc" ] || fail "$(basename "$f") includes \"$inc\", which is not the CLI's own header"
    done
done
[ "$n" -gt 0 ] || fail "no includes found in $DIR"
readelf -d "$BIN" | grep -q 'NEEDED.*\[libparley\.so\.' || fail "$BIN does not link libparley.so"
# every parley_ symbol the binary uses comes from the library
own=$(nm --defined-only "$BIN" | awk '$3 ~ /^(parley_|api_|nn_|qnet_|session_|chan_|link_|net_|err_|mem_)/ {print $3}')
[ -z "$own" ] || fail "$BIN defines library symbols itself: $(echo $own | head -c 300)"
echo "cli_includes: $n includes in $(ls "$DIR" | wc -l) files, only parley.h and the CLI's own; $(basename "$BIN") links libparley.so"
