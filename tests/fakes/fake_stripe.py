#!/usr/bin/env python3
"""A fake Stripe API for tests, on loopback, shaped like Stripe's API reference.

Stripe's side (Authorization: Bearer --key, form-encoded bodies with nested
keys such as metadata[job_id] and line_items[0][price_data][unit_amount]):
  POST /v1/checkout/sessions        a checkout.session (status open, unpaid,
                                    url = this fake's /pay/{id})
  GET  /v1/checkout/sessions/{id}
  GET  /v1/checkout/sessions        list: created[gte|gt|lte|lt], status,
                                    limit, starting_after; newest first
  POST /v1/refunds                  payment_intent, amount (default: what is left)
  GET  /v1/refunds?payment_intent=
  GET  /v1/payment_intents/{id}
Every answer carries Request-Id; errors are {"error": {"type", "code",
"message", "param"}} with Stripe's statuses. An Idempotency-Key seen again
with the same parameters answers the stored response with
Idempotent-Replayed: true; with other parameters, 400 idempotency_error.

The customer's side:
  GET  /pay/{id}                    a small page with a Pay button
  POST /pay/{id} (or GET ?action=pay) pays: session complete/paid with a new
                                    payment_intent, a signed
                                    checkout.session.completed event to the
                                    webhook target, then 303 to success_url
The payment_intent's metadata is payment_intent_data[metadata] of the session
(Stripe does not copy the session's own metadata to it).
Events sent (signed `t=...,v1=HMAC-SHA256(secret, "t.body")`): by default
checkout.session.completed and checkout.session.expired; /_fake/config
"events" chooses among those and payment_intent.succeeded (on pay),
payment_intent.payment_failed (/_fake/fail) and charge.refunded (on refund).

Control (for tests):
  GET  /_fake/requests              every request {method, path, query,
                                    headers, form} (form: decoded pairs)
  POST /_fake/script                {"path", "method"?, "count", "status",
                                    "body", "headers"}: the next `count`
                                    requests to `path` answer that instead
  POST /_fake/config                {"webhook_url", "webhook_secret", "now", "events"}
  POST /_fake/expire/{id}           expires an open session (and sends
                                    checkout.session.expired)
  POST /_fake/fail/{id}             a failed payment attempt on an open session
                                    (payment_intent.payment_failed)
  GET  /_fake/webhooks              every delivery {event, type, status, error}
Prints "listening on PORT" once it accepts connections.
"""
import argparse
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"key": "", "port": 0, "webhook_url": "", "webhook_secret": "", "now": None,
         "requests": [], "script": [], "idempotency": {}, "sessions": {}, "order": [],
         "intents": {}, "refunds": [], "webhooks": [], "pi_metadata": {}, "outbox": [],
         "events": {"checkout.session.completed", "checkout.session.expired"}}


def now():
    return STATE["now"] if STATE["now"] is not None else int(time.time())


def new_id(prefix):
    return prefix + secrets.token_hex(12)


class StripeError(Exception):
    def __init__(self, status, message, type_="invalid_request_error", code=None, param=None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message}}
        if code:
            self.body["error"]["code"] = code
        if param:
            self.body["error"]["param"] = param


def nested(pairs):
    """Stripe's nested form keys as objects; numeric keys become lists."""
    root = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StripeError(400, "Invalid nesting for key %s" % key, param=key)
        node[parts[-1]] = value

    def lists(node):
        if not isinstance(node, dict):
            return node
        if node and all(k.isdigit() for k in node):
            return [lists(node[k]) for k in sorted(node, key=int)]
        return {k: lists(v) for k, v in node.items()}
    return lists(root)


def integer(params, name, required=True):
    value = params.get(name)
    if value is None:
        if required:
            raise StripeError(400, "Missing required param: %s." % name, param=name)
        return None
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise StripeError(400, "Invalid integer: %s" % value, param=name)
    return int(value)


