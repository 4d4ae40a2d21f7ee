#!/usr/bin/env bash
# Backups (S23, issue 17): how long a backup takes per GiB of store, and what
# a running backup costs the node's reads and writes. One node on a fresh
# data dir is filled to about SIZE_MB of store (flag sets with a 32 KiB
# value: the stream "flags" keeps every change), then echopilot-bench runs a
# read (GET /api/flags/history?limit=1) and a write (POST /api/flags/set,
# a small value) closed loop for D seconds each, first alone, then while
# backups run back to back (POST /api/backup/run in a loop). Prints the
# store's size, each backup's seconds (from its manifest) and seconds per
# GiB, and the rates with and without a backup and their ratio. Loopback
# only, bounded in time.
# usage: bench/backup/backup_bench.sh [-s SIZE_MB] [-d SECONDS] [BINARY]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
size_mb=1024
secs=10
while getopts "s:d:" o; do
  case $o in
    s) size_mb=$OPTARG ;;
    d) secs=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
bin=${1:-$root/build/echopilot}
hb=${ECHOPILOT_BENCH:-$root/build/bench/harness/echopilot-bench}
key=bench-dashboard-key-0123456789
port=${BENCH_PORT:-18094}
work=$(mktemp -d)
node_pid=
loop_pid=
cleanup() {
  [[ -n $loop_pid ]] && kill "$loop_pid" 2>/dev/null && wait "$loop_pid" 2>/dev/null || true
  [[ -n $node_pid ]] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
url=http://127.0.0.1:$port
DASHBOARD_KEY=$key "$bin" serve --port $port --data-dir "$work/data" --config "$root/configs/echopilot.json" \
  >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 200); do
  curl -fs "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.05
done

python3 -c 'import json; print(json.dumps({"key": "bench.big", "value": "x" * 32768}))' >"$work/big.json"
echo "== filling the store to about ${size_mb} MB (32 KiB flag sets)"
while :; do
  bytes=$(stat -c %s "$work/data/data.mdb")
  ((bytes >= size_mb * 1024 * 1024)) && break
  "$hb" --url "$url/api/flags/set" -m POST -H "X-Dash-Key: $key" -H 'Content-Type: application/json' \
    --body-file "$work/big.json" -c 16 -d 5s >/dev/null
done
echo "data.mdb $(stat -c %s "$work/data/data.mdb") bytes (allocated map; the compacted copy is the store size below)"

rate() { # label method path [body]
  local args=(--url "$url$3" -m "$2" -H "X-Dash-Key: $key" -c 16 -d "${secs}s" --warmup 1s --json "$work/r.json")
  [[ $# -ge 4 ]] && args+=(-H 'Content-Type: application/json' --body "$4")
  "$hb" "${args[@]}" >/dev/null
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["throughput_rps"])' "$work/r.json"
}
read_path='/api/flags/history?limit=1'
write_body='{"key":"bench.small","value":true}'

# Let the fill's queued writes drain: until a flag set answers within 50 ms.
for _ in $(seq 600); do
  t=$(curl -fs -o /dev/null -w '%{time_total}' -X POST -H "X-Dash-Key: $key" -H 'Content-Type: application/json' \
    -d "$write_body" "$url/api/flags/set" || echo 9)
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 0.05 else 1)' "$t" && break
  sleep 0.5
done
sleep 2
echo "== without a backup (${secs}s each, 16 connections)"
r0=$(rate read GET "$read_path")
w0=$(rate write POST /api/flags/set "$write_body")
echo "reads/s $r0  writes/s $w0"

echo "== while backups run back to back"
(while :; do curl -fs -m 3600 -X POST -H "X-Dash-Key: $key" -H 'Content-Type: application/json' -d '{}' \
  "$url/api/backup/run" >>"$work/runs.ndjson"; echo >>"$work/runs.ndjson"; done) &
loop_pid=$!
sleep 0.5
r1=$(rate read GET "$read_path")
w1=$(rate write POST /api/flags/set "$write_body")
kill "$loop_pid" 2>/dev/null; wait "$loop_pid" 2>/dev/null || true
loop_pid=
echo "reads/s $r1  writes/s $w1"
echo "== without a backup again (drift check)"
r2=$(rate read GET "$read_path")
w2=$(rate write POST /api/flags/set "$write_body")
echo "reads/s $r2  writes/s $w2"
python3 - "$r0" "$w0" "$r1" "$w1" "$r2" "$w2" <<'PY'
import sys
a0, b0, r1, w1, a2, b2 = map(float, sys.argv[1:])
r0, w0 = (a0 + a2) / 2, (b0 + b2) / 2  # the mean of the runs before and after
print(f"reads during a backup: {r1 / r0 * 100:.1f} % of without ({(1 - r1 / r0) * 100:+.1f} % drop)")
print(f"writes during a backup: {w1 / w0 * 100:.1f} % of without ({(1 - w1 / w0) * 100:+.1f} % drop)")
PY
echo "== backups made during the measurement (from their manifests)"
curl -fs -H "X-Dash-Key: $key" "$url/api/backup/list" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
for s in d["backups"]:
    gib = s["store_bytes"] / 2**30
    secs = s["duration_ms"] / 1000
    per = secs / gib if gib else 0
    print("%s: store %d bytes (%.3f GiB), archive %d bytes, %.2f s, %.1f s/GiB"
          % (s["file"], s["store_bytes"], gib, s["size"], secs, per))'
