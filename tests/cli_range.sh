#!/bin/sh
# Numbers that warn instead of wrapping, and the (l, s) domain, as a user
# meets them on the command line: each refusal exits with the stated status
# and one message that says what is wrong.
#   tests/cli_range.sh PARLEY EXAMPLES_DIR DATA_DIR
set -u
P=$1 EX=$2 DATA=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() {
    echo "cli_range: $*" >&2
    exit 1
}
# expect STATUS PATTERN CMD...: CMD exits with STATUS and its stderr matches PATTERN.
expect() {
    want=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "$* exited $got, wanted $want: $(cat "$T/err")"
    grep -q -- "$pat" "$T/err" || fail "$* said '$(cat "$T/err")', wanted /$pat/"
}

# LeNet-style digits on its input times 1e4: the first conv's 2s-scale
# outputs leave the 37-bit ring. plain and run refuse, naming the layer and
# the --bits it needs; nothing is written.
WRAP="layer 0 '/0/Conv' (conv): a value reaches .* the result would wrap around. Needs --bits 41 or more"
expect 1 "$WRAP" "$P" plain --model "$EX/digits.onnx" --input "$DATA/digit-0x1e4.npy" \
    --output "$T/y.npy" --quiet
[ -e "$T/y.npy" ] && fail "plain wrote an output for a wrapped run"
expect 1 "$WRAP" "$P" run --model "$EX/digits.onnx" --input "$DATA/digit-0x1e4.npy" --quiet
# With the ring it asks for, the same input runs (exit 0).
"$P" plain --model "$EX/digits.onnx" --input "$DATA/digit-0x1e4.npy" --output "$T/y.npy" \
    --bits 42 --quiet || fail "plain --bits 42 failed on the large input"
exit 0
