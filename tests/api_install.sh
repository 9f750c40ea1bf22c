#!/bin/sh
# make install into a temporary prefix, then build examples/api_client.c
# against what was installed, with pkg-config alone, and run it: a secure
# inference over loopback that must equal the reference bit for bit.
#   tests/api_install.sh CMAKE BUILD_DIR SOURCE_DIR CC
set -eu
CMAKE=$1 BUILD=$2 SRC=$3 CC=$4
fail() { echo "api_install: $*" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
P=$T/prefix
"$CMAKE" --install "$BUILD" --prefix "$P" >"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "install failed"; }
[ -x "$P/bin/parley" ] || fail "no bin/parley"
# the installed command runs on the installed library (found by its RPATH)
env -u LD_LIBRARY_PATH "$P/bin/parley" version | grep -q '^parley ' ||
    fail "the installed bin/parley does not run"
env -u LD_LIBRARY_PATH ldd "$P/bin/parley" | grep -q "libparley\.so\.[0-9]* => $P/" ||
    fail "the installed bin/parley does not load the installed libparley.so: $(ldd "$P/bin/parley" | grep parley)"
[ -f "$P/include/parley.h" ] || fail "no include/parley.h"
pc=$(find "$P" -name parley.pc)
[ -n "$pc" ] || fail "no parley.pc"
lib=$(find "$P" -name 'libparley.so.*.*.*')
[ -n "$lib" ] || fail "no libparley.so.X.Y.Z"
export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --cflags --libs parley) || fail "pkg-config --cflags --libs parley failed"
libdir=$(pkg-config --variable=libdir parley)
[ "$(cd "$libdir" && pwd -P)" = "$(cd "$(dirname "$lib")" && pwd -P)" ] || fail "parley.pc's libdir $libdir is not where the library is"
# only the installed header: a copy of the example outside the source tree
cp "$SRC/examples/api_client.c" "$T/"
cd "$T"
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror api_client.c $flags -lpthread -o api_client ||
    fail "examples/api_client.c does not build against the installed library"
LD_LIBRARY_PATH="$libdir" ldd ./api_client | grep -q "$libdir/libparley.so" ||
    fail "api_client does not link the installed libparley.so"
LD_LIBRARY_PATH="$libdir" ./api_client "$SRC/examples/digits.onnx" "$SRC/examples/digit-0.npy" >out.txt 2>&1 ||
    { cat out.txt >&2; fail "api_client failed"; }
grep -q "secure output equals the reference" out.txt || { cat out.txt >&2; fail "no bit-exact result"; }
grep -q '^{"role":"client",' out.txt || { cat out.txt >&2; fail "no JSON report"; }
# the Python module from the prefix: PYTHONPATH alone (if numpy is here)
py=""
for c in /usr/bin/python3 python3; do
    if "$c" -c "import numpy" 2>/dev/null; then py=$c; break; fi
done
if [ -n "$py" ]; then
    [ -f "$P/lib/python3/dist-packages/parley/__init__.py" ] || fail "no Python module installed"
    env -u PARLEY_LIB -u LD_LIBRARY_PATH PYTHONPATH="$P/lib/python3/dist-packages" "$py" -c "
import sys, numpy as np, parley
assert parley.__file__.startswith('$P'), parley.__file__
x = np.load('$SRC/examples/digit-0.npy')
assert (parley.plain('$SRC/examples/digits.onnx', x, ring=True) ==
        parley.run('$SRC/examples/digits.onnx', x, ring=True)).all()
print('python from the prefix: secure == plain')" >py.txt 2>&1 || { cat py.txt >&2; fail "the installed Python module failed"; }
else
    echo "api_install: no python3 with numpy: the installed Python module not tried"
fi
echo "api_install: installed, built with pkg-config, ran: $(tail -1 out.txt)"
