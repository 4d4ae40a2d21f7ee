#!/usr/bin/env python3
"""Jobs end to end: throughput, in-flight capacity and memory per job in flight.

Starts the fake OpenAI-compatible server (tests/fakes/fake_openai.py) and a
node (build/echopilot) pointed at it, submits jobs with echopilot-bench, and
reads every job's created/finished times back from GET /api/jobs.

  bench/jobs/jobs_bench.py throughput [--seconds 10] [--connections 32] [--workers 64] [--nginx]
      zero-latency model; jobs/s from the first submission to the last
      completion, and job latency (created -> finished) percentiles.
      --nginx: the model is nginx answering every chat completion with one
      fixed answer (about 100,000 requests/s here, far above the node),
      instead of the Python fake (about 1,450 jobs/s, which it saturates).
  bench/jobs/jobs_bench.py compare --before PATH [--rounds 3] [--seconds 10] [--nginx]
      throughput of another build (PATH: its echopilot) and of this one in
      alternate rounds on the same machine; the medians and their ratio.
  bench/jobs/jobs_bench.py capacity [--latency-ms 500] [--rates 100,200,400,800] [--workers 512]
      constant submission rates against a slow model; per rate, the jobs in
      flight at the model and the job latency: where latency leaves
      2 x model latency, the node has reached its in-flight capacity.
  bench/jobs/jobs_bench.py memory [--jobs 500]
      node RSS idle vs with N jobs held in flight by a 60 s model.
  bench/jobs/jobs_bench.py lists [--stored 6000] [--seconds 5]
      with N jobs stored, submissions next to GET /api/jobs?status=dead (a
      filter that walks 5,000 records a request): the submissions' rate and
      latency with and without the lists running beside them.
--binary PATH (before the mode) runs another build of echopilot (default
build/echopilot), e.g. one from before a change, with the same driver.
Results are printed as JSON lines. Loopback only.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY = "bench-dashboard-key-0123456789"
BINARY = os.path.join(ROOT, "build/echopilot")


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    for _ in range(100):
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"X-Dash-Key": KEY, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            # 503 (busy or restarting) comes with Retry-After: ask again, as a client would.
            if e.code != 503:
                raise
            time.sleep(min(1.0, float(e.headers.get("Retry-After", "1"))) / 10)
    raise RuntimeError("%s %s: 503 a hundred times" % (method, url))


class Fake:
    def __init__(self, latency_ms):
        self.p = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests/fakes/fake_openai.py"),
                                   "--port", "0", "--latency-ms", str(latency_ms)],
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        self.root = "http://127.0.0.1:" + line.split()[-1]

    def stats(self):
        return http("GET", self.root + "/_stats")

    def close(self):
        self.p.kill()
        self.p.wait()


# One chat completion whose content serves both calls of a job: the result,
# and a QA answer whose score (96) passes every task type's threshold.
FIXED_COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "gpt-4o",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": json.dumps({"score": 96, "reason": "clear"})}}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}})


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Nginx:
    """nginx (Debian's nginx-light) answering every POST /v1/chat/completions
    with FIXED_COMPLETION: a model far faster than the node."""

    def __init__(self):
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(exe):
            raise SystemExit("--nginx needs nginx: apt-get install nginx-light")
        self.dir = tempfile.mkdtemp(prefix="ep-nginx-")
        port = free_port()
        body = FIXED_COMPLETION.replace("\\", "\\\\").replace("'", "\\'")
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path %(d)s/body; proxy_temp_path %(d)s/proxy; fastcgi_temp_path %(d)s/fcgi;
  uwsgi_temp_path %(d)s/uwsgi; scgi_temp_path %(d)s/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:%(port)d;
    location = /v1/chat/completions { default_type application/json; return 200 '%(body)s'; }
    location = /_stats { stub_status; }
  }
}
""" % {"d": self.dir, "port": port, "body": body})
        self.p = subprocess.Popen([exe, "-p", self.dir, "-c", conf, "-g", "daemon off;"])
        self.root = "http://127.0.0.1:%d" % port
        self.probes = 0
        for _ in range(100):
            try:
                self.stats()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start: see %s/error.log" % self.dir)

    def stats(self):
        with urllib.request.urlopen(self.root + "/_stats", timeout=5) as r:
            text = r.read().decode()
        self.probes += 1
        # "server accepts handled requests\n A H R": less these probes.
        return {"requests": int(text.split("\n")[2].split()[2]) - self.probes}

    def close(self):
        self.p.terminate()
        self.p.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


