"""parley: secure two-party neural-network inference (CrypTFlow2), from Python.

A pure-Python module over libparley.so (ctypes; numpy arrays in and out).
A server owns a model, a client owns an input; together they compute the
model's output so that the client learns only the result and the server
learns nothing about the input.

    import numpy as np, parley
    y = parley.plain("model.onnx", x)                 # the fixed-point reference
    y, report = parley.run("model.onnx", x, mode="he", report=True)
    assert (parley.plain("model.onnx", x, ring=True) ==
            parley.run("model.onnx", x, ring=True)).all()   # bit for bit

    server = parley.Server(parley.Model("model.onnx", mode="he"))
    port = server.listen("127.0.0.1", 0)
    server.serve()                                    # until server.stop()
    y = parley.infer(("127.0.0.1", port), x)          # in the client

Errors raise parley.Error, carrying parley's message and status code.
The library is found through $PARLEY_LIB, next to this package in an
installed prefix (PREFIX/lib), or on the loader's path (LD_LIBRARY_PATH).
Nothing is downloaded. docs/API.md describes the C API underneath.
"""

import ctypes as C
import json
import os
import threading

import numpy as np

__all__ = ["Error", "Model", "Server", "plain", "run", "infer", "describe", "version"]

_MAX_RANK = 8
_MODES = {"ot": 0, "he": 1}
_OTS = {"iknp": 0, "silent": 1}
_REVEALS = {"logits": 0, "label": 1}
_LEAVES = {"cot": 0, "vole4": 1}


def _load_library():
    here = os.path.dirname(os.path.abspath(__file__))
    tried = []
    env = os.environ.get("PARLEY_LIB")
    cands = [env] if env else []
    try:  # installed: where make install put the library, relative to this package
        from ._libdir import LIBDIR
        cands.append(os.path.normpath(os.path.join(here, LIBDIR, "libparley.so.0")))
    except ImportError:
        pass
    cands.append("libparley.so.0")
    for c in cands:
        try:
            return C.CDLL(c)
        except OSError as e:
            tried.append("%s (%s)" % (c, e))
    raise ImportError("parley: cannot load libparley.so: tried " + "; ".join(tried)
                      + " (set PARLEY_LIB or LD_LIBRARY_PATH)")


_lib = _load_library()


class _Tensor(C.Structure):
    _fields_ = [("rank", C.c_uint), ("shape", C.c_uint32 * _MAX_RANK), ("count", C.c_size_t),
                ("data", C.POINTER(C.c_float)), ("ring", C.POINTER(C.c_int64)),
                ("scale", C.c_uint)]


class _ModelOpts(C.Structure):
    _fields_ = [("size", C.c_size_t), ("bits", C.c_uint), ("scale", C.c_uint),
                ("wbits", C.c_uint), ("batch", C.c_uint), ("mode", C.c_int), ("ot", C.c_int),
                ("threads", C.c_uint), ("reveal", C.c_int), ("leaves", C.c_int)]


class _Cost(C.Structure):
    _fields_ = [("supported", C.c_int), ("why", C.c_char * 256), ("bytes", C.c_uint64),
                ("setup_bytes", C.c_uint64), ("critical_flights", C.c_uint64),
                ("statistical_bits", C.c_double)]


class _ModelInfo(C.Structure):
    _fields_ = [("size", C.c_size_t), ("layers", C.c_uint), ("bits", C.c_uint),
                ("scale", C.c_uint), ("input_rank", C.c_uint), ("output_rank", C.c_uint),
                ("input_shape", C.c_uint32 * _MAX_RANK), ("output_shape", C.c_uint32 * _MAX_RANK),
                ("params", C.c_uint64), ("macs", C.c_uint64), ("relus", C.c_uint64),
                ("public_model_bytes", C.c_uint64), ("ot", _Cost), ("he", _Cost),
                ("input_name", C.c_char_p), ("output_name", C.c_char_p),
                ("ot_memory", C.c_uint64)]


class _Link(C.Structure):
    _fields_ = [("rtt_ms", C.c_double), ("mbytes_per_s", C.c_double),
                ("up_mbytes_per_s", C.c_double), ("down_mbytes_per_s", C.c_double)]


