#!/usr/bin/env bash
# The HTTP comparison of docs/BENCHMARKS.md, in one run: a bare RESTinio
# handler next to the node's authenticated flags read and write, each driven
# by wrk and by echopilot-bench. Loopback only; every load is bounded in time.
# usage: bench/http/compare.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
secs=${2:-5}
key=bench-dashboard-key-0123456789
bare_port=18091
node_port=18092
data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT

"$build/bench/http/bench-bare-restinio" --port $bare_port --threads 2 >/dev/null &
(cd "$root" && DASHBOARD_KEY=$key exec "$build/echopilot" serve --port $node_port --data-dir "$data" >/dev/null) &
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$node_port/readyz" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$bare_port/" >/dev/null 2>&1 && break
  sleep 0.1
done
# The flag the write benchmark toggles exists before the run.
curl -fs -H "X-Dash-Key: $key" -H 'Content-Type: application/json' \
  -d '{"key":"bench.toggle","value":false}' "http://127.0.0.1:$node_port/api/flags/set" >/dev/null

echo "== wrk -t1 -c32 -d${secs}s --latency"
for target in "bare http://127.0.0.1:$bare_port/" "flags.get http://127.0.0.1:$node_port/api/flags/get"; do
  set -- $target
  echo "-- $1"
  wrk -t1 -c32 -d"${secs}s" --latency -H "X-Dash-Key: $key" "$2" | grep -E "Requests/sec|50%|90%|99%|Non-2xx"
done
echo "-- flags.set"
KEY=$key wrk -t1 -c32 -d"${secs}s" --latency -s "$root/bench/http/flags_set.lua" \
  "http://127.0.0.1:$node_port" | grep -E "Requests/sec|50%|90%|99%|Non-2xx"

echo "== echopilot-bench -c 32 -d ${secs}s (closed loop)"
hb="$build/bench/harness/echopilot-bench"
echo "-- bare";      "$hb" --url "http://127.0.0.1:$bare_port/" -c 32 -d "${secs}s" --warmup 1s
echo "-- flags.get"; "$hb" --url "http://127.0.0.1:$node_port/api/flags/get" -H "X-Dash-Key: $key" -c 32 -d "${secs}s" --warmup 1s
echo "-- flags.set"; "$hb" --url "http://127.0.0.1:$node_port/api/flags/set" -H "X-Dash-Key: $key" \
  -H 'Content-Type: application/json' --body '{"key":"bench.toggle","value":true}' -c 32 -d "${secs}s" --warmup 1s
echo "-- mixed profile (bench/profiles/flags_mixed.json)"
"$hb" --url "http://127.0.0.1:$node_port/" --profile "$root/bench/profiles/flags_mixed.json" -c 32 -d "${secs}s" --warmup 1s
echo "== echopilot-bench constant rate 10000 req/s, flags.get"
"$hb" --url "http://127.0.0.1:$node_port/api/flags/get" -H "X-Dash-Key: $key" -c 32 -d "${secs}s" --warmup 1s --rate 10000
