#!/usr/bin/env bash
# The gateway's throughput with a boolean setting on and off: the real
# binary on loopback, wrk against GET /api/flags/get with the key, one node
# per mode with SETTING (a dotted config key: slo.record, issue 11;
# guard.enabled, issue 14) true or false, both up at once, the two modes
# alternated within each round (on/off, then off/on, ...) so that drift of a
# shared machine falls on both. Prints every run, the median of each mode,
# and the median of the rounds' own on-vs-off ratios.
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
c["experiments"]["file"] = root + "/configs/experiments.json"
c["web"] = {"root": root + "/web"}
json.dump(c, open(dst, "w"), indent=2)
PY
done

# Both nodes run at once (one per mode, each with its own data dir), so that
# the runs of a round are seconds apart: a shared machine's drift between
# them is small, and each round gives a ratio of its own.
declare -A ports=([true]=$port [false]=$((port + 1)))
node_pids=()
cleanup_nodes() { for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; true; }
trap 'cleanup_nodes; rm -rf "$work"' EXIT
for mode in true false; do
  DASHBOARD_KEY=$key ${NODE_CPUS:+taskset -c "$NODE_CPUS"} "$build/echopilot" serve --config "$work/$mode.json" \
    --port "${ports[$mode]}" --data-dir "$work/data-$mode" >/dev/null 2>&1 &
  node_pids+=($!)
done
for mode in true false; do
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:${ports[$mode]}/readyz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  curl -fs "http://127.0.0.1:${ports[$mode]}/readyz" >/dev/null || { echo "the $setting=$mode node did not start" >&2; exit 1; }
  [ -n "${PREPARE:-}" ] && PORT=${ports[$mode]} KEY=$key bash -c "$PREPARE" >&2
  wrk -t1 -c"$conns" -d2s -H "X-Dash-Key: $key" "http://127.0.0.1:${ports[$mode]}/api/flags/get" >/dev/null # warm-up
done

declare -A pids=([true]=${node_pids[0]} [false]=${node_pids[1]})
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # the node's user + system time

run() { # mode -> "req/s µs-of-node-CPU-per-request"
  local p=${ports[$1]} before after out
  before=$(cpu_ticks "${pids[$1]}")
  out=$(${WRK_CPUS:+taskset -c "$WRK_CPUS"} wrk -t1 -c"$conns" -d"${secs}s" -H "X-Dash-Key: $key" "http://127.0.0.1:$p/api/flags/get")
  after=$(cpu_ticks "${pids[$1]}")
  awk -v t="$ticks" -v cpu=$((after - before)) '
    /requests in/ {n = $1}
    /Requests\/sec/ {rps = $2}
    END {printf "%s %.2f\n", rps, (n > 0 ? 1e6 * cpu / t / n : 0)}' <<<"$out"
  [ "$1" = true ] && [ -n "${CHECK_ON:-}" ] && PORT=$p KEY=$key bash -c "$CHECK_ON" >&2
  true
}

on=(); off=(); ratios=(); cpu_on=(); cpu_off=()
for r in $(seq "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then order="true false"; else order="false true"; fi
  declare -A got=()
  declare -A cpu=()
  for mode in $order; do
    result=$(run $mode)
    rps=${result% *}
    us=${result#* }
    echo "round $r $setting=$mode: $rps req/s, $us µs of the node's CPU per request"
    got[$mode]=$rps
    cpu[$mode]=$us
    if [ "$mode" = true ]; then on+=("$rps"); cpu_on+=("$us"); else off+=("$rps"); cpu_off+=("$us"); fi
  done
  ratios+=("$(awk -v a="${got[true]}" -v b="${got[false]}" 'BEGIN {printf "%.4f", 100 * (a - b) / b}')")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m_on=$(median "${on[@]}"); m_off=$(median "${off[@]}")
echo "median on:  $m_on req/s"
echo "median off: $m_off req/s"
awk -v a="$m_on" -v b="$m_off" 'BEGIN {printf "on vs off (medians): %+.2f %%\n", 100 * (a - b) / b}'
echo "on vs off per round: ${ratios[*]} (%)"
printf 'median of the rounds: %+.2f %%\n' "$(median "${ratios[@]}")"
c_on=$(median "${cpu_on[@]}"); c_off=$(median "${cpu_off[@]}")
echo "node CPU per request (medians): on $c_on µs, off $c_off µs"
awk -v a="$c_on" -v b="$c_off" 'BEGIN {printf "CPU per request, on vs off: %+.2f %%\n", 100 * (a - b) / b}'
