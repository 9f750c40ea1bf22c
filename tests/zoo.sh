#!/bin/sh
# One network of the model zoo (scripts/make-models --zoo; docs/MODELS.md,
# "The model zoo"), as a user runs it: parley plain at the defaults, then a
# secure parley run in MODE (the leaves' OT LEAVES, default cot) whose output
# must equal plain's byte for byte and whose bytes each way and critical
# flights must be parley inspect's prediction, then the reference against
# torch's float output: at the defaults (37, 12) within 8 % of the largest
# logit, and at (52, 20) within 0.1 % with torch's top-1 class.
#   tests/zoo.sh PARLEY ZOO_DIR NAME MODE [LEAVES]
set -u
P=$1 Z=$2 N=$3 MODE=$4 LEAVES=${5:-cot}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() {
    echo "zoo $N $MODE: $*" >&2
    exit 1
}
. "$(dirname "$0")/cli_lib.sh"
need_numpy
M="$Z/$N.onnx" X="$Z/$N.input.npy"
[ -f "$M" ] || fail "$M is missing: the zoo.models fixture makes it (scripts/make-models --zoo needs Debian's python3-torch, python3-torchvision, python3-onnx: scripts/make-models --install)"
"$P" plain --model "$M" --input "$X" --output "$T/plain.npy" --quiet >"$T/plain.out" 2>&1 ||
    fail "plain failed: $(cat "$T/plain.out")"
"$P" run --model "$M" --input "$X" --output "$T/run.npy" --mode "$MODE" --leaves "$LEAVES" \
    --json --quiet >"$T/run.json" 2>"$T/run.err" ||
    fail "run --mode $MODE --leaves $LEAVES failed: $(cat "$T/run.err")"
cmp -s "$T/plain.npy" "$T/run.npy" || fail "the secure output differs from parley plain's"
"$P" inspect "$M" --leaves "$LEAVES" --json >"$T/inspect.json" 2>"$T/inspect.err" ||
    fail "inspect failed: $(cat "$T/inspect.err")"
"$P" plain --model "$M" --input "$X" --output "$T/fine.npy" --bits 52 --scale 20 --quiet \
    >"$T/fine.out" 2>&1 || fail "plain at (52, 20) failed: $(cat "$T/fine.out")"
"$PY" - "$Z/$N.torch.npy" "$T/plain.npy" "$T/fine.npy" "$T/run.json" "$T/inspect.json" "$MODE" <<'PY' || fail "against torch or the prediction: see above"
import json, sys
import numpy as np
t, a, b = (np.load(p).astype(np.float64) for p in sys.argv[1:4])
r = json.loads(open(sys.argv[4]).readline())
i = json.loads(open(sys.argv[5]).read())[sys.argv[6]]
got = (r["bytes_client"], r["bytes_server"], r["critical_flights"])
want = (i["client_sent_bytes"], i["server_sent_bytes"], i["critical_flights"])
if got != want:
    print(f"client and server bytes, critical flights {got}; inspect predicts {want}")
    sys.exit(1)
top = np.abs(t).max()
ea, eb = np.abs(a - t).max() / top, np.abs(b - t).max() / top
print(f"max |logit| {top:.4f}; error vs torch (37, 12) {100 * ea:.3f} %, (52, 20) {100 * eb:.4f} %; "
      f"top-1 torch {t.argmax()} (37, 12) {a.argmax()} (52, 20) {b.argmax()}; "
      f"secure: {r['seconds']:.1f} s, {(r['bytes_sent'] + r['bytes_recv']) / 2**20:.1f} MiB")
ok = ea <= 0.08 and eb <= 0.001 and b.argmax() == t.argmax()
sys.exit(0 if ok else 1)
PY
echo "zoo $N $MODE (leaves $LEAVES): exact ($(wc -c <"$T/run.npy") bytes of output)"