class _Prediction(C.Structure):
    _fields_ = [("supported", C.c_int), ("why", C.c_char * 256), ("bytes", C.c_uint64),
                ("server_sent_bytes", C.c_uint64), ("client_sent_bytes", C.c_uint64),
                ("setup_bytes", C.c_uint64), ("critical_flights", C.c_uint64),
                ("input_bytes", C.c_uint64), ("linear_bytes", C.c_uint64),
                ("nonlinear_bytes", C.c_uint64), ("label_bytes", C.c_uint64),
                ("reveal_bytes", C.c_uint64), ("cots", C.c_uint64),
                ("cot_making_bytes", C.c_uint64), ("returned_coefficients", C.c_uint64),
                ("statistical_bits", C.c_double), ("computational_bits", C.c_uint),
                ("he_ring_n", C.c_uint), ("he_log2_q", C.c_double), ("timed", C.c_int),
                ("seconds", C.c_double), ("compute_seconds", C.c_double),
                ("transfer_seconds", C.c_double), ("latency_seconds", C.c_double),
                ("nlayers", C.c_uint), ("layer_bytes", C.POINTER(C.c_uint64)),
                ("layer_flights", C.POINTER(C.c_uint64)), ("layer_cots", C.POINTER(C.c_uint64)),
                ("layer_seconds", C.POINTER(C.c_double))]


class _LayerInfo(C.Structure):
    _fields_ = [("size", C.c_size_t), ("kind", C.c_char_p), ("name", C.c_char_p),
                ("rank", C.c_uint), ("shape", C.c_uint32 * _MAX_RANK), ("macs", C.c_uint64),
                ("relus", C.c_uint64)]


class _LayerReport(C.Structure):
    _fields_ = [("kind", C.c_char * 16), ("name", C.c_char * 256), ("seconds", C.c_double),
                ("bytes_sent", C.c_uint64), ("bytes_recv", C.c_uint64), ("flights", C.c_uint64),
                ("critical_flights", C.c_uint64)]


class _Report(C.Structure):
    _fields_ = [("role", C.c_int), ("mode", C.c_int), ("ot", C.c_int), ("reveal", C.c_int),
                ("bits", C.c_uint), ("scale", C.c_uint), ("threads", C.c_uint),
                ("seconds", C.c_double), ("setup_seconds", C.c_double),
                ("bytes_sent", C.c_uint64), ("bytes_recv", C.c_uint64),
                ("setup_bytes", C.c_uint64), ("rounds", C.c_uint64),
                ("critical_flights", C.c_uint64), ("frame_bytes", C.c_uint64),
                ("stash_peak_bytes", C.c_uint64), ("peer_seconds", C.c_double),
                ("statistical_bits", C.c_double), ("transport", C.c_char * 96),
                ("peer", C.c_char * 64), ("nlayers", C.c_uint),
                ("layers", C.POINTER(_LayerReport)), ("batch", C.c_uint),
                ("link_bytes_sent", C.c_uint64), ("link_bytes_recv", C.c_uint64),
                ("macs", C.c_uint64), ("relus", C.c_uint64),
                ("computational_bits", C.c_uint), ("softmax_dropped", C.c_uint),
                ("leaves", C.c_int)]


_SessionFn = C.CFUNCTYPE(None, C.c_void_p, C.c_int, C.POINTER(_Report))


class _ServerOpts(C.Structure):
    _fields_ = [("size", C.c_size_t), ("tls_cert", C.c_char_p), ("tls_key", C.c_char_p),
                ("tls_client_ca", C.c_char_p), ("token_file", C.c_char_p),
                ("insecure", C.c_int), ("max_stash", C.c_size_t),
                ("handshake_timeout_ms", C.c_int), ("on_session", _SessionFn),
                ("on_session_ctx", C.c_void_p), ("idle_timeout_ms", C.c_int),
                ("max_batch", C.c_uint), ("calibration", C.c_void_p),
                ("ncalibration", C.c_uint), ("calibration_names", C.c_void_p),
                ("he_weight_cache_mib", C.c_uint)]


class _ClientOpts(C.Structure):
    _fields_ = [("size", C.c_size_t), ("tls_ca", C.c_char_p), ("tls_pin", C.c_char_p),
                ("tls_name", C.c_char_p), ("tls_cert", C.c_char_p), ("tls_key", C.c_char_p),
                ("token_file", C.c_char_p), ("insecure", C.c_int), ("max_stash", C.c_size_t),
                ("max_model_memory", C.c_uint64), ("connect_timeout_ms", C.c_int),
                ("progress", C.c_void_p), ("progress_ctx", C.c_void_p)]


def _fn(name, res, *args):
    f = getattr(_lib, name)
    f.restype = res
    f.argtypes = list(args)
    return f


