#!/usr/bin/env python3
"""The fake Stripe's customer side (tests/fakes/fake_stripe.py), which the
payments and portal tests rely on: the pay page, paying (session complete,
a payment_intent carrying payment_intent_data[metadata], a
checkout.session.completed event signed as Stripe signs, 303 to success_url),
expiring, a failed attempt, charge.refunded after a refund, the webhook target
and the subscribed events set at run time, and the refusals (unknown, expired
session; wrong key)."""
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import sys
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "..", "fakes", "fake_stripe.py")
KEY = "sk_test_51FakeStripeSelfTest000000"
SECRET = "whsec_test_secret"


class Receiver(http.server.BaseHTTPRequestHandler):
    received = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def call(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class FakeStripeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=cls.receiver.serve_forever, daemon=True).start()
        cls.proc = subprocess.Popen([sys.executable, FAKE, "--port", "0", "--key", KEY],
                                    stdout=subprocess.PIPE, text=True)
        line = cls.proc.stdout.readline()
        assert line.startswith("listening on "), line
        cls.root = "http://127.0.0.1:" + line.split()[-1]
        target = "http://127.0.0.1:%d/api/payments/webhook" % cls.receiver.server_address[1]
        status, _, _ = call("POST", cls.root + "/_fake/config",
                            json.dumps({"webhook_url": target, "webhook_secret": SECRET}).encode())
        assert status == 200

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait()
        cls.receiver.shutdown()

    def setUp(self):
        call("POST", self.root + "/_fake/config",
             json.dumps({"events": ["checkout.session.completed", "checkout.session.expired"]}).encode())

    def session(self, job):
        form = urllib.parse.urlencode({
            "payment_intent_data[metadata][job_id]": job,
            "mode": "payment", "success_url": "http://127.0.0.1:9/portal?s={CHECKOUT_SESSION_ID}",
            "metadata[job_id]": job, "line_items[0][quantity]": "2",
            "line_items[0][price_data][currency]": "usd", "line_items[0][price_data][unit_amount]": "1250",
            "line_items[0][price_data][product_data][name]": "Job"}).encode()
        status, _, body = call("POST", self.root + "/v1/checkout/sessions", form,
                               {"Authorization": "Bearer " + KEY, "Idempotency-Key": "t-" + job})
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def event(self, kind, object_id=None):
        for headers, body in Receiver.received:
            event = json.loads(body)
            if event["type"] == kind and object_id in (None, event["data"]["object"]["id"]):
                return headers, body
        self.fail("no %s event arrived" % kind)

    def test_subscribed_events_intent_and_refund(self):
        call("POST", self.root + "/_fake/config", json.dumps({"events": [
            "payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"]}).encode())
        s = self.session("j0102")
        status, _, body = call("POST", self.root + "/_fake/fail/" + s["id"])
        self.assertEqual(status, 200)
        failed = json.loads(body)
        event = json.loads(self.event("payment_intent.payment_failed", failed["id"])[1])
        self.assertEqual(event["data"]["object"]["metadata"], {"job_id": "j0102"})
        self.assertEqual(call("POST", s["url"])[0], 303)
        _, _, body = call("GET", self.root + "/v1/checkout/sessions/" + s["id"], None,
                          {"Authorization": "Bearer " + KEY})
        pi = json.loads(body)["payment_intent"]
        event = json.loads(self.event("payment_intent.succeeded", pi)[1])
        self.assertEqual(event["data"]["object"]["metadata"], {"job_id": "j0102"})
        self.assertEqual(event["data"]["object"]["amount_received"], 2500)
        status, _, _ = call("POST", self.root + "/v1/refunds",
                            urllib.parse.urlencode({"payment_intent": pi, "amount": "500"}).encode(),
                            {"Authorization": "Bearer " + KEY, "Idempotency-Key": "t-refund-j0102"})
        self.assertEqual(status, 200)
        charge = json.loads(self.event("charge.refunded")[1])["data"]["object"]
        self.assertEqual(charge["payment_intent"], pi)
        self.assertEqual(charge["amount_refunded"], 500)
        self.assertFalse(charge["refunded"])
        # Not subscribed: no checkout.session.completed for this session.
        self.assertFalse(any(json.loads(b)["type"] == "checkout.session.completed"
                             and json.loads(b)["data"]["object"]["id"] == s["id"] for _, b in Receiver.received))

    def test_pay_sends_a_signed_completed_event_and_redirects(self):
        s = self.session("j0100")
        self.assertEqual(s["amount_total"], 2500)
        status, headers, page = call("GET", s["url"])
        self.assertEqual(status, 200)
        self.assertIn(b'<button id="pay"', page)
        self.assertNotIn(b"http", page.split(b"<body>")[1])  # no external assets
        status, headers, _ = call("POST", s["url"])
        self.assertEqual(status, 303)
        self.assertEqual(headers["Location"], "http://127.0.0.1:9/portal?s=" + s["id"])
        hdrs, body = self.event("checkout.session.completed", s["id"])
        event = json.loads(body)
        self.assertEqual(event["data"]["object"]["id"], s["id"])
        self.assertEqual(event["data"]["object"]["metadata"], {"job_id": "j0100"})
        self.assertEqual(event["data"]["object"]["payment_status"], "paid")
        self.assertFalse(any(json.loads(b)["type"] == "payment_intent.succeeded" for _, b in Receiver.received))
        self.assertTrue(event["data"]["object"]["payment_intent"].startswith("pi_"))
        parts = dict(p.split("=", 1) for p in hdrs["Stripe-Signature"].split(","))
        expected = hmac.new(SECRET.encode(), (parts["t"] + ".").encode() + body, hashlib.sha256).hexdigest()
        self.assertEqual(parts["v1"], expected)
        _, _, deliveries = call("GET", self.root + "/_fake/webhooks")
        self.assertIn({"event": event["id"], "type": "checkout.session.completed", "status": 200, "error": None},
                      json.loads(deliveries))
        # Paying twice changes nothing and sends nothing more.
        count = len(Receiver.received)
        self.assertEqual(call("GET", s["url"] + "?action=pay")[0], 303)
        self.assertEqual(len(Receiver.received), count)

    def test_expire_sends_expired_and_refuses_payment(self):
        s = self.session("j0101")
        self.assertEqual(call("POST", self.root + "/_fake/expire/" + s["id"])[0], 200)
        event = json.loads(self.event("checkout.session.expired", s["id"])[1])
        self.assertEqual(event["data"]["object"]["id"], s["id"])
        self.assertEqual(call("POST", s["url"])[0], 410)
        self.assertEqual(call("POST", self.root + "/_fake/expire/" + s["id"])[0], 409)
        self.assertEqual(call("GET", self.root + "/pay/cs_test_unknown")[0], 404)

    def test_a_wrong_key_gets_stripes_401(self):
        status, _, body = call("GET", self.root + "/v1/checkout/sessions", None,
                               {"Authorization": "Bearer sk_test_51NotTheKeyAtAll0000"})
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body)["error"]["type"], "invalid_request_error")


if __name__ == "__main__":
    unittest.main()