class Node:
    def __init__(self, fake, jobs, local=False, binary=None):
        self.dir = tempfile.mkdtemp(prefix="ep-jobs-bench-")
        cfg = os.path.join(self.dir, "echopilot.json")
        with open(cfg, "w") as f:
            json.dump({"flags": {"defaults": ""}, "jobs": jobs,
                       "openai": {"max_connections": 4096}}, f)
        env = dict(os.environ, DASHBOARD_KEY=KEY, AI_INTEGRATIONS_OPENAI_BASE_URL=fake.root + "/v1",
                   AI_INTEGRATIONS_OPENAI_API_KEY="" if local else "sk-bench")
        self.p = subprocess.Popen([binary or BINARY, "serve", "--port", "0",
                                   "--data-dir", os.path.join(self.dir, "data"), "--config", cfg],
                                  stdout=subprocess.PIPE, env=env, cwd=ROOT, text=True)
        line = self.p.stdout.readline()
        self.base = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)

    def cpu_s(self):
        """The node's CPU time so far (user + system, /proc/PID/stat)."""
        with open("/proc/%d/stat" % self.p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def jobs(self):
        out, cursor = [], None
        while True:
            q = "/api/jobs?limit=500" + ("&cursor=" + cursor if cursor else "")
            page = http("GET", self.base + q)["data"]
            out += page["jobs"]
            cursor = page["next_cursor"]
            if not cursor:
                return out, page["counts"]

    def counts(self):
        return http("GET", self.base + "/api/jobs?limit=1")["data"]["counts"]

    def wait_idle(self, limit_s=600):
        deadline = time.time() + limit_s
        while time.time() < deadline:
            c = self.counts()
            if c["queued"] == 0 and c["processing"] == 0:
                return c
            time.sleep(0.2)
        raise RuntimeError("jobs did not finish: %s" % self.counts())

    def close(self):
        self.p.terminate()
        self.p.wait(timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


def submit(node, seconds, connections, rate=None):
    body = os.path.join(tempfile.gettempdir(), "ep-job-body.json")
    with open(body, "w") as f:
        json.dump({"email": "bench@example.com", "task_type": "summarize",
                   "input": "Summarise: the quarterly report shows growth in three regions."}, f)
    cmd = [os.path.join(ROOT, "build/bench/harness/echopilot-bench"), "--url", node.base + "/api/jobs",
           "-m", "POST", "--body-file", body, "-H", "X-Dash-Key: " + KEY,
           "-H", "Content-Type: application/json", "-c", str(connections), "-d", "%ds" % seconds,
           "--timeout", "10s", "--json", "-"]
    if rate:
        cmd += ["--rate", str(rate)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out[out.index("{"):])


def lists(a):
    fake = Fake(0)
    node = Node(fake, {"workers": 64}, local=True)
    try:
        while node.counts()["completed"] < a.stored:
            submit(node, 2, 32)
            node.wait_idle()
        stored = node.counts()["completed"]
        profile = os.path.join(node.dir, "profile.json")
        headers = {"X-Dash-Key": KEY}
        job = {"email": "bench@example.com", "task_type": "summarize",
               "input": "Summarise: the quarterly report shows growth in three regions."}
        results = {}
        for name, requests in [
                ("submit alone", [{"name": "submit", "weight": 1, "method": "POST", "path": "/api/jobs",
                                   "headers": headers, "body": job}]),
                ("submit next to lists", [{"name": "submit", "weight": 1, "method": "POST", "path": "/api/jobs",
                                           "headers": headers, "body": job},
                                          {"name": "list", "weight": 1, "method": "GET",
                                           "path": "/api/jobs?status=dead&limit=50", "headers": headers}])]:
            with open(profile, "w") as f:
                json.dump({"requests": requests}, f)
            out = subprocess.run([os.path.join(ROOT, "build/bench/harness/echopilot-bench"), "--url", node.base + "/",
                                  "--profile", profile, "-c", "32", "-d", "%ds" % a.seconds, "--warmup", "1s",
                                  "--timeout", "10s", "--json", "-"], capture_output=True, text=True, check=True).stdout
            r = json.loads(out[out.index("{"):])
            entries = {}
            for e in r["entries"]:
                entries[e["name"]] = {"per_s": round(e["responses"] / r["elapsed_s"], 1),
                                      "statuses": e["statuses"],
                                      "p50_ms": round(e["latency"]["p50_us"] / 1000, 2),
                                      "p99_ms": round(e["latency"]["p99_us"] / 1000, 2)}
            results[name] = entries
            node.wait_idle()
        print(json.dumps({"bench": "jobs.lists", "binary": BINARY, "jobs_stored": stored, "results": results}))
    finally:
        node.close()
        fake.close()


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


def latencies(jobs):
    done = [j for j in jobs if j["status"] == "completed"]
    lat = [j["finished_ms"] - j["created_ms"] for j in done]
    span_ms = (max(j["finished_ms"] for j in done) - min(j["created_ms"] for j in done)) if done else 0
    return done, lat, span_ms


def run_throughput(a, binary=None):
    model = Nginx() if a.nginx else Fake(0)
    node = Node(model, {"workers": a.workers}, local=a.local, binary=binary)
    try:
        calls_before = model.stats()["requests"]
        cpu_before = node.cpu_s()
        sub = submit(node, a.seconds, a.connections)
        node.wait_idle()
        cpu = node.cpu_s() - cpu_before
        jobs, counts = node.jobs()
        done, lat, span = latencies(jobs)
        return {"bench": "jobs.throughput", "binary": binary or BINARY,
                "processor": "local" if a.local else ("nginx model" if a.nginx else "fake model"),
                "workers": a.workers, "connections": a.connections,
                "submitted_per_s": round(sub.get("throughput_rps", 0), 1),
                "jobs": len(jobs), "completed": len(done), "counts": counts,
                "end_to_end_jobs_per_s": round(len(done) / (span / 1000.0), 1) if span else None,
                "latency_ms": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
                               "max": max(lat) if lat else None},
                "model_calls": model.stats()["requests"] - calls_before,
                # the node's CPU per job (submission to its end, waits included):
                # far less sensitive than jobs/s to what else the machine runs
                "node_cpu_us_per_job": round(cpu * 1e6 / len(done), 1) if done else None}
    finally:
        node.close()
        model.close()


def throughput(a):
    print(json.dumps(run_throughput(a)))


def compare(a):
    """Alternate rounds of the two builds; medians and their ratio."""
    before = os.path.abspath(a.before)
    rates = {"before": [], "after": []}
    cpu = {"before": [], "after": []}
    for i in range(a.rounds):
        for name, binary in [("before", before), ("after", BINARY)] if i % 2 == 0 else \
                [("after", BINARY), ("before", before)]:
            r = run_throughput(a, binary)
            r["round"], r["build"] = i + 1, name
            print(json.dumps(r), flush=True)
            rates[name].append(r["end_to_end_jobs_per_s"] or 0)
            cpu[name].append(r["node_cpu_us_per_job"] or 0)
    med = {k: sorted(v)[len(v) // 2] for k, v in rates.items()}
    cpu_med = {k: sorted(v)[len(v) // 2] for k, v in cpu.items()}
    print(json.dumps({"bench": "jobs.compare", "rounds": a.rounds, "jobs_per_s": rates, "median": med,
                      "after_over_before": round(med["after"] / med["before"], 3) if med["before"] else None,
                      "node_cpu_us_per_job": cpu, "cpu_median": cpu_med,
                      "cpu_after_over_before": round(cpu_med["after"] / cpu_med["before"], 3)
                      if cpu_med["before"] else None}))


def capacity(a):
    for rate in [int(r) for r in a.rates.split(",")]:
        fake = Fake(a.latency_ms)
        node = Node(fake, {"workers": a.workers})
        try:
            submit(node, a.seconds, min(1024, max(32, rate)), rate=rate)
            node.wait_idle()
            jobs, counts = node.jobs()
            done, lat, span = latencies(jobs)
            # Skip the first second (ramp-up) when reading latency.
            t0 = min(j["created_ms"] for j in done)
            steady = [j["finished_ms"] - j["created_ms"] for j in done if j["created_ms"] >= t0 + 1000]
            print(json.dumps({"bench": "jobs.capacity", "model_latency_ms": a.latency_ms,
                              "workers": a.workers, "rate": rate, "completed": len(done),
                              "peak_in_flight_at_model": fake.stats()["max_in_flight"],
                              "latency_ms": {"p50": pct(steady, 50), "p99": pct(steady, 99),
                                             "max": max(steady) if steady else None}}))
        finally:
            node.close()
            fake.close()


def memory(a):
    fake = Fake(60000)
    node = Node(fake, {"workers": a.jobs + 8, "lease_ms": 600000})
    try:
        time.sleep(2)
        idle = node.rss_kib()
        for i in range(a.jobs):
            http("POST", node.base + "/api/jobs", {"email": "bench@example.com", "task_type": "summarize",
                                                   "input": "Job %d: summarise the quarterly report, which "
                                                            "shows growth in three regions." % i})
        deadline = time.time() + 60
        while fake.stats()["in_flight"] < a.jobs and time.time() < deadline:
            time.sleep(0.2)
        in_flight = fake.stats()["in_flight"]
        time.sleep(1)
        busy = node.rss_kib()
        print(json.dumps({"bench": "jobs.memory", "jobs_in_flight": in_flight, "rss_idle_kib": idle,
                          "rss_busy_kib": busy,
                          "kib_per_job_in_flight": round((busy - idle) / max(1, in_flight), 2)}))
    finally:
        node.p.kill()
        node.p.wait()
        shutil.rmtree(node.dir, ignore_errors=True)
        fake.close()


def main():
    global BINARY
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default=BINARY)
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--seconds", type=int, default=10)
    t.add_argument("--connections", type=int, default=32)
    t.add_argument("--workers", type=int, default=64)
    t.add_argument("--local", action="store_true", help="the local processor instead of the fake model")
    t.add_argument("--nginx", action="store_true", help="nginx with a fixed completion as the model")
    cm = sub.add_parser("compare")
    cm.add_argument("--before", required=True, help="the other build's echopilot binary")
    cm.add_argument("--rounds", type=int, default=3)
    cm.add_argument("--seconds", type=int, default=10)
    cm.add_argument("--connections", type=int, default=32)
    cm.add_argument("--workers", type=int, default=64)
    cm.add_argument("--local", action="store_true")
    cm.add_argument("--nginx", action="store_true")
    c = sub.add_parser("capacity")
    c.add_argument("--latency-ms", type=int, default=500)
    c.add_argument("--rates", default="100,200,400,800")
    c.add_argument("--seconds", type=int, default=10)
    c.add_argument("--workers", type=int, default=512)
    m = sub.add_parser("memory")
    m.add_argument("--jobs", type=int, default=500)
    li = sub.add_parser("lists")
    li.add_argument("--stored", type=int, default=6000)
    li.add_argument("--seconds", type=int, default=5)
    a = p.parse_args()
    BINARY = os.path.abspath(a.binary)
    {"throughput": throughput, "compare": compare, "capacity": capacity, "memory": memory, "lists": lists}[a.what](a)


if __name__ == "__main__":
    sys.exit(main())