def create_session(p):
    if p.get("mode") != "payment":
        raise StripeError(400, "Missing required param: mode." if "mode" not in p
                          else "Invalid mode: only payment is faked", param="mode")
    if not p.get("success_url"):
        raise StripeError(400, "Missing required param: success_url.", param="success_url")
    items = p.get("line_items")
    if not isinstance(items, list) or not items:
        raise StripeError(400, "Missing required param: line_items.", param="line_items")
    total, currency = 0, None
    for i, item in enumerate(items):
        where = "line_items[%d]" % i
        data = item.get("price_data") if isinstance(item, dict) else None
        if not isinstance(data, dict):
            raise StripeError(400, "Missing required param: %s[price_data]." % where, param=where + "[price_data]")
        unit = integer(data, "unit_amount")
        qty = integer(item, "quantity")
        if unit < 0 or qty < 1:
            raise StripeError(400, "Invalid amount or quantity", param=where)
        cur = data.get("currency")
        if not cur:
            raise StripeError(400, "Missing required param: %s[price_data][currency]." % where,
                              param=where + "[price_data][currency]")
        if not isinstance(data.get("product_data"), dict) or not data["product_data"].get("name"):
            raise StripeError(400, "Missing required param: %s[price_data][product_data][name]." % where,
                              param=where + "[price_data][product_data][name]")
        currency = cur.lower()
        total += unit * qty
    if total < 50:
        raise StripeError(400, "The Checkout Session's total amount due must add up to at least $0.50 %s"
                          % currency, param="line_items")
    sid = "cs_test_" + secrets.token_hex(16)
    session = {"id": sid, "object": "checkout.session", "amount_subtotal": total, "amount_total": total,
               "currency": currency, "created": now(), "expires_at": now() + 86400, "livemode": False,
               "metadata": p.get("metadata") or {}, "mode": "payment", "payment_intent": None,
               "payment_status": "unpaid", "status": "open", "success_url": p["success_url"],
               "cancel_url": p.get("cancel_url"), "customer_email": p.get("customer_email"),
               "client_reference_id": p.get("client_reference_id"),
               "url": "http://127.0.0.1:%d/pay/%s" % (STATE["port"], sid)}
    STATE["sessions"][sid] = session
    pi_data = p.get("payment_intent_data") if isinstance(p.get("payment_intent_data"), dict) else {}
    STATE["pi_metadata"][sid] = pi_data.get("metadata") or {}
    STATE["order"].append(sid)
    return session


def list_sessions(p):
    limit = integer(p, "limit", required=False) or 10
    if not 1 <= limit <= 100:
        raise StripeError(400, "Invalid limit: must be between 1 and 100", param="limit")
    rows = [STATE["sessions"][s] for s in reversed(STATE["order"])]
    created = p.get("created") if isinstance(p.get("created"), dict) else {}
    tests = {"gte": lambda a, b: a >= b, "gt": lambda a, b: a > b, "lte": lambda a, b: a <= b,
             "lt": lambda a, b: a < b}
    for op, bound in created.items():
        if op not in tests:
            raise StripeError(400, "Invalid created filter: %s" % op, param="created[%s]" % op)
        b = integer(created, op)
        rows = [r for r in rows if tests[op](r["created"], b)]
    if p.get("status"):
        rows = [r for r in rows if r["status"] == p["status"]]
    after = p.get("starting_after")
    if after:
        ids = [r["id"] for r in rows]
        if after not in STATE["sessions"]:
            raise StripeError(400, "No such checkout.session: '%s'" % after, code="resource_missing",
                              param="starting_after")
        rows = rows[ids.index(after) + 1:] if after in ids else []
    return {"object": "list", "url": "/v1/checkout/sessions", "data": rows[:limit], "has_more": len(rows) > limit}


def refunded(pi):
    return sum(r["amount"] for r in STATE["refunds"] if r["payment_intent"] == pi)


def create_refund(p):
    pi = p.get("payment_intent")
    if not pi:
        raise StripeError(400, "Missing required param: payment_intent.", param="payment_intent")
    intent = STATE["intents"].get(pi)
    if intent is None:
        raise StripeError(400, "No such payment_intent: '%s'" % pi, code="resource_missing", param="payment_intent")
    left = intent["amount_received"] - refunded(pi)
    if left <= 0:
        raise StripeError(400, "Charge %s has already been refunded." % intent["latest_charge"],
                          code="charge_already_refunded")
    amount = integer(p, "amount", required=False)
    if amount is None:
        amount = left
    if amount <= 0:
        raise StripeError(400, "Invalid positive integer", param="amount")
    if amount > left:
        raise StripeError(400, "Refund amount (%d) is greater than unrefunded amount on charge (%d)"
                          % (amount, left), code="amount_too_large", param="amount")
    refund = {"id": new_id("re_"), "object": "refund", "amount": amount, "currency": intent["currency"],
              "payment_intent": pi, "charge": intent["latest_charge"], "status": "succeeded",
              "created": now(), "reason": p.get("reason"), "metadata": p.get("metadata") or {}}
    STATE["refunds"].append(refund)
    queue_event("charge.refunded", {
        "id": intent["latest_charge"], "object": "charge", "amount": intent["amount_received"],
        "amount_refunded": refunded(pi), "currency": intent["currency"], "payment_intent": pi,
        "refunded": refunded(pi) >= intent["amount_received"], "metadata": intent["metadata"]})
    return refund


