"""make bench: the performance figures of issue 4 (and the webhook phase of issue 5).

Starts a fresh stack (private PostgreSQL with synchronous_commit=on, sandbox,
coreapp, webapp) on loopback, registers a business through the sandbox, opens
the customer-care window, then:

1. drives POST /v1/messages (text) with wrk: HTTPS keep-alive, 64 connections,
   10 s; prints accepted messages/s, p50/p99/p99.9 latency, the CPU seconds of
   each process, and the time until every accepted message is delivered in the
   sandbox after the load stops;
2. drives GET /v1/metrics (a webapp route that never reaches the coreapp) the
   same way, as the machine's HTTPS ceiling, and prints the ratio.

Everything is bounded in time. Not a test: it asserts nothing, it reports.
"""
import json
import os
import re
import subprocess
import sys
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from stack import Stack  # noqa: E402

DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "64")
THREADS = os.environ.get("BENCH_THREADS", "2")
BUSINESS = ("1", "6315550100")
CUSTOMER = "16315551002"
PASSWORD = "B3nch!pass"


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pg_pids(st):
    """The PostgreSQL server processes of the stack's cluster."""
    with open(os.path.join(st.pg_dir, "data", "postmaster.pid")) as f:
        master = int(f.readline())
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True,
                         text=True).stdout.split()
    return [master] + [int(p) for p in out]


def cpu_snapshot(st):
    snap = {name: cpu_seconds(p.pid) for name, p in st.procs.items() if p.poll() is None}
    total = 0.0
    for pid in pg_pids(st):
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    snap["postgres"] = total
    return snap


def wrk(script, url, env):
    cmd = ["wrk", "-t", THREADS, "-c", CONNECTIONS, "-d", DURATION, "--timeout", "5s",
           "-s", os.path.join(HERE, script), url]
    r = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    m = re.search(r"BENCH (.*)", r.stdout)
    if m is None:
        raise RuntimeError("wrk failed:\n" + r.stdout + r.stderr)
    return {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def session(st, token=None):
    s = requests.Session()
    s.verify = False
    if token:
        s.headers["Authorization"] = "Bearer " + token
    return s


def register(st):
    """Full registration through the sandbox; returns an admin token."""
    s = session(st)
    r = s.post(st.url("/v1/users/login"), auth=("admin", "secret"), verify=False,
               json={"new_password": PASSWORD}, timeout=10)
    token = r.json()["users"][0]["token"]
    s = session(st, token)
    cert = requests.post(st.sandbox_url("/certs"), timeout=10,
                         json={"cc": BUSINESS[0], "phone_number": BUSINESS[1],
                               "vname": "Bench"}).json()["cert"]
    r = s.post(st.url("/v1/account"), json={"cc": BUSINESS[0], "phone_number": BUSINESS[1],
                                            "method": "sms", "cert": cert}, timeout=10,
               verify=False)
    assert r.status_code in (201, 202), r.text
    if r.status_code == 202:
        code = requests.get(st.sandbox_url("/registrations/%s%s" % BUSINESS),
                            timeout=10).json()["code"]
        r = s.post(st.url("/v1/account/verify"), json={"code": code}, timeout=10, verify=False)
        assert r.status_code == 201, r.text
    deadline = time.monotonic() + 30
    while s.get(st.url("/v1/health"), timeout=10, verify=False).json()["health"].get(
            "gateway_status") != "connected":
        assert time.monotonic() < deadline, "gateway never connected"
        time.sleep(0.2)
    return token


def open_window(st):
    requests.patch(st.sandbox_url("/settings"), json={"delivery_delay_ms": 0, "auto_read": False},
                   timeout=10)
    requests.post(st.sandbox_url("/customers"), json={"wa_id": CUSTOMER, "name": "Jane",
                                                      "on_whatsapp": True}, timeout=10)
    r = requests.post(st.sandbox_url("/customers/%s/messages" % CUSTOMER), timeout=10,
                      json={"to": "".join(BUSINESS), "type": "text", "text": {"body": "hi"}})
    assert r.status_code == 201, r.text


def sandbox_delivered():
    return requests.get(STACK.sandbox_url("/stats"), timeout=10).json()["messages"]["delivered"]


def report(title, res, cpu_before, cpu_after):
    secs = res["duration_us"] / 1e6
    ok = res["requests"] - res["non2xx"]
    print("%s" % title)
    print("  accepted: %d in %.1f s = %.0f/s   (non-2xx %d, socket errors %d)"
          % (ok, secs, ok / secs, res["non2xx"], res["errors"]))
    print("  latency: p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms"
          % (res["p50_us"] / 1e3, res["p99_us"] / 1e3, res["p999_us"] / 1e3))
    print("  cpu seconds: " + "  ".join("%s %.2f" % (n, cpu_after[n] - cpu_before.get(n, 0))
                                        for n in sorted(cpu_after)))
    return ok / secs


STACK = None


def main():
    global STACK
    st = STACK = Stack(extra_env={"WA_LOG_LEVEL": "warn", "WA_COREAPP_TIMEOUT_MS": "10000"})
    try:
        st.start_all()
        st.wait_ready()
        token = register(st)
        open_window(st)
        print("stack: %s  wrk: %s threads, %s connections, %s; synchronous_commit=on"
              % (st.tmp, THREADS, CONNECTIONS, DURATION))

        before = cpu_snapshot(st)
        delivered0 = sandbox_delivered()
        res = wrk("post_message.lua", st.url("/v1/messages"), {"WA_TOKEN": token, "WA_TO": CUSTOMER})
        t_stop = time.monotonic()
        after = cpu_snapshot(st)
        rate = report("POST /v1/messages (text)", res, before, after)
        accepted = res["requests"] - res["non2xx"]
        deadline = t_stop + 120
        while sandbox_delivered() - delivered0 < accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        got = sandbox_delivered() - delivered0
        print("  delivered in the sandbox: %d of %d, %.2f s after the load stopped"
              % (got, accepted, time.monotonic() - t_stop))

        before = cpu_snapshot(st)
        res = wrk("get.lua", st.url("/v1/metrics"), {"WA_API_KEY": st.api_key})
        after = cpu_snapshot(st)
        ceiling = report("GET /v1/metrics (webapp only: the HTTPS ceiling)", res, before, after)
        print("ratio messages/ceiling: %.2f" % (rate / ceiling if ceiling else 0))
    finally:
        st.teardown()


if __name__ == "__main__":
    main()
