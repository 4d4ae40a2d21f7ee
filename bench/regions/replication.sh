#!/usr/bin/env bash
# Regions (S26): replication lag and the cost of replication, on loopback.
#
# 1. Lag: three nodes joined as a cluster; the project's harness sets a flag
#    on node A at a constant rate (open loop) for SECONDS; nodes B and C
#    report the lag of every event they applied (commit here minus the time
#    in the event's version at A: one clock, one machine), p50/p99/max.
#    Rates: 1000 and 5000 writes/s (RATES overrides); each rate on a fresh
#    cluster.
# 2. Cost on the writing node: its CPU time per write at 1000 writes/s, and
#    its closed-loop throughput (32 connections), alone and as node A of a
#    cluster whose two peers pull every write; the ratios, in the same run.
#    With PIN=1 (the default on 2 cores or more) A and the load source run on
#    core 0 and the peers on core 1, so that the ratio is A's own cost of
#    replication (its log, the pulls and pushes it serves), not the peers'
#    work taking A's CPU; PIN=0 lets them share the cores.
#
# usage: bench/regions/replication.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
secs=${2:-10}
rates=${RATES:-1000 5000}
pin_cores=${PIN:-$( (( $(nproc) >= 2 )) && echo 1 || echo 0)}
peers_tmpfs=${PEERS_ON_TMPFS:-$([[ -d /dev/shm ]] && echo 1 || echo 0)}
shm=$([[ $peers_tmpfs == 1 ]] && mktemp -d /dev/shm/echopilot-bench.XXXXXX || echo "")
key=bench-dashboard-key-0123456789
export ECHOPILOT_CLUSTER_SECRET=bench-cluster-secret-0123456789
bench=$build/bench/harness/echopilot-bench
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
  [[ -n $shm ]] && rm -rf "$shm"
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
  # Pinned (PIN=1, the default on 2 or more cores): the writing node and
  # the load source on core 0, the peers on core 1, so that the peers'
  # work does not take the writer's CPU.
  local pin=()
  [[ $pin_cores == 1 ]] && pin=(taskset -c "$([[ $i == 0 ]] && echo 0 || echo 1)")
  # The peers' data dirs on tmpfs (PEERS_ON_TMPFS=1, the default when
  # /dev/shm exists): on one machine their commits would otherwise share the
  # writer's disk, which separate regions do not.
  local data=$work/$1-$i
  [[ $i != 0 && $peers_tmpfs == 1 ]] && data=$shm/$1-$i
  (cd "$root" && DASHBOARD_KEY=$key exec "${pin[@]}" "$build/echopilot" serve --port "${http[$i]}" \
    --data-dir "$data" "${args[@]}" >/dev/null 2>"$work/$1-$i.err") &
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
  local pin=()
  [[ $pin_cores == 1 ]] && pin=(taskset -c 0)
  "${pin[@]}" "$bench" --url "http://127.0.0.1:${http[0]}/api/flags/set" -m POST --body '{"key":"bench.lag","value":1}' \
    -H "X-Dash-Key: $key" -H 'Content-Type: application/json' -c "$1" -d "${secs}s" "${extra[@]}" \
    --json "$work/out.json" | sed 's/^/    /'
}

echo "== replication lag, 3 nodes, ${secs}s per rate"
for rate in $rates; do
  stop_all
  rm -rf "$work"/lag-* ${shm:+"$shm"/lag-*}
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

# CPU time (user + system) of process $1, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

echo "== the writing node's cost: CPU per write at 1000 writes/s, then closed-loop throughput (32 connections), ${secs}s each"
declare -A cpu_us tput
for mode in lone cluster; do
  stop_all
  if [[ $mode == lone ]]; then
    start lone 0
  else
    for i in 0 1 2; do start cost "$i" cluster; done
    wait_up
  fi
  writer_pid=${pids[0]}
  echo "-- $mode: node 0$([[ $mode == cluster ]] && echo ' of three, both peers pulling')"
  before=$(cpu_ticks "$writer_pid")
  write 64 1000
  after=$(cpu_ticks "$writer_pid")
  done_n=$(python3 -c "import json; print(json.load(open('$work/out.json'))['entries'][0]['responses'])")
  cpu_us[$mode]=$(python3 -c "print('%.0f' % ((($after - $before) / $hz) * 1e6 / max(1, $done_n)))")
  echo "    node 0 CPU: ${cpu_us[$mode]} us per write"
  write 32
  tput[$mode]=$(python3 -c "import json; print('%.0f' % json.load(open('$work/out.json'))['throughput_rps'])")
  [[ $mode == cluster ]] && wait_caught_up
done
python3 -c "
cl, cc = float('${cpu_us[lone]}'), float('${cpu_us[cluster]}')
tl, tc = float('${tput[lone]}'), float('${tput[cluster]}')
print('== CPU per write on the writing node: %.0f us in a cluster vs %.0f us alone (+%.0f %%)' % (cc, cl, 100 * (cc - cl) / cl))
print('== closed-loop throughput: %.0f req/s in a cluster vs %.0f alone (%.0f %%, cost %.0f %%)' % (tc, tl, 100 * tc / tl, 100 - 100 * tc / tl))"
