#!/usr/bin/env bash
# The authenticated flags read with the rate guard on and off (issue 14):
# bench/http/onoff.sh with guard.enabled. Before each run the guard's table
# gets PREFILL (default 5000) clients, each struck once from its own
# loopback address (127.2.x.y), so that the "on" runs look clients up in a
# table that is not empty; the load's own client is not among them.
# usage: bench/guard/onoff.sh [BUILD_DIR] [ROUNDS] [SECONDS] [CONNECTIONS]
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PREFILL=${PREFILL:-5000}
PREPARE="$here/prefill.sh" \
CHECK_ON='curl -fs -H "X-Dash-Key: $KEY" "http://127.0.0.1:$PORT/api/rate-guard/stats" |
  python3 -c "import json,sys; c=json.load(sys.stdin)[\"data\"][\"counters\"]; print(\"   guard: clients\", c[\"clients\"], \"strikes\", c[\"strikes_total\"])"' \
  exec "$here/../http/onoff.sh" guard.enabled "$@"