_P = C.POINTER
_strerror = _fn("parley_strerror", C.c_char_p, C.c_int)
_last_error = _fn("parley_last_error", C.c_char_p)
_version = _fn("parley_version", C.c_char_p)
_tensor_free = _fn("parley_tensor_free", None, _P(_Tensor))
_model_opts_init = _fn("parley_model_opts_init", None, _P(_ModelOpts))
_model_load = _fn("parley_model_load", C.c_int, _P(C.c_void_p), C.c_char_p, _P(_ModelOpts))
_model_load_bytes = _fn("parley_model_load_bytes", C.c_int, _P(C.c_void_p), C.c_char_p,
                        C.c_size_t, _P(_ModelOpts))
_model_free = _fn("parley_model_free", None, C.c_void_p)
_model_notes = _fn("parley_model_notes", C.c_char_p, C.c_void_p)
_model_describe = _fn("parley_model_describe", C.c_int, C.c_void_p, _P(_ModelInfo))
_model_layer = _fn("parley_model_layer", C.c_int, C.c_void_p, C.c_uint, _P(_LayerInfo))
_link_parse = _fn("parley_link_parse", C.c_int, _P(_Link), C.c_char_p)
_model_predict = _fn("parley_model_predict", C.c_int, C.c_void_p, C.c_int, _P(_Link),
                     _P(_Prediction))
_prediction_free = _fn("parley_prediction_free", None, _P(_Prediction))
_plain = _fn("parley_plain", C.c_int, C.c_void_p, _P(_Tensor), _P(_Tensor))
_report_free = _fn("parley_report_free", None, _P(_Report))
_report_json = _fn("parley_report_json", C.c_int, _P(_Report), C.c_char_p, C.c_size_t)
_server_opts_init = _fn("parley_server_opts_init", None, _P(_ServerOpts))
_server_new = _fn("parley_server_new", C.c_int, _P(C.c_void_p), C.c_void_p, _P(_ServerOpts))
_server_listen = _fn("parley_server_listen", C.c_int, C.c_void_p, C.c_char_p, C.c_int,
                     _P(C.c_int))
_server_pin = _fn("parley_server_pin", C.c_char_p, C.c_void_p)
_server_serve_one = _fn("parley_server_serve_one", C.c_int, C.c_void_p, _P(_Report))
_server_serve = _fn("parley_server_serve", C.c_int, C.c_void_p)
_server_serve_connection = _fn("parley_server_serve_connection", C.c_int, C.c_void_p, C.c_int,
                               C.c_char_p, _P(_Report))
_server_stop = _fn("parley_server_stop", None, C.c_void_p)
_server_abort = _fn("parley_server_abort", None, C.c_void_p)
_server_free = _fn("parley_server_free", None, C.c_void_p)
_client_opts_init = _fn("parley_client_opts_init", None, _P(_ClientOpts))
_infer = _fn("parley_infer", C.c_int, C.c_char_p, C.c_int, _P(_Tensor), _P(_Tensor),
             _P(_Report), _P(_ClientOpts))
_infer_fd = _fn("parley_infer_fd", C.c_int, C.c_int, C.c_char_p, _P(_Tensor), _P(_Tensor),
                _P(_Report), _P(_ClientOpts))

# status codes, as in parley.h
E_IO, E_CLOSED, E_TIMEOUT, E_REFUSED, E_PROTO, E_NOMEM, E_ARG, E_FORMAT = range(-1, -9, -1)
E_UNSUPPORTED, E_MISMATCH, E_AUTH, E_LIMIT, E_STOPPED, E_RANGE = range(-9, -15, -1)


class Error(Exception):
    """A failure of parley: .status is the code (parley.E_*), the text parley's message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.kind = _strerror(status).decode()


def _check(rc):
    if rc < 0:
        raise Error(rc, _last_error().decode(errors="replace"))
    return rc


def _b(s):
    if s is None:
        return None
    return os.fsencode(s) if not isinstance(s, bytes) else s


def version():
    """The library's version ("0.1.0")."""
    return _version().decode()


def _choice(table, what, v):
    if v not in table:
        raise Error(E_ARG, "%s is %r: one of %s" % (what, v, ", ".join(sorted(table))))
    return table[v]


class _Closing:
    """A handle freed by close(), at the end of a with block, or when collected."""

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


