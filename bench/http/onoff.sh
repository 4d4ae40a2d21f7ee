#!/usr/bin/env bash
# The gateway's throughput with a boolean setting on and off: the real
# binary on loopback, wrk against GET /api/flags/get with the key, a fresh
# node per run with SETTING (a dotted config key: slo.record, issue 11;
# guard.enabled, issue 14) true or false, the two modes alternated
# (on/off, then off/on, ...) so that drift of a shared machine falls on
# both. Prints every run, then the median of each mode and their difference.
# usage: bench/http/onoff.sh SETTING [BUILD_DIR] [ROUNDS] [SECONDS] [CONNECTIONS]
# NODE_CPUS / WRK_CPUS (taskset lists, e.g. 0 and 1): pin the node and wrk to
# cores of their own, so that they do not take turns on the same core.
# PREPARE: a command run with PORT and KEY in its environment once each node
# is up, before the warm-up (e.g. bench/guard/prefill.sh, which fills the
# guard's table); CHECK_ON: one run once each "on" run is measured.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
setting=${1:?usage: bench/http/onoff.sh SETTING [BUILD_DIR] [ROUNDS] [SECONDS] [CONNECTIONS]}
build=${2:-$root/build}
rounds=${3:-5}
secs=${4:-10}
conns=${5:-32}
key=bench-dashboard-key-0123456789
port=18093
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
work=$(mktemp -d)
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The shipped config with the setting and absolute paths.
for mode in true false; do
  python3 - "$root/configs/echopilot.json" "$work/$mode.json" "$mode" "$root" "$setting" <<'PY'
import json, sys
src, dst, mode, root, setting = sys.argv[1:]
c = json.load(open(src))
*path, last = setting.split(".")
section = c
for p in path:
    section = section.setdefault(p, {})
if last not in section:
    sys.exit("no setting " + setting + " in " + src)
section[last] = mode == "true"
c["flags"]["defaults"] = root + "/configs/flags.json"
c["web"] = {"root": root + "/web"}
json.dump(c, open(dst, "w"), indent=2)
PY
done

run() { # mode -> req/s
  local mode=$1 data="$work/data-$1-$RANDOM"
  DASHBOARD_KEY=$key ${NODE_CPUS:+taskset -c "$NODE_CPUS"} "$build/echopilot" serve --config "$work/$mode.json" --port $port --data-dir "$data" \
    >/dev/null 2>&1 &
  node_pid=$!
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  [ -n "${PREPARE:-}" ] && PORT=$port KEY=$key bash -c "$PREPARE" >&2
  wrk -t1 -c"$conns" -d2s -H "X-Dash-Key: $key" "http://127.0.0.1:$port/api/flags/get" >/dev/null # warm-up
  local rps
  rps=$(${WRK_CPUS:+taskset -c "$WRK_CPUS"} wrk -t1 -c"$conns" -d"${secs}s" -H "X-Dash-Key: $key" "http://127.0.0.1:$port/api/flags/get" |
        awk '/Requests\/sec/ {print $2}')
  [ "$mode" = true ] && [ -n "${CHECK_ON:-}" ] && PORT=$port KEY=$key bash -c "$CHECK_ON" >&2
  kill "$node_pid"; wait "$node_pid" 2>/dev/null || true; node_pid=
  rm -rf "$data"
  echo "$rps"
}

on=(); off=()
for r in $(seq "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then order="true false"; else order="false true"; fi
  for mode in $order; do
    rps=$(run $mode)
    echo "round $r $setting=$mode: $rps req/s"
    if [ "$mode" = true ]; then on+=("$rps"); else off+=("$rps"); fi
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m_on=$(median "${on[@]}"); m_off=$(median "${off[@]}")
echo "median on:  $m_on req/s"
echo "median off: $m_off req/s"
awk -v a="$m_on" -v b="$m_off" 'BEGIN {printf "on vs off: %+.2f %%\n", 100 * (a - b) / b}'
