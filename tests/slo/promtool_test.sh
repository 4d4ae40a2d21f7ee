#!/bin/sh
# configs/prometheus/slo-rules.yml: valid for promtool, and its alerts fire
# and clear at the known times of a synthetic outage (slo-rules.test.yml).
# Skipped (exit 77) only when promtool is missing (scripts/setup --test
# installs it with the package prometheus).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v promtool >/dev/null 2>&1; then
  echo "SKIPPED: promtool is not installed (apt-get install prometheus, or scripts/setup --test)"
  exit 77
fi
promtool check rules "$here/../../configs/prometheus/slo-rules.yml"
cd "$here"
promtool test rules slo-rules.test.yml
