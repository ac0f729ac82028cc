"""make bench: the performance figures of issue 4 (and the webhook phase of issue 5).

Starts a fresh stack (private PostgreSQL with synchronous_commit=on, sandbox,
coreapp, webapp) on loopback, registers a business through the sandbox, opens
the customer-care window, then:

1. drives POST /v1/messages (text) with wrk: HTTPS keep-alive, 64 connections,
   10 s; prints accepted messages/s and p50/p99/p99.9 latency; then waits until
   every accepted message is delivered in the sandbox and every status it sent
   back is recorded by the coreapp (PostgreSQL), and prints how long that took
   after the load stopped and the CPU each process spent per accepted message
   over load and settling together (the work a message causes, wherever and
   whenever it happens; wrk's own share included);
2. drives the same route with a body the webapp itself refuses (a JSON array:
   400/1025 after TLS, HTTP parsing, the bearer token and the JSON parse, the
   very work a real send does in the webapp, but no coreapp, no database): the
   machine's HTTPS ceiling for this request shape, and the ratio to it.
   Then, as the issue words it, GET of a webapp route that does not reach the
   coreapp: GET /v1/metrics (API key); its answer is a few kilobytes of
   rendered metrics, so it is printed beside the first, not instead of it.
3. the webhook phase (issue 5; webhook_phase() below says what it measures).

Targets (issue 4, on the 2-core reference machine, wrk included): >= 10,000
accepted messages/s with synchronous_commit=on, p99 < 10 ms, every message
delivered within 5 s after the load stops.

Everything is bounded in time. Not a test: it asserts nothing, it reports.
"""
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from stack import Stack  # noqa: E402

DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "64")
THREADS = os.environ.get("BENCH_THREADS", "1")
# The sandbox's keep_messages (its default when unset): below the run's message count
# the sandbox forgets messages all along, as in any run longer than keep / rate.
KEEP_MESSAGES = os.environ.get("BENCH_KEEP_MESSAGES")
BUSINESS = ("1", "6315550100")
CUSTOMER = "16315551002"
PASSWORD = "B3nch!pass"
SETTLE_TIMEOUT = 120


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
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


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_snapshot(st):
    snap = {name: cpu_seconds(p.pid) for name, p in st.procs.items() if p.poll() is None}
    total = 0.0
    for pid in pg_pids(st):
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    snap["postgres"] = total
    snap["wrk"] = children_cpu()      # wrk is our only child that runs meanwhile
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
    settings = {"delivery_delay_ms": 0, "auto_read": False}
    if KEEP_MESSAGES:
        settings["keep_messages"] = int(KEEP_MESSAGES)
    r = requests.patch(st.sandbox_url("/settings"), json=settings, timeout=10)
    assert r.status_code == 200, r.text
    requests.post(st.sandbox_url("/customers"), json={"wa_id": CUSTOMER, "name": "Jane",
                                                      "on_whatsapp": True}, timeout=10)
    r = requests.post(st.sandbox_url("/customers/%s/messages" % CUSTOMER), timeout=10,
                      json={"to": "".join(BUSINESS), "type": "text", "text": {"body": "hi"}})
    assert r.status_code == 201, r.text


def sandbox_delivered():
    return requests.get(STACK.sandbox_url("/stats"), timeout=10).json()["messages"]["delivered"]


def unrecorded(st):
    """Outbound messages whose delivery the coreapp has not recorded yet."""
    r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(st.pg_port), "-U", "wa", "-d", "wa",
                        "-Atc", "SELECT count(*) FROM messages WHERE direction = 'outbound'"
                        " AND status IN ('accepted', 'sent')"],
                       capture_output=True, text=True, timeout=30)
    return int(r.stdout.strip() or -1)


