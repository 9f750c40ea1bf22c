"""The Python module (python/parley) over libparley.so: secure outputs equal
parley.plain bit for bit on examples/digits.onnx, reports are dicts, errors
raise parley.Error with parley's message and status.

    PARLEY_LIB=build/libparley.so PYTHONPATH=python python3 tests/test_python.py SRC_DIR

The random input comes from PARLEY_TEST_SEED (printed), so a run replays."""
import os
import socket
import sys
import threading
import time

import numpy as np

import parley

SRC = sys.argv[1] if len(sys.argv) > 1 else "."
MODEL = os.path.join(SRC, "examples", "digits.onnx")
seed = int(os.environ.get("PARLEY_TEST_SEED", "1"))
print("test_python: seed %d (replay: PARLEY_TEST_SEED=%d)" % (seed, seed))
rng = np.random.default_rng(seed)
failed = []


def check(cond, what):
    if not cond:
        failed.append(what)
        print("FAIL", what)


def raises(fn, status, needle, what):
    try:
        fn()
    except parley.Error as e:
        check(e.status == status and needle in str(e),
              "%s: got %d %r, want %d with %r" % (what, e.status, str(e), status, needle))
        return
    check(False, "%s: no parley.Error raised" % what)


x0 = np.load(os.path.join(SRC, "examples", "digit-1.npy"))
xr = rng.uniform(-1, 1, size=(1, 1, 8, 8)).astype(np.float32)

# the reference, by path and by bytes; floats are ring / 2^s
ref = parley.plain(MODEL, x0, ring=True)
with open(MODEL, "rb") as f:
    mb = parley.Model(f.read())
check(ref.dtype == np.int64 and ref.shape == (1, 10), "plain ring shape %r" % (ref.shape,))
check((mb.plain(x0, ring=True) == ref).all(), "plain from bytes == plain from the path")
check((mb.plain(x0) == (ref / 4096.0).astype(np.float32)).all(), "floats are ring / 2^12")

# secure == plain, bit for bit: OT (silent), HE on a random input, labels
y, rep = parley.run(MODEL, x0, ring=True, report=True)
check((y == ref).all(), "run (ot) == plain")
c = rep["client"]
check(c["role"] == "client" and rep["server"]["role"] == "server", "report roles")
check(c["bytes_sent"] == rep["server"]["bytes_recv"] > 0, "report bytes both ways")
check(len(c["layers"]) == 15 and c["mode"] == "ot", "report layers and mode")

he = parley.Model(MODEL, mode="he", ot="iknp", threads=1)
y, rep = parley.run(he, xr, ring=True, report=True)
check((y == he.plain(xr, ring=True)).all(), "run (he) == plain")
d = he.describe()
check(rep["client"]["bytes_sent"] + rep["client"]["bytes_recv"] == d["he"]["bytes"],
      "HE bytes == prediction (%d + %d vs %d)" % (rep["client"]["bytes_sent"],
                                                 rep["client"]["bytes_recv"], d["he"]["bytes"]))
check(rep["client"]["statistical_bits"] >= 40, "HE statistical bits")
check(d["input_shape"] == [1, 1, 8, 8] and d["output_shape"] == [1, 10], "describe shapes")
check(d["layers_count"] == 15 and len(d["layers"]) == 15, "describe layers")

# the detailed prediction: the description's bytes, each party's bytes as
# the run measured them, and a link priced per direction
p = he.predict("he")
check(p["supported"] and p["bytes"] == d["he"]["bytes"] and len(p["layers"]) == 15 and
      sum(L["bytes"] for L in p["layers"]) + p["input_bytes"] + p["reveal_bytes"] == p["bytes"],
      "predict's bytes, by part and per layer")
check(p["client_sent_bytes"] == rep["client"]["bytes_sent"] and
      p["server_sent_bytes"] == rep["client"]["bytes_recv"],
      "predict's bytes each way == the run's (%d, %d vs %d, %d)" % (
          p["client_sent_bytes"], p["server_sent_bytes"], rep["client"]["bytes_sent"],
          rep["client"]["bytes_recv"]))
check("seconds" not in p and p["statistical_bits"] >= 40, "no link, no time")
up = he.predict("he", net=(0, 5, 0))
check(abs(up["transfer_seconds"] - p["client_sent_bytes"] / 5e6) <= 1e-9 * up["transfer_seconds"],
      "a link limited only up: the client's bytes over its rate")
a, b = he.predict("he", net="80,5,40"), he.predict("he", net=(80, 5, 40))
check(a["seconds"] == b["seconds"] and a["transfer_seconds"] > he.predict("he", net="wan")[
    "transfer_seconds"], "net as a string and as a tuple; a slower uplink")
check(he.predict("he", net="80,40")["seconds"] == he.predict("he", net=(80, 40))["seconds"],
      "net (rtt, rate)")
raises(lambda: he.predict("he", net="80,5,"), parley.E_ARG, "80,5,", "a malformed link")
raises(lambda: he.predict("he", net=(1, 2, 3, 4)), parley.E_ARG, "(rtt_ms, up, down)",
       "a link of four numbers")
raises(lambda: he.predict("he", net=(80, -1)), parley.E_ARG, "0 or more", "a negative rate")
raises(lambda: he.predict("xx"), parley.E_ARG, "mode is 'xx'", "an unknown mode")
check(parley.predict(MODEL, "ot")["bytes"] == parley.describe(MODEL)["ot"]["bytes"],
      "parley.predict by path")

