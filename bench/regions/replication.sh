#!/usr/bin/env bash
# Regions (S26): replication lag and the cost of replication, on loopback.
#
# 1. Lag: three nodes joined as a cluster; the project's harness sets a flag
#    on node A at a constant rate (open loop) for SECONDS; nodes B and C
#    report the lag of every event they applied (commit here minus the time
#    in the event's version at A: one clock, one machine), p50/p99/max.
#    Rates: 1000 and 5000 writes/s (RATES overrides); each rate on a fresh
#    cluster.
# 2. Cost: closed-loop flag writes (32 connections) on a lone node, then on
#    node A of a cluster whose two peers pull every write; the ratio, in the
#    same run. The peers share this machine's cores with A and the load
#    source, so the cost measured here is an upper bound.
#
# usage: bench/regions/replication.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
secs=${2:-10}
rates=${RATES:-1000 5000}
key=bench-dashboard-key-0123456789
export ECHOPILOT_CLUSTER_SECRET=bench-cluster-secret-0123456789
bench=$build/bench/harness/echopilot-bench
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

http=(18201 18202 18203)
cluster=(19201 19202 19203)

# start NAME INDEX [cluster]: a node (INDEX 0-2); with "cluster", joined to the other two.
start() {
  local i=$2 args=()
  if [[ ${3:-} == cluster ]]; then
    args=(--region "r$i" --cluster-port "${cluster[$i]}")
    for j in 0 1 2; do [[ $j != "$i" ]] && args+=(--peer "127.0.0.1:${cluster[$j]}"); done
  fi
  (cd "$root" && DASHBOARD_KEY=$key exec "$build/echopilot" serve --port "${http[$i]}" \
    --data-dir "$work/$1-$i" "${args[@]}" >/dev/null 2>"$work/$1-$i.err") &
  pids+=($!)
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:${http[$i]}/readyz" >/dev/null 2>&1 && return
    sleep 0.05
  done
  echo "node $i did not start: $(cat "$work/$1-$i.err")" >&2
  exit 1
}
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  pids=()
}
status() { curl -fs -H "X-Dash-Key: $key" "http://127.0.0.1:${http[$1]}/api/regions/status"; }
# Waits until every peer of node 0 is up.
wait_up() {
  for _ in $(seq 300); do
    if status 0 | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; sys.exit(0 if all(p["state"]=="up" for p in d["peers"]) else 1)'; then
      return
    fi
    sleep 0.05
  done
  echo "the cluster did not come up" >&2
  exit 1
}
# Waits until nodes 1 and 2 applied everything node 0 logged.
wait_caught_up() {
  local head
  head=$(status 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["self"]["head"])')
  local node
  node=$(status 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["self"]["node"])')
  for _ in $(seq 600); do
    local done=1
    for i in 1 2; do
      local got
      got=$(status "$i" | python3 -c "import json,sys; print(json.load(sys.stdin)['data']['replication']['applied'].get('$node', 0))")
      [[ $got -ge $head ]] || done=0
    done
    [[ $done == 1 ]] && return
    sleep 0.1
  done
  echo "the peers did not catch up with $head events" >&2
}
write() { # write CONNECTIONS [RATE]: flag writes on node 0 for SECONDS
  local extra=()
  [[ -n ${2:-} ]] && extra=(--rate "$2")
  "$bench" --url "http://127.0.0.1:${http[0]}/api/flags/set" -m POST --body '{"key":"bench.lag","value":1}' \
    -H "X-Dash-Key: $key" -H 'Content-Type: application/json' -c "$1" -d "${secs}s" "${extra[@]}" \
    --json "$work/out.json" | sed 's/^/    /'
}

echo "== replication lag, 3 nodes, ${secs}s per rate"
for rate in $rates; do
  stop_all
  rm -rf "$work"/lag-*
  for i in 0 1 2; do start lag "$i" cluster; done
  wait_up
  echo "-- offered $rate writes/s on node 0"
  write 64 "$rate"
  wait_caught_up
  for i in 1 2; do
    status "$i" | python3 -c "
import json,sys
d=json.load(sys.stdin)['data']['replication']['lag']
print('    node $i applied %d events: lag p50 %s ms, p99 %s ms, max %s ms' % (d['events'], d['p50_ms'], d['p99_ms'], d['max_ms']))"
  done
done

echo "== write throughput on the writing node, closed loop, 32 connections, ${secs}s each"
stop_all
start alone 0
echo "-- a lone node"
write 32
alone=$(python3 -c "import json; print(json.load(open('$work/out.json'))['throughput_rps'])" 2>/dev/null || echo 0)
stop_all
for i in 0 1 2; do start cost "$i" cluster; done
wait_up
echo "-- node 0 of three, both peers pulling"
write 32
clustered=$(python3 -c "import json; print(json.load(open('$work/out.json'))['throughput_rps'])" 2>/dev/null || echo 0)
wait_caught_up
python3 -c "
a, c = float('$alone'), float('$clustered')
print('== clustered / lone: %.0f / %.0f req/s = %.0f %% (cost %.0f %%)' % (c, a, 100 * c / a if a else 0, 100 - 100 * c / a if a else 0))"