def report(title, res, count_all=False):
    secs = res["duration_us"] / 1e6
    ok = res["requests"] - (0 if count_all else res["non2xx"])
    print("%s" % title)
    print("  %s: %d in %.1f s = %.0f/s   (non-2xx %d, socket errors %d)"
          % ("answered" if count_all else "accepted", ok, secs, ok / secs, res["non2xx"],
             res["errors"]))
    print("  latency: p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms"
          % (res["p50_us"] / 1e3, res["p99_us"] / 1e3, res["p999_us"] / 1e3))
    if "mean_us" in res:
        # With every connection always busy the mean is connections / rate
        # (Little's law); the p99 target is then a bound on the spread.
        print("  spread: mean %.2f ms  sd %.2f ms (sd/mean %.2f)  p10 %.2f ms  p90 %.2f ms"
              % (res["mean_us"] / 1e3, res["sd_us"] / 1e3, res["sd_us"] / max(res["mean_us"], 1),
                 res["p10_us"] / 1e3, res["p90_us"] / 1e3))
    return ok / secs


def per_message(title, before, after, n):
    names = ["webapp", "coreapp", "sandbox", "postgres", "wrk"]
    used = {k: after[k] - before.get(k, 0) for k in names if k in after}
    print("  %s: " % title + "  ".join("%s %.0f" % (k, used[k] / n * 1e6) for k in used)
          + "  = %.0f us CPU per message" % (sum(used.values()) / n * 1e6))


def host_speed():
    """MB/s of one core hashing 1 KB blocks (openssl speed, ~1 s): the shared host's speed
    changes by a sixth within minutes, and every process's CPU per message with it, so
    runs are compared at a known speed."""
    r = subprocess.run(["openssl", "speed", "-seconds", "1", "-bytes", "1024", "sha256"],
                       capture_output=True, text=True, timeout=30)
    m = re.search(r"^sha256\s+([0-9.]+)k", r.stdout, re.M)
    return "%.0f MB/s" % (float(m.group(1)) / 1000) if m else "unknown"


def psql(st, sql):
    r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(st.pg_port), "-U", "wa", "-d", "wa",
                        "-Atc", sql], capture_output=True, text=True, timeout=30)
    return r.stdout