class Model(_Closing):
    """An ONNX model (a path or its bytes), quantized, with its session's settings.

    bits (l), scale (s), wbits (0: s + 4), batch, mode ("ot" or "he"), ot ("silent"
    or "iknp"), threads, reveal ("logits" or "label"), leaves ("cot" or "vole4"):
    as parley_model_opts.
    """

    def __init__(self, onnx, bits=37, scale=12, wbits=0, batch=1, mode="ot", ot="silent",
                 threads=2, reveal="logits", leaves="cot"):
        o = _ModelOpts()
        _model_opts_init(C.byref(o))
        o.bits, o.scale, o.wbits, o.batch, o.threads = bits, scale, wbits, batch, threads
        o.mode = _choice(_MODES, "mode", mode)
        o.ot = _choice(_OTS, "ot", ot)
        o.reveal = _choice(_REVEALS, "reveal", reveal)
        o.leaves = _choice(_LEAVES, "leaves", leaves)
        h = C.c_void_p()
        if isinstance(onnx, (bytes, bytearray, memoryview)):
            buf = bytes(onnx)
            _check(_model_load_bytes(C.byref(h), buf, len(buf), C.byref(o)))
        else:
            _check(_model_load(C.byref(h), _b(onnx), C.byref(o)))
        self._h = h
        self.mode, self.reveal = mode, reveal

    def close(self):
        if getattr(self, "_h", None):
            _model_free(self._h)
            self._h = None

    @property
    def notes(self):
        """The importer's notes ("" if none)."""
        return _model_notes(self._h).decode(errors="replace")

    def describe(self):
        """Layers, shapes, counts and the predicted cost per mode, as a dict."""
        i = _ModelInfo()
        i.size = C.sizeof(i)
        _check(_model_describe(self._h, C.byref(i)))

        def cost(c):
            d = {"supported": bool(c.supported)}
            if c.supported:
                d.update(bytes=c.bytes, setup_bytes=c.setup_bytes,
                         critical_flights=c.critical_flights)
                if c.statistical_bits:
                    d["statistical_bits"] = c.statistical_bits
            else:
                d["why"] = c.why.decode(errors="replace")
            return d

        layers = []
        for k in range(i.layers):
            li = _LayerInfo()
            li.size = C.sizeof(li)
            _check(_model_layer(self._h, k, C.byref(li)))
            layers.append({"kind": li.kind.decode(), "name": li.name.decode(errors="replace"),
                           "shape": list(li.shape[:li.rank]), "macs": li.macs,
                           "relus": li.relus})
        return {"layers_count": i.layers, "bits": i.bits, "scale": i.scale,
                "input_shape": list(i.input_shape[:i.input_rank]),
                "output_shape": list(i.output_shape[:i.output_rank]),
                "params": i.params, "macs": i.macs, "relus": i.relus,
                "public_model_bytes": i.public_model_bytes, "ot_memory": i.ot_memory,
                "ot": cost(i.ot), "he": cost(i.he), "layers": layers}

    def predict(self, mode, net=None):
        """One mode's predicted cost in detail, as a dict (parley_model_predict):
        exact bytes in all, by part, by party and per layer, critical flights,
        and with a link the time over it. net: "wan", "lan", "loopback",
        "RTT_MS,MBYTES_PER_S" or "RTT_MS,UP,DOWN" (up: the client's direction),
        or a tuple of those numbers (a rate of 0 is unlimited)."""
        md = _choice(_MODES, "mode", mode)
        link = None
        if net is not None:
            link = _Link()
            if isinstance(net, str):
                _check(_link_parse(C.byref(link), _b(net)))
            elif len(net) == 2:
                link.rtt_ms, link.mbytes_per_s = float(net[0]), float(net[1])
            elif len(net) == 3:
                link.rtt_ms, link.up_mbytes_per_s, link.down_mbytes_per_s = map(float, net)
            else:
                raise Error(E_ARG, "net wants a string or (rtt_ms, rate) or (rtt_ms, up, down)")
        p = _Prediction()
        _check(_model_predict(self._h, md, C.byref(link) if link else None, C.byref(p)))
        try:
            if not p.supported:
                return {"supported": False, "why": p.why.decode(errors="replace")}
            keys = ("bytes", "server_sent_bytes", "client_sent_bytes", "setup_bytes",
                    "critical_flights", "input_bytes", "linear_bytes", "nonlinear_bytes",
                    "label_bytes", "reveal_bytes", "cots", "cot_making_bytes")
            d = {"supported": True}
            d.update((k, getattr(p, k)) for k in keys)
            if md == _MODES["he"]:
                d.update(returned_coefficients=p.returned_coefficients,
                         statistical_bits=p.statistical_bits,
                         computational_bits=p.computational_bits,
                         ring={"N": p.he_ring_n, "log2_q": p.he_log2_q})
            if p.timed:
                d.update(seconds=p.seconds, compute_seconds=p.compute_seconds,
                         transfer_seconds=p.transfer_seconds,
                         latency_seconds=p.latency_seconds)
            layers = []
            for i in range(p.nlayers):
                L = {"bytes": p.layer_bytes[i], "flights": p.layer_flights[i],
                     "cots": p.layer_cots[i]}
                if p.timed:
                    L["seconds"] = p.layer_seconds[i]
                layers.append(L)
            d["layers"] = layers
            return d
        finally:
            _prediction_free(C.byref(p))

    def plain(self, x, ring=False):
        """The plaintext fixed-point reference on x (what a secure run returns)."""
        t, keep = _tensor_in(x)
        y = _Tensor()
        _check(_plain(self._h, C.byref(t), C.byref(y)))
        del keep
        return _tensor_out(y, ring)


