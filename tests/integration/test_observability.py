"""Metrics, stats and support (spec/API.md §10-12, CLARIFICATIONS §8): the documented
JSON shapes and Prometheus text, checked by Debian's promtool, and a real Prometheus
server scraping the stack with the example configuration in docs/prometheus.yml."""
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile

import pytest
import requests

from stack import REPO, free_ports, wait_for
from test_users import STRONG, err

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
NODE = socket.gethostname()
PROM_TYPE = "text/plain; version=0.0.4"

# spec/API.md §11 and §10: names, types and labels we must serve as documented.
METRICS_DOC = {
    "web_uptime": ("gauge", {"node"}),
    "web_connections": ("counter", {"node"}),
    "web_pending_connections": ("gauge", {"node"}),
    "web_max_pending_connections": ("gauge", {"node"}),
    "web_queue_len": ("gauge", {"node"}),
    "web_idle_processes": ("gauge", {"node"}),
    "web_requests": ("gauge", {"node", "state"}),
    "api_requests_duration_ms_sum": ("counter", {"node", "result", "method"}),
    "api_requests_duration_ms_count": ("counter", {"node", "result", "method"}),
}
STATS_APP_DOC = [
    "callback_queue_size", "callback_requests", "callback_requests_duration_ms_count",
    "callback_requests_duration_ms_sum", "concurrent_rate_limit_triggered",
    "db_request_duration_us_count", "db_request_duration_us_sum",
    "db_request_error_duration_us_count", "db_request_error_duration_us_sum",
    "endpoint_requests", "endpoint_requests_duration_ms_count",
    "endpoint_requests_duration_ms_sum", "in_message_decoded", "in_message_from_server",
    "in_message_persisted", "in_messages_pending_processing",
    "internal_server_conn_duration_ms_count", "internal_server_conn_duration_ms_sum",
    "internal_server_requests_duration_ms_count", "internal_server_requests_duration_ms_sum",
]
STATS_DB_DOC = ["db_contacts", "db_message_receipts", "db_messages", "db_pending_callbacks",
                "db_pending_messages"]
DOCUMENTED = set(METRICS_DOC) | set(STATS_APP_DOC) | set(STATS_DB_DOC)
GATEWAY_STATES = {"uninitialized", "unregistered", "connecting", "connected", "disconnected"}


# ---- helpers -------------------------------------------------------------------------

def check_metric_shape(name, m):
    assert m["type"] in ("counter", "gauge", "histogram"), (name, m)
    assert isinstance(m["help"], str) and m["help"], name
    assert isinstance(m["data"], list), name
    for d in m["data"]:
        assert isinstance(d["value"], (int, float)) and d["value"] >= 0, (name, d)
        for k, v in d.get("labels", {}).items():
            assert isinstance(k, str) and isinstance(v, str), (name, d)


def value(metrics, name, **labels):
    """The value of the item of metric name whose labels include labels (0 if none)."""
    for d in metrics[name]["data"]:
        if all(d.get("labels", {}).get(k) == v for k, v in labels.items()):
            return d["value"]
    return 0


