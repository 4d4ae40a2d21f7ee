#!/usr/bin/env bash
# Two builds of the node side by side on loopback (A: this tree's, B: another
# checkout's, e.g. one made with `git archive <commit> | tar -x`), wrk against
# each in turn so that both see the same machine: GET /api/flags/get with the
# key (req/s, p50, p99, and the node's CPU per request from /proc), then
# POST /api/flags/set. Every load is bounded in time.
# usage: bench/http/ab.sh A_ROOT A_BUILD B_ROOT B_BUILD [ROUNDS] [SECONDS]
set -euo pipefail
a_root=$1 a_build=$2 b_root=$3 b_build=$4 rounds=${5:-6} secs=${6:-5}
key=bench-dashboard-key-0123456789
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
da=$(mktemp -d) db=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait; rm -rf "$da" "$db"' EXIT
(cd "$a_root" && DASHBOARD_KEY=$key exec "$a_build/echopilot" serve --port 18201 --data-dir "$da" >/dev/null 2>&1) &
pa=$!
(cd "$b_root" && DASHBOARD_KEY=$key exec "$b_build/echopilot" serve --port 18202 --data-dir "$db" >/dev/null 2>&1) &
pb=$!
for port in 18201 18202; do
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs -H "X-Dash-Key: $key" -H 'Content-Type: application/json' \
    -d '{"key":"bench.toggle","value":false}' "http://127.0.0.1:$port/api/flags/set" >/dev/null
done
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # name pid port wrk-args...
  local name=$1 pid=$2 port=$3; shift 3
  local c0 c1 out n
  c0=$(cpu "$pid")
  out=$(wrk -t1 -c32 -d"${secs}s" --latency "$@" "http://127.0.0.1:$port${path}")
  c1=$(cpu "$pid")
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  printf '%s %s req/s %s p50 %s p99 %s cpu_us_per_req %s load %s\n' "$what" "$name" \
    "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" "$(echo "$out" | awk '$1 == "50%" {print $2}')" \
    "$(echo "$out" | awk '$1 == "99%" {print $2}')" \
    "$(awk -v a="$c0" -v b="$c1" -v n="$n" -v t="$tck" 'BEGIN {printf "%.1f", (b - a) / t * 1e6 / n}')" \
    "$(cut -d' ' -f1 /proc/loadavg)"
}
what=get path=/api/flags/get
for _ in $(seq "$rounds"); do
  run A $pa 18201 -H "X-Dash-Key: $key"
  run B $pb 18202 -H "X-Dash-Key: $key"
done
what=set path=""
for _ in $(seq $(( (rounds + 1) / 2 ))); do
  KEY=$key run A $pa 18201 -s "$here/flags_set.lua"
  KEY=$key run B $pb 18202 -s "$here/flags_set.lua"
done