def _model(m, kw):
    if isinstance(m, Model):
        if kw:
            raise Error(E_ARG, "options %s are for loading a model; this one is loaded"
                        % ", ".join(sorted(kw)))
        return m, False
    return Model(m, **kw), True


def _tensor_in(x):
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim > _MAX_RANK:
        raise Error(E_ARG, "the input has rank %d, more than %d" % (a.ndim, _MAX_RANK))
    t = _Tensor()
    t.rank = a.ndim
    for i, d in enumerate(a.shape):
        t.shape[i] = d
    t.count = a.size
    t.data = a.ctypes.data_as(C.POINTER(C.c_float))
    return t, a  # a keeps the data alive


def _tensor_out(t, ring):
    try:
        shape = tuple(t.shape[:t.rank])
        n = t.count
        if ring:
            return np.ctypeslib.as_array(t.ring, shape=(n,)).copy().reshape(shape)
        return np.ctypeslib.as_array(t.data, shape=(n,)).copy().reshape(shape)
    finally:
        _tensor_free(C.byref(t))


def _report(r):
    try:
        n = _report_json(C.byref(r), None, 0)
        _check(n)
        buf = C.create_string_buffer(n + 1)
        _check(_report_json(C.byref(r), buf, n + 1))
        return json.loads(buf.value.decode())
    finally:
        _report_free(C.byref(r))


def _on_model(model, kw, call):
    """call(m) on Model(model, **kw), or on model itself if it is one."""
    m, own = _model(model, kw)
    try:
        return call(m)
    finally:
        if own:
            m.close()


def describe(model, **kw):
    """Model(model, **kw).describe()."""
    return _on_model(model, kw, lambda m: m.describe())


def predict(model, mode, net=None, **kw):
    """Model(model, **kw).predict(mode, net)."""
    return _on_model(model, kw, lambda m: m.predict(mode, net))


def plain(model, x, ring=False, **kw):
    """The plaintext reference: float output (ring=True: the int64 ring values)."""
    return _on_model(model, kw, lambda m: m.plain(x, ring))


