#!/usr/bin/env bash
# The gateway's throughput with the SLO recording on and off (issue 11):
# bench/http/onoff.sh with slo.record; after each "on" run the SLO status
# must have counted the load.
# usage: bench/slo/onoff.sh [BUILD_DIR] [ROUNDS] [SECONDS] [CONNECTIONS]
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECK_ON='curl -fs -H "X-Dash-Key: $KEY" "http://127.0.0.1:$PORT/api/slo/status" |
  python3 -c "import json,sys; d=json.load(sys.stdin)[\"data\"]; print(\"   recorded requests:\", d[\"window\"][\"requests\"], \"p99_ms:\", d[\"p99_ms\"])"' \
  exec "$here/../http/onoff.sh" slo.record "$@"