def stripe_api(method, path, params):
    """Stripe's routes: (status, body) or StripeError."""
    m = re.fullmatch(r"/v1/checkout/sessions/([A-Za-z0-9_]+)", path)
    if method == "POST" and path == "/v1/checkout/sessions":
        return 200, create_session(params)
    if method == "GET" and path == "/v1/checkout/sessions":
        return 200, list_sessions(params)
    if method == "GET" and m:
        session = STATE["sessions"].get(m.group(1))
        if session is None:
            raise StripeError(404, "No such checkout.session: '%s'" % m.group(1), code="resource_missing",
                              param="session")
        return 200, session
    if method == "POST" and path == "/v1/refunds":
        return 200, create_refund(params)
    if method == "GET" and path == "/v1/refunds":
        rows = [r for r in reversed(STATE["refunds"])
                if not params.get("payment_intent") or r["payment_intent"] == params["payment_intent"]]
        return 200, {"object": "list", "url": "/v1/refunds", "data": rows[:100], "has_more": len(rows) > 100}
    m = re.fullmatch(r"/v1/payment_intents/([A-Za-z0-9_]+)", path)
    if method == "GET" and m:
        intent = STATE["intents"].get(m.group(1))
        if intent is None:
            raise StripeError(404, "No such payment_intent: '%s'" % m.group(1), code="resource_missing",
                              param="intent")
        return 200, intent
    raise StripeError(404, "Unrecognized request URL (%s: %s)." % (method, path))


def queue_event(kind, obj):
    """Queues a signed event for the webhook target (under LOCK), if it is subscribed."""
    if not STATE["webhook_url"] or kind not in STATE["events"]:
        return
    event = {"id": new_id("evt_"), "object": "event", "api_version": "2024-06-20", "created": now(),
             "livemode": False, "pending_webhooks": 1, "type": kind,
             "request": {"id": None, "idempotency_key": None}, "data": {"object": json.loads(json.dumps(obj))}}
    body = json.dumps(event, separators=(",", ":"))
    t = str(now())
    v1 = hmac.new(STATE["webhook_secret"].encode(), (t + "." + body).encode(), hashlib.sha256).hexdigest()
    STATE["outbox"].append((STATE["webhook_url"], event, body.encode(), "t=%s,v1=%s" % (t, v1)))


def deliver():
    """Sends the queued events, outside LOCK, in order; records each outcome."""
    with LOCK:
        queued, STATE["outbox"] = STATE["outbox"], []
    for url, event, body, signature in queued:
        row = {"event": event["id"], "type": event["type"], "status": 0, "error": None}
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
        try:
            with urllib.request.urlopen(req, timeout=10) as answer:
                row["status"] = answer.status
        except urllib.error.HTTPError as e:
            row["status"] = e.code
        except OSError as e:
            row["error"] = str(e)
        with LOCK:
            STATE["webhooks"].append(row)


def new_intent(session, status):
    pi = new_id("pi_")
    paid = session["amount_total"] if status == "succeeded" else 0
    intent = {"id": pi, "object": "payment_intent", "amount": session["amount_total"], "amount_received": paid,
              "currency": session["currency"], "status": status, "created": now(),
              "latest_charge": new_id("ch_"), "metadata": STATE["pi_metadata"].get(session["id"], {}),
              "livemode": False}
    STATE["intents"][pi] = intent
    return intent


