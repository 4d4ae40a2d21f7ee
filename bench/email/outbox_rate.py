#!/usr/bin/python3
"""email (issue 16): the outbox's throughput and memory.

1. rate: a node and a real aiosmtpd (Mailbox handler, a maildir in a temp
   dir) on loopback; N messages are POSTed to /api/email/send (4 keep-alive
   connections); the figure is messages per second from the first POST until
   the outbox counts all N sent (every one stored queued, marked sending, sent
   to aiosmtpd and marked sent: three commits and one SMTP transaction each),
   and the maildir is checked to hold exactly N messages.
2. memory: a node whose SMTP server is down (nothing listens on SMTP_PORT,
   retry_base_seconds = 86400, so each message fails once and waits a day);
   M messages are queued; the node's VmRSS is read before and after.

Loopback only; bounded (every wait has a deadline). Stops what it started
by PID.
usage: [EMAIL_IN_FLIGHT=4] /usr/bin/python3 bench/email/outbox_rate.py [BUILD_DIR] [N] [M]
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
M = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
KEY = "bench-dashboard-key-0123456789"
# aiosmtpd.handlers.Mailbox (default: every message parsed and written to the
# maildir, which is then counted) or aiosmtpd.handlers.Sink (discarded: the
# server's own cost out of the way).
HANDLER = os.environ.get("EMAIL_HANDLER", "aiosmtpd.handlers.Mailbox")
IN_FLIGHT = int(os.environ.get("EMAIL_IN_FLIGHT", "4"))  # email.max_in_flight of the rate run


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, limit=20):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nothing listens on %d" % port)


def rss_kib(pid, field="VmRSS"):
    """VmRSS, or RssAnon (the process's own heap) or RssFile (LMDB's mapped
    pages, shared with the page cache), in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def start_node(work, smtp_port, email_cfg):
    cfg = os.path.join(work, "echopilot.json")
    with open(cfg, "w") as f:
        json.dump({"flags": {"defaults": ""}, "email": email_cfg}, f)
    port = free_port()
    env = dict(os.environ, DASHBOARD_KEY=KEY, SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port), SMTP_TLS="none",
               SMTP_FROM="bench@echopilot.test")
    p = subprocess.Popen([os.path.join(BUILD, "echopilot"), "serve", "--config", cfg, "--port", str(port),
                          "--data-dir", os.path.join(work, "data")], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p, port


def post_all(port, count, threads=4):
    body_of = lambda i: json.dumps({"to": "bench%d@example.com" % i, "subject": "Bench %d" % i,
                                    "text": "Hello from the outbox bench, message %d.\n" % i,
                                    "html": "<p>Hello from the outbox bench, message <b>%d</b>.</p>" % i})
    errors = []

    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(k, count, threads):
            c.request("POST", "/api/email/send", body_of(i),
                      {"X-Dash-Key": KEY, "Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            if r.status != 201:
                errors.append((r.status, data[:200]))
        c.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise SystemExit("send refused: %r" % errors[:3])


def counts(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/api/email/outbox?limit=1", headers={"X-Dash-Key": KEY})
    out = json.loads(c.getresponse().read())["data"]["counts"]
    c.close()
    return out


def stop(p):
    if p and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def rate():
    work = tempfile.mkdtemp()
    smtpd = node = None
    try:
        maildir = os.path.join(work, "Maildir")
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(maildir, sub))
        sport = free_port()
        smtpd = subprocess.Popen(["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:%d" % sport, "-c",
                                  HANDLER] + ([maildir] if HANDLER.endswith("Mailbox") else []),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(sport)
        node, port = start_node(work, sport, {"max_in_flight": IN_FLIGHT})
        t0 = time.time()
        post_all(port, N)
        t_in = time.time() - t0
        deadline = time.time() + 600
        while time.time() < deadline:
            c = counts(port)
            if c["sent"] + c["failed"] >= N:
                break
            time.sleep(0.25)  # the counts cost the node a scan of the status index
        t_all = time.time() - t0
        c = counts(port)
        files = len(os.listdir(os.path.join(maildir, "new")))
        print("rate (%s, email.max_in_flight %d): %d messages, intake %.0f/s (%.1f s), all sent after %.1f s: %.0f messages/s; "
              "sent %d, failed %d, maildir holds %d" % (HANDLER, IN_FLIGHT, N, N / t_in, t_in, t_all, N / t_all, c["sent"], c["failed"],
                                                        files))
        print("node RSS after: %d KiB; CPU seconds: node %.1f, aiosmtpd %.1f; load average %s"
              % (rss_kib(node.pid), cpu_s(node.pid), cpu_s(smtpd.pid), open("/proc/loadavg").read().split()[0]))
    finally:
        stop(node)
        if smtpd:
            smtpd.kill()
            smtpd.wait()
        shutil.rmtree(work, ignore_errors=True)


def memory():
    work = tempfile.mkdtemp()
    node = None
    try:
        node, port = start_node(work, free_port(), {"retry_base_seconds": 86400, "retry_max_seconds": 86400})
        time.sleep(1)
        before = rss_kib(node.pid)
        anon_before = rss_kib(node.pid, "RssAnon")
        t0 = time.time()
        post_all(port, M)
        t_in = time.time() - t0
        time.sleep(3)
        c = counts(port)
        after = rss_kib(node.pid)
        anon_after = rss_kib(node.pid, "RssAnon")
        file_after = rss_kib(node.pid, "RssFile")
        size = 0
        for d, _, fs in os.walk(os.path.join(work, "data")):
            size += sum(os.path.getsize(os.path.join(d, f)) for f in fs)
        print("memory: %d queued (counts %s) in %.1f s (%.0f/s); node RSS %d KiB before, %d KiB after "
              "(+%d KiB); of it RssAnon %d KiB before, %d KiB after, RssFile (LMDB's map) %d KiB; data dir %.1f MiB"
              % (M, json.dumps(c), t_in, M / t_in, before, after, after - before, anon_before, anon_after, file_after,
                 size / 1048576))
    finally:
        stop(node)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if N > 0:
        rate()
    if M > 0:
        memory()
