#!/usr/bin/env bash
# Webhook deliveries per second, signed and durable, against POST
# /api/flags/set in the same run (issue 12: aim at least half its rate).
# Every delivery is a distinct checkout.session.completed event, signed with
# Stripe's v1 scheme: the node verifies it, applies it (the invoice it names
# is already paid: no further change) and stores the event as processed
# (insert + stream append, one commit) before its 200.
# Loopback only, bounded in time.
# usage: bench/payments/webhook_rate.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
secs=${2:-5}
conns=${3:-32}
key=bench-dashboard-key-0123456789
secret=whsec_bench_secret
port=18094
work=$(mktemp -d)
node_pid=
cleanup() {
  [[ -n $node_pid ]] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && DASHBOARD_KEY=$key STRIPE_WEBHOOK_SECRET=$secret exec "$build/echopilot" serve --port $port \
  --data-dir "$work/data" >/dev/null 2>&1) &
node_pid=$!
for _ in $(seq 200); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.05
done
api() { curl -fs -H "X-Dash-Key: $key" -H 'Content-Type: application/json' "$@"; }
api -d '{"key":"bench.toggle","value":false}' "http://127.0.0.1:$port/api/flags/set" >/dev/null
invoice=$(api -d '{"amount": 10, "email": "bench@example.com"}' "http://127.0.0.1:$port/api/payments/create-invoice" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["invoice"]["id"])')

# Enough distinct events for the run (up to 40000/s), signed now (300 s tolerance).
python3 - "$work/events.tsv" "$secret" "$invoice" $((secs * 40000 + 10000)) <<'PY'
import hashlib, hmac, json, sys, time
path, secret, invoice, n = sys.argv[1], sys.argv[2].encode(), sys.argv[3], int(sys.argv[4])
t = str(int(time.time()))
with open(path, "w") as f:
    for i in range(n):
        body = json.dumps({"id": "evt_bench_%08d" % i, "object": "event", "type": "checkout.session.completed",
                           "data": {"object": {"id": "cs_bench", "object": "checkout.session", "payment_status": "paid",
                                               "status": "complete", "payment_intent": "pi_bench",
                                               "metadata": {"invoice_id": invoice}}}}, separators=(",", ":"))
        v1 = hmac.new(secret, (t + "." + body).encode(), hashlib.sha256).hexdigest()
        f.write("t=%s,v1=%s\t%s\n" % (t, v1, body))
PY

echo "== wrk -t1 -c$conns -d${secs}s --latency"
echo "-- POST /api/flags/set"
KEY=$key wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$root/bench/http/flags_set.lua" \
  "http://127.0.0.1:$port/api/flags/set" | grep -E "Requests/sec|50%|99%|Non-2xx"
echo "-- POST /api/payments/webhook (signed, distinct events)"
EVENTS=$work/events.tsv THREADS=1 wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$root/bench/payments/webhook.lua" \
  "http://127.0.0.1:$port/api/payments/webhook" | grep -E "Requests/sec|50%|99%|Non-2xx"
stored=$(api "http://127.0.0.1:$port/api/payments/webhooks?limit=1" >/dev/null && \
  curl -fs -H "X-Dash-Key: $key" "http://127.0.0.1:$port/metrics" | grep 'echopilot_store_records{table="pay_webhook_events"}' || true)
echo "-- stored: ${stored:-unknown}"
