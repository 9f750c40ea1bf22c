#!/usr/bin/env python3
"""Read one JSON document from standard input; fail if any object in it has
a key twice (readers disagree on which one wins), or if it is not JSON."""
import json
import sys


def pairs(p):
    keys = [k for k, _ in p]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        sys.exit("duplicate key(s) in one object: " + ", ".join(dup))
    return dict(p)


json.load(sys.stdin, object_pairs_hook=pairs)