def statements(st, n):
    """BENCH_PGSS=1: where PostgreSQL's time went, per accepted message (a diagnostic)."""
    psql(st, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    out = psql(st, "SELECT round((total_exec_time * 1000 / %d)::numeric, 1), round((total_plan_time * 1000 / %d)::numeric, 1),"
                   " calls, rows, round(max_exec_time::numeric, 2),"
                   " left(regexp_replace(query, '\\s+', ' ', 'g'), 90)"
                   " FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12" % (n, n))
    print("  PostgreSQL statements (us of execution per message | of planning | calls | rows | slowest call ms | query):")
    for line in out.splitlines():
        print("    " + line)
    out = psql(st, "SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                   " WHERE relname = 'messages'")
    print("  messages rows inserted | updated | of them HOT: " + out.strip().replace("|", " | "))
    out = psql(st, "SELECT round(wal_bytes / %d), round(wal_records::numeric / %d, 1), wal_fpi"
                   " FROM pg_stat_wal" % (n, n))
    print("  WAL bytes | records per message, full-page images: " + out.strip().replace("|", " | "))
    out = psql(st, "SELECT wal_sync, round((wal_sync_time / greatest(wal_sync, 1))::numeric, 3),"
                   " wal_write, round((wal_write_time / greatest(wal_write, 1))::numeric, 3)"
                   " FROM pg_stat_wal")
    print("  WAL syncs | mean ms, writes | mean ms: " + out.strip().replace("|", " | "))


STACK = None
PGSS = os.environ.get("BENCH_PGSS") == "1"


def main():
    global STACK
    env = {"WA_LOG_LEVEL": "warn", "WA_COREAPP_TIMEOUT_MS": "10000"}
    if PGSS:    # read by scripts/pg.sh
        os.environ["WA_PG_EXTRA_CONF"] = ("shared_preload_libraries = 'pg_stat_statements'\n"
                                          "pg_stat_statements.track_planning = on\n"
                                          "track_wal_io_timing = on")
    st = STACK = Stack(extra_env=env)
    try:
        st.start_all()
        st.wait_ready()
        token = register(st)
        open_window(st)
        print("stack: %s  wrk: %s threads, %s connections, %s; synchronous_commit=on"
              % (st.tmp, THREADS, CONNECTIONS, DURATION))

        speed = host_speed()
        before = cpu_snapshot(st)
        delivered0 = sandbox_delivered()
        res = wrk("post_message.lua", st.url("/v1/messages"), {"WA_TOKEN": token, "WA_TO": CUSTOMER})
        t_stop = time.monotonic()
        loaded = cpu_snapshot(st)
        rate = report("POST /v1/messages (text)", res)
        accepted = res["requests"] - res["non2xx"]
        deadline = t_stop + SETTLE_TIMEOUT
        while sandbox_delivered() - delivered0 < accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        got = sandbox_delivered() - delivered0
        t_delivered = time.monotonic() - t_stop
        left = unrecorded(st)
        while left != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
            left = unrecorded(st)
        t_recorded = time.monotonic() - t_stop
        settled = cpu_snapshot(st)
        print("  host speed (one core, sha256 of 1 KB blocks): %s before the load, %s after"
              % (speed, host_speed()))
        print("  delivered in the sandbox: %d of %d, %.2f s after the load stopped"
              % (got, accepted, t_delivered))
        print("  statuses recorded by the coreapp: %s, %.2f s after the load stopped"
              % ("all" if left == 0 else "%d messages not yet" % left, t_recorded))
        per_message("CPU us per message during the load", before, loaded, accepted)
        per_message("CPU us per message, load + settling", before, settled, accepted)
        if PGSS:
            statements(st, accepted)

        before = cpu_snapshot(st)
        res = wrk("ceiling.lua", st.url("/v1/messages"), {"WA_TOKEN": token})
        after = cpu_snapshot(st)
        ceiling = report("POST /v1/messages refused by the webapp (400/1025; the HTTPS ceiling)",
                         res, count_all=True)
        per_message("CPU us per request", before, after, max(1, res["requests"]))
        print("ratio messages/ceiling: %.2f" % (rate / ceiling if ceiling else 0))

        before = cpu_snapshot(st)
        res = wrk("get.lua", st.url("/v1/metrics"), {"WA_API_KEY": st.api_key})
        after = cpu_snapshot(st)
        get = report("GET /v1/metrics (a webapp route that does not reach the coreapp)", res)
        per_message("CPU us per request", before, after, max(1, res["requests"]))
        print("ratio messages/GET: %.2f" % (rate / get if get else 0))
        if os.environ.get("BENCH_WEBHOOKS", "1") != "0":
            webhook_phase(st, token)
    finally:
        st.teardown()


# ---- webhook phase (issue 5) ---------------------------------------------------------------

HOOK_CUSTOMERS = ("16315551003", "16315551004")       # the steady run, the backlog run
HOOK_MESSAGES = int(os.environ.get("BENCH_HOOK_MESSAGES", "20000"))
HOOK_BACKLOG = int(os.environ.get("BENCH_HOOK_BACKLOG", "10000"))
HOOKD = os.environ.get("WA_HOOKD", os.path.join(HERE, "..", "build", "bench", "hookd"))


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    i = int(round(p / 100 * (len(sorted_values) - 1)))
    return sorted_values[min(len(sorted_values) - 1, i)]


def hookd_count(port):
    r = requests.get("https://127.0.0.1:%d/count" % port, verify=False, timeout=10)
    return r.json()["requests"]


def sandbox_received():
    return requests.get(STACK.sandbox_url("/stats"), timeout=10).json()["messages"]["received"]


def pending_callbacks(st):
    r = subprocess.run(["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(st.pg_port),
                        "-U", "wa", "-d", "wa", "-c", "SELECT count(*) FROM wa_callbacks"],
                       capture_output=True, text=True, timeout=30)
    return int(r.stdout.strip() or 0)


def wait(cond, timeout, poll=0.1):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(poll)


def drive(st, token, to, n):
    """POST /v1/messages (text to `to`) with wrk until the network has n more
    messages; wrk's threads stop at their share and wrk is then interrupted."""
    received0 = sandbox_received()
    quota = -(-n // int(THREADS))
    cmd = ["wrk", "-t", THREADS, "-c", CONNECTIONS, "-d", "300s", "--timeout", "5s",
           "-s", os.path.join(HERE, "post_n.lua"), st.url("/v1/messages")]
    p = subprocess.Popen(cmd, env={**os.environ, "WA_TOKEN": token, "WA_TO": to,
                                   "WA_QUOTA": str(quota)},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(lambda: sandbox_received() - received0 >= n or p.poll() is not None, 300)
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(30)


def open_customer(wa_id):
    requests.post(STACK.sandbox_url("/customers"), json={"wa_id": wa_id, "name": "Hook",
                                                         "on_whatsapp": True}, timeout=10)
    r = requests.post(STACK.sandbox_url("/customers/%s/messages" % wa_id), timeout=10,
                      json={"to": "".join(BUSINESS), "type": "text", "text": {"body": "hi"}})
    assert r.status_code == 201, r.text


def receipts_of(wa_id):
    r = requests.get(STACK.sandbox_url("/customers/%s/receipts" % wa_id), timeout=60)
    return {x["id"]: x["at"] for x in r.json()["receipts"]}


def arrivals(path):
    """(arrival ms, id, status) of every status callback hookd received."""
    out = []
    with open(path) as f:
        for line in f:
            us, body = line.split(" ", 1)
            for item in json.loads(body).get("statuses", []):
                out.append((int(us) / 1000, item["id"], item["status"]))
    return out


def webhook_report(title, got, at):
    """Callbacks of the messages in at (id -> the network's status times, ms)."""
    mine = sorted(a for a in got if a[1] in at)
    seen, lat, dups = set(), [], 0
    for ms, mid, status in mine:
        if (mid, status) in seen:
            dups += 1
            continue
        seen.add((mid, status))
        if status in at[mid]:
            lat.append(ms - at[mid][status])
    lat.sort()
    expected = sum(len(v) for v in at.values())
    span = (mine[-1][0] - mine[0][0]) / 1000 if len(mine) > 1 else float("nan")
    sent = sorted(v["sent"] for v in at.values() if "sent" in v)
    send_span = (sent[-1] - sent[0]) / 1000 if len(sent) > 1 else float("nan")
    print(title)
    print("  %d messages, the network's first to last sent %.1f s (%.0f/s); status callbacks"
          " received %d of %d (%d duplicates)" % (len(sent), send_span, len(sent) / send_span,
                                                  len(mine), expected, dups))
    print("  callbacks/s: %.0f  (first to last arrival %.1f s; the last one %.2f s after the"
          " network's last sent)" % (len(mine) / span, span, mine[-1][0] / 1000 - sent[-1] / 1000))
    return lat


def webhook_phase(st, token):
    """Status callbacks through the whole path (sandbox -> gateway -> coreapp ->
    dispatcher -> HTTPS receiver), sent/delivered/read callbacks on and the
    sandbox delivering and reading at once (3 callbacks a message), posted to
    bench/hookd.c (answers 200 at once) with max_concurrent_requests 24.

    1. steady: BENCH_HOOK_MESSAGES messages as fast as POST /v1/messages takes
       them; callbacks/s (first to last arrival) and, per callback, the time
       from the network's receipt (the sandbox's ms time of that status, GET
       /customers/{wa_id}/receipts) to the callback's arrival: p50, p99;
    2. backlog: the receiver is stopped (SIGSTOP) while BENCH_HOOK_BACKLOG
       messages go through, then resumed: the rate at which the dispatcher
       drains what is queued, independent of the send rate."""
    from hookrecv import Pki   # tests/integration, on sys.path above

    tmp = os.path.join(st.tmp, "hookd")
    os.makedirs(tmp, exist_ok=True)
    pki = Pki(tmp)
    out = os.path.join(tmp, "arrivals.txt")
    hookd = subprocess.Popen([HOOKD, pki.server[0], pki.server[1], out],
                             stdout=subprocess.PIPE, text=True)
    try:
        port = int(hookd.stdout.readline().split()[1])
        s = session(st, token)
        r = s.post(st.url("/v1/certificates/webhooks/ca"), data=pki.ca_pem, timeout=10,
                   verify=False, headers={"Content-Type": "text/plain"})
        assert r.status_code == 200, r.text
        r = s.patch(st.url("/v1/settings/application"), timeout=10, verify=False, json={
            "webhooks": {"url": "https://127.0.0.1:%d/hook" % port,
                         "max_concurrent_requests": 24,
                         "message": {"sent": True, "delivered": True, "read": True}}})
        assert r.status_code == 200, r.text
        requests.patch(st.sandbox_url("/settings"), json={"delivery_delay_ms": 0,
                                                          "auto_read": True}, timeout=10)
        for c in HOOK_CUSTOMERS:
            open_customer(c)
        wait(lambda: hookd_count(port) >= len(HOOK_CUSTOMERS), 30, 0.05)   # the path works
        base = hookd_count(port)

        before = cpu_snapshot(st)
        drive(st, token, HOOK_CUSTOMERS[0], HOOK_MESSAGES)
        n = len(receipts_of(HOOK_CUSTOMERS[0]))
        wait(lambda: hookd_count(port) - base >= 3 * n, 180)
        after = cpu_snapshot(st)
        time.sleep(0.3)

        base = hookd_count(port)
        hookd.send_signal(signal.SIGSTOP)
        drive(st, token, HOOK_CUSTOMERS[1], HOOK_BACKLOG)

        def queued():           # every status recorded: the queue stops growing
            now = pending_callbacks(st)
            time.sleep(0.5)
            return now > 0 and pending_callbacks(st) == now
        wait(queued, 180, 0.5)
        backlog = pending_callbacks(st)
        resumed_ms = time.time() * 1000
        hookd.send_signal(signal.SIGCONT)
        wait(lambda: hookd_count(port) - base >= backlog, 180)
    finally:
        hookd.send_signal(signal.SIGCONT)
        hookd.terminate()
        hookd.wait(30)
    got = arrivals(out)
    lat = webhook_report("webhooks, steady (hookd over HTTPS, max_concurrent_requests 24):",
                         got, receipts_of(HOOK_CUSTOMERS[0]))
    print("  receipt -> callback arrival: p50 %.0f ms  p99 %.0f ms  max %.0f ms  (%d callbacks)"
          % (percentile(lat, 50), percentile(lat, 99), lat[-1] if lat else float("nan"),
             len(lat)))
    print("  cpu seconds: " + "  ".join("%s %.2f" % (k, after[k] - before.get(k, 0))
                                        for k in sorted(after)))
    at = receipts_of(HOOK_CUSTOMERS[1])
    drained = sorted(a[0] for a in got if a[1] in at and a[0] >= resumed_ms)
    print("webhooks, backlog: %d callbacks queued while the receiver was stopped; after it"
          " resumed, %d arrived in %.2f s = %.0f callbacks/s"
          % (backlog, len(drained), (drained[-1] - resumed_ms) / 1000 if drained else 0,
             len(drained) / ((drained[-1] - resumed_ms) / 1000) if drained else 0))


if __name__ == "__main__":
    # killed (timeout, pkill): unwind like Ctrl-C, so that the finally clauses
    # stop the stack instead of leaving it running beside the next bench
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    main()