# the leaves on 4-bit VOLE: plain's output, both reports say so, and each
# direction's bytes are the prediction's
v4 = parley.Model(MODEL, mode="he", threads=1, leaves="vole4")
y, rep = parley.run(v4, xr, ring=True, report=True)
check((y == v4.plain(xr, ring=True)).all(), "run (leaves vole4) == plain")
check(rep["client"]["leaves"] == rep["server"]["leaves"] == "vole4", "report leaves")
p4 = v4.predict("he")
check(p4["client_sent_bytes"] == rep["client"]["bytes_sent"] and
      p4["server_sent_bytes"] == rep["client"]["bytes_recv"], "vole4: bytes each way == prediction")
check(parley.run(he, xr, report=True)[1]["client"]["leaves"] == "cot", "the default leaves")
# the OT pools a session holds: none with IKNP, about 233 MiB a lane with
# 4-bit VOLE leaves
check(d["ot_memory"] == 0, "ot_memory with IKNP")
check(200 << 20 < v4.describe()["ot_memory"] < 260 << 20, "ot_memory with vole4 leaves")

lab = parley.Model(MODEL, reveal="label", ot="iknp", threads=1)
want = int(np.argmax(parley.plain(MODEL, x0, ring=True)))
got = parley.run(lab, x0, ring=True)
check(got.shape == (1, 1) and int(got[0, 0]) == want and (lab.plain(x0, ring=True) == got).all(),
      "label run == plain == argmax")

# a server that serves until stopped, a client by "host:port"
seen = []
srv = parley.Server(mb, on_session=lambda st, r: seen.append((st, r["role"])))
port = srv.listen("127.0.0.1", 0)
th = threading.Thread(target=srv.serve)
th.start()
y = parley.infer("127.0.0.1:%d" % port, x0, ring=True)
srv.stop()
th.join(timeout=60)
check(not th.is_alive(), "serve returns after stop")
check((y == ref).all(), "infer via Server.serve == plain")
check(seen == [(0, "server")], "on_session saw one session: %r" % (seen,))
srv.close()

# HE with the server's weight cache off (parley.run above had the default's)
srv = parley.Server(he, he_weight_cache_mib=0)
port = srv.listen("127.0.0.1", 0)
th = threading.Thread(target=srv.serve)
th.start()
y = parley.infer("127.0.0.1:%d" % port, xr, ring=True)
srv.stop()
th.join(timeout=60)
check((y == he.plain(xr, ring=True)).all(), "infer (he, weight cache off) == plain")
srv.close()

# stop now: a running session (a client that connected and says nothing,
# which a graceful stop would wait for until its hello times out, 30 s)
# ends at once, with the session's status STOPPED
seen = []
srv = parley.Server(mb, on_session=lambda st, r: seen.append(st))
port = srv.listen("127.0.0.1", 0)
th = threading.Thread(target=srv.serve)
th.start()
sock = socket.create_connection(("127.0.0.1", port))
time.sleep(1)  # the server takes the connection and waits for the hello
t0 = time.time()
srv.stop(now=True)
th.join(timeout=20)
check(not th.is_alive() and time.time() - t0 < 10, "stop(now=True) ends a running session at once")
check(seen == [parley.E_STOPPED], "the aborted session's status: %r" % (seen,))
sock.close()
srv.close()

# calibration samples: the input times 1e4 wraps at the default (37, 12),
# and the server is refused naming the sample and the layer; the input
# itself fits
big = np.load(os.path.join(SRC, "tests", "data", "digit-0x1e4.npy"))
raises(lambda: parley.Server(mb, calibration=[x0, big]), parley.E_RANGE,
       "calibration sample 1 does not fit (l, s) = (37, 12): layer 0", "server calibration")
parley.Server(mb, calibration=[x0]).close()

# errors: parley's message and status
raises(lambda: parley.plain(os.path.join(SRC, "no-such-model.onnx"), x0), parley.E_IO,
       "no-such-model.onnx", "missing model")
raises(lambda: parley.plain(os.path.join(SRC, "examples", "digit-0.npy"), x0), parley.E_FORMAT,
       "digit-0.npy", "not a model")
raises(lambda: parley.Model(MODEL, bits=7), parley.E_ARG, "bits (the ring width l) is 7", "bits")
raises(lambda: parley.Model(MODEL, scale=20), parley.E_ARG, "scale 20 is too large", "scale")
raises(lambda: parley.Model(MODEL, mode="fast"), parley.E_ARG, "mode is 'fast'", "mode")
raises(lambda: parley.Model(MODEL, leaves="v4"), parley.E_ARG, "leaves is 'v4'", "leaves")
raises(lambda: parley.Model(MODEL, ot="iknp", leaves="vole4"), parley.E_ARG,
       "needs ot = PARLEY_OT_SILENT", "leaves on IKNP")
raises(lambda: mb.plain(np.zeros((8, 8))), parley.E_ARG, "the model expects [1,1,8,8]", "shape")
raises(lambda: mb.plain(np.full((1, 1, 8, 8), np.nan)), parley.E_ARG, "not finite", "nan")
raises(lambda: parley.run(mb, np.zeros(3)), parley.E_MISMATCH,
       "the input has shape [3], the model expects [1,1,8,8]", "run with a wrong shape")
raises(lambda: parley.infer("192.0.2.1:7311", x0), parley.E_ARG, "refusing to connect",
       "plaintext off loopback")
raises(lambda: parley.infer("127.0.0.1:1", x0, tls_pin="1234"), parley.E_ARG, "64 hex digits",
       "bad pin")
raises(lambda: parley.plain(mb, x0, bits=20), parley.E_ARG, "this one is loaded", "opts on a Model")

print("test_python: %s" % ("FAILED: %d" % len(failed) if failed else "ok"))
sys.exit(1 if failed else 0)
