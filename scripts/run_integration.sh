#!/bin/sh
# Runs the pytest integration suite against the binaries in $WA_BIN_DIR (default bin).
# Extra arguments go to pytest, e.g. scripts/run_integration.sh -k smoke -x
set -eu
cd "$(dirname "$0")/.."
export WA_BIN_DIR="${WA_BIN_DIR:-bin}"
# Debian's interpreter: it is the one that has python3-pytest and python3-requests.
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider --tb=short tests/integration "$@"
