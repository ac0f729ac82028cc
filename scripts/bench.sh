#!/bin/sh
# `make bench`: a fresh stack on loopback, then bench/bench.py drives it with wrk.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/bench.py "$@"
