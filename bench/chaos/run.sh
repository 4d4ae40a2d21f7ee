#!/usr/bin/env bash
# The long chaos run (issue 10): the chaos test of tests/app/chaos_test.cpp
# with many more crashes than CI's 300, against the real binary, printing
# the crashes by actor, every status seen by route, and what was
# acknowledged. No request may hang (status 0) or answer 500.
# Usage: bench/chaos/run.sh [BUILD_DIR] [CRASHES] [SEED]
set -euo pipefail
build=${1:-build}
crashes=${2:-10000}
seed=${3:-}
test=$build/tests/app/app_chaos_test
[[ -x "$test" ]] || { echo "run.sh: no $test (build first: scripts/build)" >&2; exit 2; }
export ECHOPILOT_CHAOS_CRASHES=$crashes
[[ -n "$seed" ]] && export ECHOPILOT_CHAOS_SEED=$seed
start=$(date +%s)
"$test" --success=false 2>&1 | grep -v '^\[doctest\] \(doctest version\|run with\)'
echo "chaos: $crashes crashes in $(( $(date +%s) - start )) s"