def parse_prom(text):
    """{(name, frozenset(labels.items())): value} of a text exposition, plus the TYPE of
    each family; a deliberately strict reader of what we emit."""
    samples, types = {}, {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            types[name] = typ
            continue
        if line.startswith("#") or not line:
            continue
        m = line_re.match(line)
        assert m, "bad sample line: %r" % line
        labels = frozenset(label_re.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples, types


def promtool_problems(text):
    """Runs `promtool check metrics`; fails on a parse error, returns the lint problems
    as (metric, message) pairs."""
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    out = p.stdout + p.stderr
    assert "error while linting" not in out and "parsing error" not in out, out
    assert p.returncode in (0, 3), "promtool rc=%d: %s" % (p.returncode, out)
    problems = []
    for line in out.splitlines():
        line = line.strip()
        if line:
            name, _, msg = line.partition(" ")
            problems.append((name, msg))
    assert (p.returncode == 0) == (not problems), out
    return problems


def assert_lint_clean_beyond_documented(text):
    problems = promtool_problems(text)
    undocumented = [p for p in problems if p[0] not in DOCUMENTED]
    assert not undocumented, undocumented


@pytest.fixture(scope="module")
def tokens(stack):
    """(admin token, plain user token) for this stack."""
    from conftest import Api
    api = Api(stack)
    admin = api.as_token(api.admin_token())
    r = admin.post("/v1/users", json={"username": "watcher", "password": STRONG})
    assert r.status_code == 201, r.text
    user = api.as_token()
    user.login("watcher", STRONG)
    return admin.session.headers["Authorization"][7:], user.session.headers["Authorization"][7:]


# ---- /v1/metrics ----------------------------------------------------------------------

def test_metrics_json_documented_shape(api):
    r = api.get("/v1/metrics", apikey=True)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["meta"]["api_status"] == "stable"
    metrics = body["metrics"]
    for name, (typ, labels) in METRICS_DOC.items():
        assert name in metrics, name
        assert metrics[name]["type"] == typ, name
    for name, m in metrics.items():
        check_metric_shape(name, m)
        if name in METRICS_DOC:
            for d in m["data"]:
                assert set(d["labels"]) == METRICS_DOC[name][1], (name, d)
                assert d["labels"]["node"] == NODE
    states = {d["labels"]["state"]: d["value"] for d in metrics["web_requests"]["data"]}
    assert set(states) == {"read", "handle-request"}
    assert states["handle-request"] >= 1   # this very request
    assert value(metrics, "web_pending_connections") >= 1
    assert value(metrics, "web_max_pending_connections") >= value(metrics, "web_pending_connections")
    assert value(metrics, "web_idle_processes") >= 1
    assert value(metrics, "web_queue_len") == 0
    assert value(metrics, "wa_webapp_coreapp_requests_in_flight") == 0


def test_metrics_count_requests_by_route_and_status(api, stack):
    before = api.get("/v1/metrics", apikey=True).json()["metrics"]
    n_health = value(before, "api_requests_duration_ms_count", method="GET_v1_health", result="200")
    n_404 = value(before, "api_requests_duration_ms_count", method="unmatched", result="404")
    n_401 = value(before, "api_requests_duration_ms_count", method="GET_v1_health", result="401")
    conns = value(before, "web_connections")
    sum_health = value(before, "api_requests_duration_ms_sum", method="GET_v1_health", result="200")
    for _ in range(5):
        assert api.get("/v1/health", apikey=True).status_code == 200
    for _ in range(2):
        assert api.get("/v1/no/such/thing", apikey=True).status_code == 404
    assert requests.get(stack.url("/v1/health"), verify=False, timeout=10).status_code == 401
    after = api.get("/v1/metrics", apikey=True).json()["metrics"]
    assert value(after, "api_requests_duration_ms_count", method="GET_v1_health",
                 result="200") == n_health + 5
    assert value(after, "api_requests_duration_ms_count", method="unmatched",
                 result="404") == n_404 + 2
    assert value(after, "api_requests_duration_ms_count", method="GET_v1_health",
                 result="401") == n_401 + 1
    # durations are measured: each health call takes a coreapp and a database round trip
    assert value(after, "api_requests_duration_ms_sum", method="GET_v1_health",
                 result="200") > sum_health
    # the plain requests.get above opened a connection of its own
    assert value(after, "web_connections") >= conns + 1
    # the histogram agrees with the documented counter
    hist = [d for d in after["wa_webapp_http_request_duration_seconds"]["data"]
            if d["labels"] == {"node": NODE, "method": "GET_v1_health", "result": "200"}]
    assert len(hist) == 1 and hist[0]["value"] == n_health + 5
    assert hist[0]["buckets"]["+Inf"] == n_health + 5
    assert list(hist[0]["buckets"].values()) == sorted(hist[0]["buckets"].values())
    assert abs(hist[0]["sum"] * 1000 - value(after, "api_requests_duration_ms_sum",
                                             method="GET_v1_health", result="200")) < 0.01


def test_metrics_uptime_grows(api):
    def uptime():
        return value(api.get("/v1/metrics", apikey=True).json()["metrics"], "web_uptime")
    first = uptime()
    wait_for(lambda: uptime() > first, 5, "web_uptime to grow")


def test_metrics_prometheus_text(api):
    for _ in range(3):
        api.get("/v1/health", apikey=True)
    r = api.get("/v1/metrics?format=prometheus", apikey=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == PROM_TYPE
    samples, types = parse_prom(r.text)
    for name, (typ, _) in METRICS_DOC.items():
        assert types[name] == typ, name
        assert "# HELP %s " % name in r.text
    key = ("api_requests_duration_ms_count",
           frozenset({("node", NODE), ("result", "200"), ("method", "GET_v1_health")}))
    assert samples[key] >= 3
    assert types["wa_webapp_http_request_duration_seconds"] == "histogram"
    assert types["process_cpu_seconds_total"] == "counter"
    assert samples[("process_resident_memory_bytes", frozenset({("node", NODE)}))] > 1e6
    # the JSON and the text say the same
    j = api.get("/v1/metrics", apikey=True).json()["metrics"]
    assert value(j, "api_requests_duration_ms_count", method="GET_v1_health",
                 result="200") == samples[key]
    assert_lint_clean_beyond_documented(r.text)


def test_metrics_promtool_flags_only_documented_names(api):
    """The documented names break Prometheus' naming rules; promtool says so for them
    and for nothing else."""
    text = api.get("/v1/metrics?format=prometheus", apikey=True).text
    flagged = {name for name, _ in promtool_problems(text)}
    assert "api_requests_duration_ms_sum" in flagged
    assert flagged <= DOCUMENTED


def test_metrics_auth_and_errors(api, stack, tokens):
    admin, user = tokens
    err(requests.get(stack.url("/v1/metrics"), verify=False, timeout=10), 401, 1005)
    err(requests.get(stack.url("/v1/metrics"), verify=False, timeout=10,
                     headers={"Authorization": "Apikey wrong-key-wrong-key"}), 401, 1005)
    # a user's token is enough (spec: user, key)
    r = api.as_token(user).get("/v1/metrics")
    assert r.status_code == 200 and "web_uptime" in r.json()["metrics"]
    e = err(api.get("/v1/metrics?format=xml", apikey=True), 400, 1009)
    assert "format" in e["details"]
    r = api.get("/v1/metrics?format=json", apikey=True)
    assert r.status_code == 200 and "metrics" in r.json()
    err(api.post("/v1/metrics", apikey=True), 405, 1014)


# ---- /v1/stats --------------------------------------------------------------------------

def test_stats_app_json(api):
    for _ in range(4):
        assert api.get("/v1/health", apikey=True).status_code == 200
    r = api.get("/v1/stats/app", apikey=True)
    assert r.status_code == 200, r.text
    app = r.json()["stats"]["app"]
    for name in STATS_APP_DOC:
        assert name in app, name
    for name, m in app.items():
        check_metric_shape(name, m)
    assert app["callback_queue_size"]["type"] == "gauge"
    assert app["endpoint_requests"]["type"] == "counter"
    assert value(app, "endpoint_requests", method="health", result="ok") >= 4
    assert value(app, "endpoint_requests_duration_ms_count", method="health") >= 4
    assert value(app, "endpoint_requests_duration_ms_sum", method="health") > 0
    # health runs a query, so the database counters move
    assert value(app, "db_request_duration_us_count") >= 4
    assert value(app, "db_request_duration_us_sum") > 0
    assert value(app, "wa_coreapp_db_up") == 1
    gw = {d["labels"]["status"]: d["value"] for d in app["wa_coreapp_gateway_status"]["data"]}
    assert sum(gw.values()) == 1 and set(gw) == GATEWAY_STATES

    def agrees():   # the state the stats show is the one health reports
        app = api.get("/v1/stats/app", apikey=True).json()["stats"]["app"]
        health = api.get("/v1/health", apikey=True).json()["health"]["gateway_status"]
        return value(app, "wa_coreapp_gateway_status", status=health) == 1
    wait_for(agrees, 5, "stats and health to agree on the gateway status")


def test_stats_app_counts_errors_by_code(api, tokens):
    admin, _ = tokens
    a = api.as_token(admin)
    before = a.get("/v1/stats/app").json()["stats"]["app"]
    n = value(before, "endpoint_requests", method="settings.about.set", result="1009")
    for _ in range(3):
        err(a.patch("/v1/settings/profile/about", json={"text": ""}), 400, 1009)
    after = a.get("/v1/stats/app").json()["stats"]["app"]
    assert value(after, "endpoint_requests", method="settings.about.set", result="1009") == n + 3


def test_stats_app_prometheus(api):
    r = api.get("/v1/stats/app?format=prometheus", apikey=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == PROM_TYPE
    samples, types = parse_prom(r.text)
    for name in STATS_APP_DOC:
        assert name in types, name
    assert types["wa_coreapp_command_duration_seconds"] == "histogram"
    assert samples[("db_request_duration_us_count", frozenset())] >= 1
    assert_lint_clean_beyond_documented(r.text)


def test_stats_internal_variants(api, stack, tokens):
    _, user = tokens
    u = api.as_token(user)
    r = u.get("/v1/stats/app/internal")
    assert r.status_code == 200 and "endpoint_requests" in r.json()["stats"]["app"]
    r = u.get("/v1/stats/db/internal")
    assert r.status_code == 200 and "db_messages" in r.json()["stats"]["db"]
    for path in ("/v1/stats/app/internal", "/v1/stats/db/internal"):
        r = u.get(path + "?format=prometheus")
        assert r.status_code == 200 and r.headers["Content-Type"] == PROM_TYPE
        assert_lint_clean_beyond_documented(r.text)
    # the internal views take a token only (spec/API.md §1)
    err(api.get("/v1/stats/app/internal", apikey=True), 401, 1005)
    err(requests.get(stack.url("/v1/stats/app"), verify=False, timeout=10), 401, 1005)
    e = err(api.get("/v1/stats/app?format=csv", apikey=True), 400, 1009)
    assert "format" in e["details"]
    err(api.get("/v1/stats/db?format=csv", apikey=True), 400, 1009)


def test_stats_db_counts_rows(api, stack):
    r = api.get("/v1/stats/db", apikey=True)
    assert r.status_code == 200, r.text
    db = r.json()["stats"]["db"]
    assert sorted(db) == sorted(STATS_DB_DOC)
    for name, m in db.items():
        check_metric_shape(name, m)
        assert m["type"] == "gauge"
    assert {d["labels"]["type"] for d in db["db_contacts"]["data"]} >= {"whatsapp_user",
                                                                         "non_whatsapp_user"}
    base_cb = value(db, "db_pending_callbacks")
    stack.psql("INSERT INTO wa_callbacks (kind, body) VALUES ('status', '{}'), ('status', '{}')")
    has_messages = stack.psql("SELECT to_regclass('messages') IS NOT NULL") == "t"
    if has_messages:
        stack.psql("INSERT INTO messages (id, direction, peer, type, payload, status) VALUES"
                    " ('obs-1', 'outbound', '16315551002', 'text', '{}', 'accepted'),"
                    " ('obs-2', 'outbound', '16315551002', 'text', '{}', 'sent'),"
                    " ('obs-3', 'inbound', '16315551002', 'text', '{}', 'received')")
    has_contacts = stack.psql("SELECT to_regclass('contacts_cache') IS NOT NULL") == "t"
    if has_contacts:
        stack.psql("INSERT INTO contacts_cache (number, status, wa_id) VALUES"
                    " ('19995550001', 'valid', '19995550001'),"
                    " ('19995550002', 'valid', '19995550002'),"
                    " ('19995550003', 'invalid', NULL)")
    base_wa = value(db, "db_contacts", type="whatsapp_user")
    base_non = value(db, "db_contacts", type="non_whatsapp_user")
    base_out = value(db, "db_messages", type="outbound")
    base_in = value(db, "db_messages", type="inbound")
    base_pending = value(db, "db_pending_messages")
    try:
        db = api.get("/v1/stats/db", apikey=True).json()["stats"]["db"]
        assert value(db, "db_pending_callbacks") == base_cb + 2
        if has_messages:
            assert value(db, "db_messages", type="outbound") == base_out + 2
            assert value(db, "db_messages", type="inbound") == base_in + 1
            assert value(db, "db_pending_messages") == base_pending + 1
        if has_contacts:
            assert value(db, "db_contacts", type="whatsapp_user") == base_wa + 2
            assert value(db, "db_contacts", type="non_whatsapp_user") == base_non + 1
        text = api.get("/v1/stats/db?format=prometheus", apikey=True).text
        samples, types = parse_prom(text)
        assert samples[("db_pending_callbacks", frozenset())] == base_cb + 2
        assert set(types) == set(STATS_DB_DOC)
        assert_lint_clean_beyond_documented(text)
    finally:
        stack.psql("DELETE FROM wa_callbacks WHERE body = '{}' AND kind = 'status'")
        if has_messages:
            stack.psql("DELETE FROM messages WHERE id LIKE 'obs-%'")
        if has_contacts:
            stack.psql("DELETE FROM contacts_cache WHERE number LIKE '1999555000%'")


# ---- /v1/support ------------------------------------------------------------------------

def test_support_facts(api, stack, tokens):
    admin, user = tokens
    r = api.as_token(user).get("/v1/support")
    assert r.status_code == 200, r.text
    s = r.json()["support"]
    assert s["version"] == r.json()["meta"]["version"]
    core, web, db = s["coreapp"], s["webapp"], s["database"]
    assert core["node"] == NODE and web["node"] == NODE
    assert core["pid"] == stack.procs["coreapp"].pid and web["pid"] == stack.procs["webapp"].pid
    assert core["uptime_s"] >= 0 and web["uptime_s"] >= 0
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", core["started_at"])
    assert core["libraries"]["openssl"].startswith("OpenSSL")
    assert db["connected"] is True and db["server_version"].startswith("15")
    assert "001_users.sql" in db["migrations"] and "006_admin.sql" in db["migrations"]
    assert db["size_bytes"] > 0
    reg = s["registration"]
    assert isinstance(reg["registered"], bool)
    assert reg["gateway_status"] in GATEWAY_STATES
    assert set(reg) <= {"registered", "wa_id", "cc", "vname", "updated_at", "gateway_status"}
    assert s["settings_digest"] is None or re.match(r"^sha256:[0-9a-f]{64}$", s["settings_digest"])
    assert web["api_key_configured"] is True
    assert isinstance(core["recent_errors"], list) and isinstance(web["recent_errors"], list)
    # never secrets
    assert stack.api_key not in r.text
    assert stack.admin_password not in r.text and admin not in r.text
    assert stack.psql("SELECT value FROM web_secrets WHERE name = 'jwt_key'") not in r.text
    # the API key is for monitoring only
    err(api.get("/v1/support", apikey=True), 401, 1005)


def test_support_settings_digest_follows_settings(api, stack, tokens):
    if stack.psql("SELECT to_regclass('app_settings') IS NOT NULL") != "t":
        pytest.fail("app_settings table missing: the settings migration (005) is not applied")
    a = api.as_token(tokens[0])
    stack.psql("UPDATE app_settings SET overrides = '{}'")
    d1 = a.get("/v1/support").json()["support"]["settings_digest"]
    stack.psql("""UPDATE app_settings SET overrides = '{"webhooks": {"url": "https://secret.example/x?token=abc"}}'""")
    r = a.get("/v1/support")
    d2 = r.json()["support"]["settings_digest"]
    stack.psql("UPDATE app_settings SET overrides = '{}'")
    assert d1.startswith("sha256:") and d2.startswith("sha256:") and d1 != d2
    assert "secret.example" not in r.text


def test_support_when_coreapp_is_down_lists_recent_errors(api, stack, tokens):
    u = api.as_token(tokens[1])
    stack.kill9("coreapp")
    try:
        err(api.get("/v1/health", apikey=True), 503, 1011)
        r = u.get("/v1/support")
        assert r.status_code == 200, r.text
        s = r.json()["support"]
        assert s["coreapp"]["reachable"] is False and s["coreapp"]["code"] == 1011
        lines = s["webapp"]["recent_errors"]
        assert any("level=warn" in l and "coreapp" in l for l in lines), lines
        assert all("level=warn" in l or "level=error" in l for l in lines), lines
    finally:
        stack.start("coreapp")
        wait_for(lambda: api.get("/v1/health", apikey=True).status_code == 200, 20, "coreapp")


# ---- a real Prometheus server -------------------------------------------------------------

def render_prometheus_yml(stack, ca_file):
    """docs/prometheus.yml with this stack's address, key and CA, scraping every second."""
    with open(os.path.join(REPO, "docs", "prometheus.yml")) as f:
        text = f.read()
    assert "localhost:9090" in text and "CHANGE-ME-WA_API_KEY" in text
    text = text.replace("localhost:9090", "127.0.0.1:%d" % stack.web_port)
    text = text.replace("CHANGE-ME-WA_API_KEY", stack.api_key)
    text = text.replace("/etc/prometheus/wa-webapp.pem", ca_file)
    text = re.sub(r"scrape_interval: \S+", "scrape_interval: 1s", text)
    text = re.sub(r"scrape_timeout: \S+", "scrape_timeout: 1s", text)
    return text


def test_prometheus_scrapes_the_stack(api, stack):
    tmp = tempfile.mkdtemp(prefix="wa-prom-", dir="/tmp")
    prom = None
    try:
        ca_file = os.path.join(tmp, "webapp.pem")
        with open(ca_file, "w") as f:   # the webapp's self-signed certificate, as docs say
            f.write(ssl.get_server_certificate(("127.0.0.1", stack.web_port)))
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(render_prometheus_yml(stack, ca_file))
        check = subprocess.run([PROMTOOL, "check", "config", cfg], capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        port = free_ports(1)[0]
        log = open(os.path.join(tmp, "prometheus.log"), "wb")
        prom = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        base = "http://127.0.0.1:%d" % port

        def targets_up():
            try:
                r = requests.get(base + "/api/v1/targets", timeout=2).json()
            except (requests.RequestException, ValueError):
                return None
            t = r["data"]["activeTargets"]
            jobs = {x["labels"]["job"]: x for x in t}
            return len(jobs) == 3 and all(x["health"] == "up" for x in t) and jobs

        def logs():
            with open(os.path.join(tmp, "prometheus.log"), errors="replace") as f:
                return f.read()[-3000:]
        try:
            jobs = wait_for(targets_up, 30, "every target up")
        except AssertionError:
            raise AssertionError("targets not up: %s\n%s" % (
                requests.get(base + "/api/v1/targets", timeout=2).text, logs()))
        assert set(jobs) == {"wa-webapp", "wa-coreapp", "wa-database"}

        def query(q):
            r = requests.get(base + "/api/v1/query", params={"query": q}, timeout=5).json()
            assert r["status"] == "success", r
            return sum(float(x["value"][1]) for x in r["data"]["result"]), r["data"]["result"]

        q_web = 'api_requests_duration_ms_count{job="wa-webapp",method="GET_v1_health",result="200"}'
        q_core = 'endpoint_requests{job="wa-coreapp",method="health",result="ok"}'
        wait_for(lambda: query(q_web)[1] and query(q_core)[1], 20, "first samples")
        web0, core0 = query(q_web)[0], query(q_core)[0]
        for _ in range(7):
            assert api.get("/v1/health", apikey=True).status_code == 200
        wait_for(lambda: query(q_web)[0] >= web0 + 7 and query(q_core)[0] >= core0 + 7, 20,
                 "scraped counters to grow by 7")
        # the database job's gauges and our lint-clean extras arrive too
        assert query('db_pending_callbacks{job="wa-database"}')[1]
        assert query('wa_webapp_http_request_duration_seconds_count{job="wa-webapp"}')[0] > 0
        assert query('up{job=~"wa-.*"}')[0] == 3
    finally:
        if prom is not None:
            prom.terminate()
            try:
                prom.wait(10)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
