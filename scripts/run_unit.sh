#!/bin/sh
# Runs each cmocka unit-test binary given as an argument; one summary line at the end.
set -eu
passed=0 failed=0 failures=
for t in "$@"; do
    # Keep going after a failure so that the summary names every broken binary;
    # timeout: a hung test must not hang CI.
    if timeout 120 "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)) failures="$failures $t"
    fi
done
echo "unit: $passed passed, $failed failed${failures:+ (failed:$failures)}"
[ "$failed" -eq 0 ]
