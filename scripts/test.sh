#!/bin/sh
# `make test` / `make sanitize`: unit tests (the binaries given), then integration
# tests, always both, then one summary line; fails if either failed.
set -eu
here=$(dirname "$0")
unit=ok integration=ok
"$here/run_unit.sh" "$@" || unit=FAILED
"$here/run_integration.sh" || integration=FAILED
echo "TEST SUMMARY: unit $unit, integration $integration"
[ "$unit" = ok ] && [ "$integration" = ok ]
