#!/bin/sh
# The activations end to end as a user runs them: parley plain and parley
# run (OT mode on both OT back-ends, HE mode) on tests/data/act.onnx (ReLU6,
# LeakyRelu, HardSigmoid, PRelu) and act2.onnx (HardSwish, a
# squeeze-and-excitation product, a per-channel PRelu) and sig.onnx
# (Sigmoid, SiLU), mlp_tanh.onnx (Tanh), exp.onnx (Exp) and softmax.onnx
# (Softmax in the middle) write byte-identical outputs.
#   tests/cli_act.sh PARLEY DATA_DIR
set -u
P=$1 D=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for m in act act2 sig mlp_tanh exp softmax; do
    "$P" plain --model "$D/$m.onnx" --input "$D/$m.input.npy" --output "$T/plain.npy" --quiet ||
        { echo "cli_act: plain $m failed" >&2; exit 1; }
    for run in "ot silent" "ot iknp" "he silent"; do
        set -- $run
        "$P" run --model "$D/$m.onnx" --input "$D/$m.input.npy" --output "$T/$1-$2.npy" \
            --mode "$1" --ot "$2" --quiet >/dev/null 2>"$T/err" ||
            { echo "cli_act: $m: run --mode $1 --ot $2 failed: $(cat "$T/err")" >&2; exit 1; }
        cmp "$T/plain.npy" "$T/$1-$2.npy" ||
            { echo "cli_act: $m: run --mode $1 --ot $2 differs from plain" >&2; exit 1; }
    done
done
exit 0
