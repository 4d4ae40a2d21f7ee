#!/usr/bin/env bash
# POST /api/flags/set with few and with many flags, in one run, for one or
# more echopilot binaries (e.g. a build before and after a change): each node
# starts on a fresh data dir with N flags as its defaults, then echopilot-bench
# sets one flag in a closed loop. A write whose cost grows with the number of
# flags shows as a lower rate for the larger N. Loopback only, bounded in time.
# usage: bench/flags/set_scaling.sh [-d SECONDS] [-n "10 10000"] BINARY [BINARY...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=5
counts="10 10000"
while getopts "d:n:" o; do
  case $o in
    d) secs=$OPTARG ;;
    n) counts=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(($#)) || { echo "usage: $0 [-d SECONDS] [-n COUNTS] BINARY [BINARY...]" >&2; exit 2; }
hb=${ECHOPILOT_BENCH:-$root/build/bench/harness/echopilot-bench}
key=bench-dashboard-key-0123456789
port=18093
work=$(mktemp -d)
node_pid=
cleanup() {
  [[ -n $node_pid ]] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for n in $counts; do
  python3 - "$n" >"$work/flags-$n.json" <<'PY'
import json, sys
n = int(sys.argv[1])
flags = {f"bench.flag.{i:05d}": {"value": (i % 2 == 0), "description": f"flag {i}"} for i in range(n - 1)}
flags["bench.toggle"] = {"value": False, "description": "the flag the benchmark sets"}
print(json.dumps(flags))
PY
  printf '{"flags": {"defaults": "%s"}}\n' "$work/flags-$n.json" >"$work/config-$n.json"
done

for bin in "$@"; do
  for n in $counts; do
    data="$work/data-$n-$RANDOM"
    DASHBOARD_KEY=$key "$bin" serve --port $port --data-dir "$data" --config "$work/config-$n.json" >/dev/null 2>&1 &
    node_pid=$!
    for _ in $(seq 200); do
      curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
      sleep 0.05
    done
    got=$(curl -fs -H "X-Dash-Key: $key" "http://127.0.0.1:$port/api/flags/get" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
    echo "== $bin, $got flags: POST /api/flags/set, 32 connections, ${secs}s"
    "$hb" --url "http://127.0.0.1:$port/api/flags/set" -H "X-Dash-Key: $key" -H 'Content-Type: application/json' \
      --body '{"key":"bench.toggle","value":true}' -c 32 -d "${secs}s" --warmup 1s | grep -E "requests/s|req/s|p50|p99|errors|status" || true
    kill "$node_pid"
    wait "$node_pid" 2>/dev/null || true
    node_pid=
  done
done
