#!/bin/sh
# Run a Python test of the parley module with an interpreter that has numpy
# (Debian's /usr/bin/python3 first); skipped (77) with a message if none.
#   tests/api_python.sh LIB PYTHONDIR SCRIPT ARGS...
set -eu
LIB=$1 PYDIR=$2
shift 2
for py in /usr/bin/python3 python3; do
    if "$py" -c "import numpy" 2>/dev/null; then
        PYTHONDONTWRITEBYTECODE=1 PARLEY_LIB=$LIB PYTHONPATH=$PYDIR exec "$py" "$@"
    fi
done
echo "api_python: skipped: no python3 with numpy (apt-get install python3-numpy)"
exit 77
