#!/bin/sh
# docs/API.md's examples are the files it says they are, verbatim: every
# fenced block after a "<!-- file: PATH -->" line equals PATH.
#   tests/api_docs.sh SOURCE_DIR
set -eu
SRC=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
awk -v out="$T" '
    /^<!-- file: .* -->$/ { f = $3; gsub("/", "_", f); want = $3; next }
    want != "" && /^```/ && !inside { inside = 1; print want > (out "/" f ".name"); next }
    inside && /^```$/ { inside = 0; want = ""; next }
    inside { print > (out "/" f) }
' "$SRC/docs/API.md"
for name in "$T"/*.name; do
    [ -e "$name" ] || { echo "api_docs: no example blocks in docs/API.md" >&2; exit 1; }
    path=$(cat "$name")
    block=${name%.name}
    cmp -s "$block" "$SRC/$path" || { echo "api_docs: docs/API.md's copy of $path differs from the file:" >&2; diff "$block" "$SRC/$path" >&2 || true; exit 1; }
    n=$((n + 1))
done
[ "$n" -ge 2 ] || { echo "api_docs: expected the C and the Python example, found $n" >&2; exit 1; }
echo "api_docs: $n examples match their files"
