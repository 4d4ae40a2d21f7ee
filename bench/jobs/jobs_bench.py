#!/usr/bin/env python3
"""Jobs end to end: throughput, in-flight capacity and memory per job in flight.

Starts the fake OpenAI-compatible server (tests/fakes/fake_openai.py) and a
node (build/echopilot) pointed at it, submits jobs with echopilot-bench, and
reads every job's created/finished times back from GET /api/jobs.

  bench/jobs/jobs_bench.py throughput [--seconds 10] [--connections 32] [--workers 64]
      zero-latency model; jobs/s from the first submission to the last
      completion, and job latency (created -> finished) percentiles.
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


class Node:
    def __init__(self, fake, jobs, local=False):
        self.dir = tempfile.mkdtemp(prefix="ep-jobs-bench-")
        cfg = os.path.join(self.dir, "echopilot.json")
        with open(cfg, "w") as f:
            json.dump({"flags": {"defaults": ""}, "jobs": jobs,
                       "openai": {"max_connections": 4096}}, f)
        env = dict(os.environ, DASHBOARD_KEY=KEY, AI_INTEGRATIONS_OPENAI_BASE_URL=fake.root + "/v1",
                   AI_INTEGRATIONS_OPENAI_API_KEY="" if local else "sk-bench")
        self.p = subprocess.Popen([BINARY, "serve", "--port", "0",
                                   "--data-dir", os.path.join(self.dir, "data"), "--config", cfg],
                                  stdout=subprocess.PIPE, env=env, cwd=ROOT, text=True)
        line = self.p.stdout.readline()
        self.base = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)

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


def throughput(a):
    fake = Fake(0)
    node = Node(fake, {"workers": a.workers}, local=a.local)
    try:
        sub = submit(node, a.seconds, a.connections)
        node.wait_idle()
        jobs, counts = node.jobs()
        done, lat, span = latencies(jobs)
        print(json.dumps({"bench": "jobs.throughput", "processor": "local" if a.local else "fake model",
                          "workers": a.workers, "connections": a.connections,
                          "submitted_per_s": round(sub.get("throughput_rps", 0), 1),
                          "jobs": len(jobs), "completed": len(done), "counts": counts,
                          "end_to_end_jobs_per_s": round(len(done) / (span / 1000.0), 1) if span else None,
                          "latency_ms": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
                                         "max": max(lat) if lat else None},
                          "model_calls": fake.stats()["requests"]}))
    finally:
        node.close()
        fake.close()


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
    {"throughput": throughput, "capacity": capacity, "memory": memory, "lists": lists}[a.what](a)


if __name__ == "__main__":
    sys.exit(main())