class Server(_Closing):
    """A server of a Model. TLS and token options as parley_server_opts;
    on_session(status, report_dict) is called after each session;
    calibration: sample inputs (arrays) the model's (l, s) is checked on
    now, refused with parley.Error (E_RANGE) if a value wraps;
    he_weight_cache_mib (None: the library's default, 512; 0: off) as
    parley_server_opts.he_weight_cache_mib."""

    def __init__(self, model, tls_cert=None, tls_key=None, tls_client_ca=None,
                 token_file=None, insecure=False, max_stash=0, on_session=None,
                 calibration=None, he_weight_cache_mib=None):
        if not isinstance(model, Model):
            raise Error(E_ARG, "Server wants a parley.Model")
        self.model = model  # kept alive as long as the server
        o = _ServerOpts()
        _server_opts_init(C.byref(o))
        o.tls_cert, o.tls_key = _b(tls_cert), _b(tls_key)
        o.tls_client_ca, o.token_file = _b(tls_client_ca), _b(token_file)
        o.insecure, o.max_stash = int(bool(insecure)), max_stash
        if he_weight_cache_mib is not None:
            o.he_weight_cache_mib = he_weight_cache_mib
        self._cb = None
        if on_session:
            def cb(ctx, status, rep):
                n = _report_json(rep, None, 0)
                buf = C.create_string_buffer(max(n, 0) + 1)
                _report_json(rep, buf, len(buf))
                on_session(status, json.loads(buf.value.decode()))
            self._cb = _SessionFn(cb)
            o.on_session = self._cb
        samples = [_tensor_in(x) for x in (calibration or [])]
        if samples:  # read during the call only
            arr = (_Tensor * len(samples))(*[t for t, _ in samples])
            o.calibration = C.cast(arr, C.c_void_p)
            o.ncalibration = len(samples)
        h = C.c_void_p()
        _check(_server_new(C.byref(h), model._h, C.byref(o)))
        self._h = h

    def listen(self, host="127.0.0.1", port=0):
        """Listen; returns the bound port (port 0: the kernel picks one)."""
        p = C.c_int()
        _check(_server_listen(self._h, _b(host), port, C.byref(p)))
        self.port = p.value
        return p.value

    @property
    def pin(self):
        return _server_pin(self._h).decode()

    def serve_one(self):
        """Serve one client; returns the session's report (a dict)."""
        r = _Report()
        rc = _server_serve_one(self._h, C.byref(r))
        if rc < 0:
            _report_free(C.byref(r))
            _check(rc)
        return _report(r)

    def serve(self):
        """Serve until stop() (from another thread); returns then."""
        rc = _server_serve(self._h)
        if rc != E_STOPPED:
            _check(rc)

    def serve_connection(self, sock, peer=None):
        """One session on a connected socket (socket.socket or fd), which is taken."""
        fd = sock.detach() if hasattr(sock, "detach") else int(sock)
        r = _Report()
        rc = _server_serve_connection(self._h, fd, _b(peer), C.byref(r))
        if rc < 0:
            _report_free(C.byref(r))
            _check(rc)
        return _report(r)

    def stop(self, now=False):
        """Stop serving: running sessions finish (now=True: they end at once)."""
        (_server_abort if now else _server_stop)(self._h)

    def close(self):
        if getattr(self, "_h", None):
            _server_free(self._h)
            self._h = None


def _client_opts(kw):
    o = _ClientOpts()
    _client_opts_init(C.byref(o))
    for k, v in kw.items():
        if k not in ("tls_ca", "tls_pin", "tls_name", "tls_cert", "tls_key", "token_file",
                     "insecure", "max_stash", "max_model_memory", "connect_timeout_ms"):
            raise Error(E_ARG, "unknown client option %r" % k)
        setattr(o, k, _b(v) if isinstance(v, (str, os.PathLike)) else
                (int(v) if isinstance(v, bool) else v))
    return o


def infer(address, x, ring=False, report=False, **kw):
    """A secure inference against a parley server at address ("host:port" or
    (host, port)) or on a connected socket; client options as
    parley_client_opts. Returns the output (and the report dict with report=True)."""
    t, keep = _tensor_in(x)
    o = _client_opts(kw)
    y, r = _Tensor(), _Report()
    if hasattr(address, "detach"):  # a connected socket, taken
        rc = _infer_fd(address.detach(), None, C.byref(t), C.byref(y), C.byref(r), C.byref(o))
    else:
        if isinstance(address, str):
            host, _, port = address.rpartition(":")
            host = host or "127.0.0.1"
        else:
            host, port = address
        try:
            port = int(port)
        except ValueError:
            raise Error(E_ARG, "the address %r has no port" % (address,))
        rc = _infer(_b(host), port, C.byref(t), C.byref(y), C.byref(r), C.byref(o))
    del keep
    if rc < 0:
        _report_free(C.byref(r))
        _check(rc)
    out = _tensor_out(y, ring)
    rep = _report(r)
    return (out, rep) if report else out


def run(model, x, ring=False, report=False, **kw):
    """Both parties in this process: serve one session in a thread on
    127.0.0.1 (a free port) and infer against it. model is a Model or what
    Model() takes (kw: its options). Returns the output (and, with
    report=True, {"client": ..., "server": ...})."""
    m, own = _model(model, kw)
    srv = Server(m)
    try:
        port = srv.listen("127.0.0.1", 0)
        res = {}

        def serve():
            try:
                res["server"] = srv.serve_one()
            except Error as e:
                res["error"] = e

        th = threading.Thread(target=serve, daemon=True)
        th.start()
        try:
            out, crep = infer(("127.0.0.1", port), x, ring=ring, report=True)
        except BaseException:
            srv.stop()  # the server may still be waiting for this client
            th.join()
            raise
        th.join()
        if "error" in res:
            raise res["error"]
        return (out, {"client": crep, "server": res["server"]}) if report else out
    finally:
        srv.close()
        if own:
            m.close()
