#!/bin/sh
# Data movement, ConvTranspose and spatial sums end to end as a user runs
# them: parley plain and parley run (OT mode on both OT back-ends, HE mode)
# on tests/data/move.onnx (split, shuffle, slice, Upsample, ConvTranspose2d,
# ReduceMean, ReduceSum) write byte-identical outputs; a model with several
# unsupported nodes is refused by parley inspect with all of them listed.
#   tests/cli_move.sh PARLEY DATA_DIR
set -u
P=$1 D=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$P" plain --model "$D/move.onnx" --input "$D/move.input.npy" --output "$T/plain.npy" --quiet ||
    { echo "cli_move: plain failed" >&2; exit 1; }
for run in "ot silent" "ot iknp" "he silent"; do
    set -- $run
    "$P" run --model "$D/move.onnx" --input "$D/move.input.npy" --output "$T/$1-$2.npy" --mode "$1" \
        --ot "$2" --quiet >/dev/null 2>"$T/err" ||
        { echo "cli_move: run --mode $1 --ot $2 failed: $(cat "$T/err")" >&2; exit 1; }
    cmp "$T/plain.npy" "$T/$1-$2.npy" ||
        { echo "cli_move: run --mode $1 --ot $2 differs from plain" >&2; exit 1; }
done
# move3.onnx: bilinear Resize, Gather, Tile, MatMul with constants (scripts/make-move3-model).
"$P" plain --model "$D/move3.onnx" --input "$D/move3.input.npy" --output "$T/plain3.npy" --quiet ||
    { echo "cli_move: plain move3 failed" >&2; exit 1; }
for mode in ot he; do
    "$P" run --model "$D/move3.onnx" --input "$D/move3.input.npy" --output "$T/$mode-3.npy" \
        --mode "$mode" --quiet >/dev/null 2>"$T/err" ||
        { echo "cli_move: run move3 --mode $mode failed: $(cat "$T/err")" >&2; exit 1; }
    cmp "$T/plain3.npy" "$T/$mode-3.npy" ||
        { echo "cli_move: run move3 --mode $mode differs from plain" >&2; exit 1; }
done
# Every unsupported node at once: unsupported.onnx is move.onnx with its
# Resize, ConvTranspose and ReduceSum renamed to operators parley does not know
# (scripts/make-move-model).
"$P" inspect "$D/unsupported.onnx" >/dev/null 2>"$T/err" && { echo "cli_move: inspect accepted unsupported.onnx" >&2; exit 1; }
for w in "3 nodes of the model are not supported" "UnknownReduceSum x 1" "UnknownResize x 1" \
         "UnknownConvTranspose x 1" "operator is not supported"; do
    grep -q "$w" "$T/err" || { echo "cli_move: inspect's message lacks '$w': $(cat "$T/err")" >&2; exit 1; }
done
exit 0