def pay(sid):
    """Completes a session (under LOCK): (status, session or message)."""
    session = STATE["sessions"].get(sid)
    if session is None:
        return 404, "no such checkout session"
    if session["status"] == "complete":
        return 200, session
    if session["status"] != "open":
        return 410, "this checkout session has expired"
    intent = new_intent(session, "succeeded")
    session.update(status="complete", payment_status="paid", payment_intent=intent["id"])
    queue_event("checkout.session.completed", session)
    queue_event("payment_intent.succeeded", intent)
    return 200, session


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Fake Stripe Checkout</title></head>
<body><h1>Fake Stripe Checkout</h1><p id="amount">%s %s</p><p id="status">%s</p>
<form method="post" action="/pay/%s"><button id="pay" type="submit">Pay</button></form></body></html>"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=(), content_type="application/json"):
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith("/_fake/"):
            return self.control(method, url.path, raw)
        if url.path.startswith("/pay/"):
            return self.checkout_page(method, url.path[5:], urllib.parse.parse_qs(url.query))
        pairs = urllib.parse.parse_qsl(url.query if method == "GET" else raw.decode("utf-8", "replace"),
                                       keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        with LOCK:
            STATE["requests"].append({"method": method, "path": url.path, "query": url.query,
                                      "headers": headers, "form": pairs})
            status, body, extra = self.answer(method, url.path, pairs, headers)
        # Events go out before the answer, so a test sees their effect when the call returns (Stripe's
        # may come before or after; a node must take either order).
        deliver()
        extra = [("Request-Id", "req_" + secrets.token_hex(7))] + extra
        self.send(status, body, extra)

    def answer(self, method, path, pairs, headers):
        for entry in STATE["script"]:
            if entry["count"] > 0 and entry["path"] == path and entry.get("method", method) == method:
                entry["count"] -= 1
                return entry["status"], entry.get("body", {}), list(entry.get("headers", {}).items())
        auth = headers.get("authorization", "")
        if auth != "Bearer " + STATE["key"]:
            given = auth[7:] if auth.startswith("Bearer ") else ""
            shown = (given[:8] + "*" * max(0, len(given) - 12) + given[-4:]) if given else ""
            message = ("Invalid API Key provided: " + shown) if given else (
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
            return 401, {"error": {"type": "invalid_request_error", "message": message}}, []
        key = headers.get("idempotency-key")
        fingerprint = [method, path, sorted(pairs)]
        if method == "POST" and key:
            stored = STATE["idempotency"].get(key)
            if stored is not None:
                if stored["fingerprint"] != fingerprint:
                    return 400, {"error": {"type": "idempotency_error", "message": (
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        "used with. Try using a key other than '%s' if you meant to execute a different request."
                        % key)}}, []
                return stored["status"], stored["body"], [("Idempotent-Replayed", "true"),
                                                          ("Idempotency-Key", key)]
        try:
            status, body = stripe_api(method, path, nested(pairs))
        except StripeError as e:
            status, body = e.status, e.body
        body = json.loads(json.dumps(body))  # a snapshot: later changes do not alter a stored answer
        if method == "POST" and key:
            STATE["idempotency"][key] = {"fingerprint": fingerprint, "status": status, "body": body}
            return status, body, [("Idempotency-Key", key)]
        return status, body, []

    def checkout_page(self, method, rest, query):
        sid = rest.split("?")[0]
        if method == "GET" and query.get("action") != ["pay"]:
            with LOCK:
                session = STATE["sessions"].get(sid)
                page = None if session is None else PAGE % (
                    session["amount_total"], session["currency"], session["status"], sid)
            if page is None:
                return self.send(404, "no such checkout session", content_type="text/plain")
            return self.send(200, page, [("Content-Security-Policy", "default-src 'none'")],
                             content_type="text/html; charset=utf-8")
        with LOCK:
            status, session = pay(sid)
        if status != 200:
            return self.send(status, session, content_type="text/plain")
        deliver()
        target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", sid)
        self.send(303, "", [("Location", target)], content_type="text/plain")

    def control(self, method, path, raw):
        try:
            doc = json.loads(raw or b"{}")
        except ValueError:
            return self.send(400, {"error": "body is not JSON"})
        with LOCK:
            if method == "GET" and path == "/_fake/requests":
                return self.send(200, STATE["requests"])
            if method == "GET" and path == "/_fake/webhooks":
                return self.send(200, STATE["webhooks"])
            if method == "POST" and path == "/_fake/script":
                entries = doc if isinstance(doc, list) else [doc]
                for e in entries:
                    if not isinstance(e, dict) or not isinstance(e.get("path"), str) or \
                            not isinstance(e.get("status"), int):
                        return self.send(400, {"error": "each entry needs path and status"})
                    e.setdefault("count", 1)
                STATE["script"].extend(entries)
                return self.send(200, {"ok": True})
            if method == "POST" and path == "/_fake/config":
                for name in ("webhook_url", "webhook_secret", "now"):
                    if name in doc:
                        STATE[name] = doc[name]
                if "events" in doc:
                    STATE["events"] = set(doc["events"])
                return self.send(200, {"ok": True})
            m = re.fullmatch(r"/_fake/(expire|fail)/([A-Za-z0-9_]+)", path)
            if method != "POST" or not m:
                return self.send(404, {"error": "unknown control path"})
            session = STATE["sessions"].get(m.group(2))
            if session is None or session["status"] != "open":
                return self.send(409, {"error": "no open session with that id"})
            if m.group(1) == "expire":
                session["status"] = "expired"
                queue_event("checkout.session.expired", session)
                answer = dict(session)
            else:
                intent = new_intent(session, "requires_payment_method")
                intent["last_payment_error"] = {"type": "card_error", "code": "card_declined",
                                                "message": "Your card was declined."}
                queue_event("payment_intent.payment_failed", intent)
                answer = dict(intent)
        deliver()
        return self.send(200, answer)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", required=True, help="the secret key the fake accepts")
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--webhook-secret", default="")
    args = parser.parse_args()
    ThreadingHTTPServer.request_queue_size = 1024  # many connections at once (socketserver's default is 5)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    STATE.update(key=args.key, port=server.server_address[1], webhook_url=args.webhook_url,
                 webhook_secret=args.webhook_secret)
    print("listening on %d" % STATE["port"], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
