"""Callbacks to a real HTTPS receiver (spec/WEBHOOKS.md §1) and the webhook CA
(spec/API.md §4.3-4.5).

The producer is the documented gc service: PUT /v1/services/message/gc answers
"processing" and reports completion with a "service" callback. The receiver
runs in the test with certificates from a throwaway CA that the tests upload
(or not) through the API.
"""
import json
import time

import pytest

from hookrecv import Pki, Receiver, signature

SETTINGS = "/v1/settings/application"
CA = "/v1/certificates/webhooks/ca"
GC_DONE = {"services": [{"message": {"gc": {"messages_deleted": 0, "status": "complete"}}}]}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def admin(api, stack):
    api.admin_token()
    assert api.delete(SETTINGS).status_code == 200
    assert api.delete(CA).status_code == 200
    yield api
    api.delete(SETTINGS)
    api.delete(CA)
    wait_rows(stack, 0, timeout=10)   # nothing left behind for the next test


@pytest.fixture
def receiver(pki):
    r = Receiver(*pki.server)
    yield r
    r.stop()


def patch(api, body):
    r = api.patch(SETTINGS, json=body)
    assert r.status_code == 200, r.text


def upload_ca(api, pem):
    r = api.post(CA, data=pem, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    return r


def use(api, pki, receiver, **extra):
    """Trust the test CA and send callbacks to receiver."""
    upload_ca(api, pki.ca_pem)
    patch(api, {"webhooks": {"url": receiver.url}, **extra})


def gc(api):
    r = api.put("/v1/services/message/gc")
    assert r.status_code == 200, r.text
    assert r.json()["services"] == {"message": {"gc": {"status": "processing"}}}, r.text


def rows(stack):
    return int(stack.psql("SELECT count(*) FROM wa_callbacks"))


def wait_rows(stack, n, timeout=10):
    deadline = time.monotonic() + timeout
    while rows(stack) != n:
        assert time.monotonic() < deadline, "wa_callbacks has %d rows, not %d" % (rows(stack), n)
        time.sleep(0.1)


def wait_log(stack, text, count=1, timeout=10):
    deadline = time.monotonic() + timeout
    while stack.log_text("coreapp").count(text) < count:
        assert time.monotonic() < deadline, "no %r in the coreapp log\n%s" % (
            text, stack.logs_tail(["coreapp"]))
        time.sleep(0.05)


def restart_coreapp(stack, api, env=None, kill=False):
    if kill:
        stack.kill9("coreapp")
    else:
        stack.stop("coreapp")
    stack.start("coreapp", env=env)
    deadline = time.monotonic() + 15
    while api.get(SETTINGS).status_code != 200:
        assert time.monotonic() < deadline, stack.logs_tail(["coreapp"])
        time.sleep(0.2)


# ---- delivery ---------------------------------------------------------------------


def test_gc_completion_is_posted_once_then_its_row_deleted(admin, stack, pki, receiver):
    use(admin, pki, receiver)
    gc(admin)
    assert receiver.wait_delivered(1) == [GC_DONE]
    hit = receiver.hits[0]
    assert hit["path"] == "/hook"
    assert hit["headers"]["Content-Type"] == "application/json"
    assert "X-Hub-Signature-256" not in hit["headers"]      # off by default
    wait_rows(stack, 0)
    time.sleep(0.5)
    assert len(receiver.hits) == 1


def test_gc_needs_a_webhook_url(admin):
    r = admin.put("/v1/services/message/gc")
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["code"] == 1022, r.text


def test_failures_are_retried_with_linear_backoff_then_delivered_once(admin, stack, pki,
                                                                      receiver):
    use(admin, pki, receiver, callback_backoff_delay_ms=400, max_callback_backoff_delay_ms=60000)
    receiver.script = [500, 503, 404]
    stats = admin.get("/v1/stats/app").json()["stats"]["app"]
    before = {(d["labels"]["type"], d["labels"]["result"]): d["value"]
              for d in stats.get("callback_requests", {}).get("data", [])}
    gc(admin)
    receiver.wait_delivered(1, timeout=15)
    times = [h["t"] for h in receiver.hits]
    assert [h["status"] for h in receiver.hits] == [500, 503, 404, 200]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # n-th failure -> retried after n x 400 ms
    for gap, want in zip(gaps, [0.4, 0.8, 1.2]):
        assert want - 0.05 <= gap <= want + 0.6, gaps
    time.sleep(1.0)
    assert len(receiver.hits) == 4          # delivered once, not retried after the 200
    wait_rows(stack, 0)
    wait_log(stack, "result=500 attempt=1 retry_ms=400")
    wait_log(stack, "result=404 attempt=3 retry_ms=1200")
    # what /v1/stats/app shows of it (the stats module renders these)
    want = {("service", "500"): 1, ("service", "503"): 1, ("service", "404"): 1,
            ("service", "success"): 1}
    deadline = time.monotonic() + 5
    while True:
        app = admin.get("/v1/stats/app").json()["stats"]["app"]
        got = {(d["labels"]["type"], d["labels"]["result"]): d["value"]
               for d in app["callback_requests"]["data"]}
        if all(got.get(k, 0) - before.get(k, 0) == v for k, v in want.items()) and \
                app["callback_queue_size"]["data"] == [{"value": 0}]:
            break
        assert time.monotonic() < deadline, (got, before, app["callback_queue_size"])
        time.sleep(0.1)


def test_backoff_is_capped_and_retries_go_on_at_the_cap(admin, pki, receiver):
    use(admin, pki, receiver, callback_backoff_delay_ms=200, max_callback_backoff_delay_ms=500)
    receiver.script = [500] * 5
    gc(admin)
    receiver.wait_delivered(1, timeout=15)
    times = [h["t"] for h in receiver.hits]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) == 5, gaps
    for gap, want in zip(gaps, [0.2, 0.4, 0.5, 0.5, 0.5]):
        assert want - 0.05 <= gap <= want + 0.5, gaps


def test_only_200_is_success_and_redirects_are_not_followed(admin, pki, receiver):
    use(admin, pki, receiver, callback_backoff_delay_ms=100, max_callback_backoff_delay_ms=100)
    receiver.script = [302, 204, 201, 307]
    gc(admin)
    receiver.wait_delivered(1, timeout=10)
    assert [h["status"] for h in receiver.hits] == [302, 204, 201, 307, 200]
    assert all(h["path"] == "/hook" for h in receiver.hits)
    assert receiver.gets == 0                # the Location was never fetched


def test_timeout_is_a_failure(admin, stack, pki, receiver):
    restart_coreapp(stack, admin, env={"WA_WEBHOOK_TIMEOUT_MS": "1000"})
    try:
        use(admin, pki, receiver, callback_backoff_delay_ms=100, max_callback_backoff_delay_ms=100)
        receiver.delay = 1.5
        gc(admin)
        wait_log(stack, "result=timeout attempt=1")
        receiver.delay = 0
        receiver.wait_delivered(1, timeout=10)   # the late 200 of a timed-out try doesn't count
        wait_rows(stack, 0)
    finally:
        restart_coreapp(stack, admin)


# ---- TLS and the webhook CA -------------------------------------------------------


def test_ca_upload_validation_get_and_delete(admin, pki):
    r = admin.get(CA)
    assert r.status_code == 404 and r.content == b"", (r.status_code, r.content)
    for bad in ["", "garbage", pki.key_pem, pki.ca_pem + pki.key_pem,
                pki.ca_pem.replace("MII", "XXX", 1),
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]:
        r = admin.post(CA, data=bad, headers={"Content-Type": "text/plain"})
        assert r.status_code == 400, (bad[:40], r.text)
        assert r.json()["errors"][0]["code"] == 1009, r.text
    assert admin.get(CA).status_code == 404            # nothing stored by a refusal
    bundle = pki.ca_pem + pki.unknown_ca_pem           # several certificates: one bundle
    assert upload_ca(admin, bundle).json() == {"meta": admin.get(SETTINGS).json()["meta"]}
    r = admin.get(CA)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text == bundle
    upload_ca(admin, pki.ca_pem)                       # overwrites
    assert admin.get(CA).text == pki.ca_pem
    r = admin.delete(CA)
    assert r.status_code == 200, r.text
    r = admin.get(CA)
    assert r.status_code == 404 and r.content == b""


def test_unknown_ca_is_refused_until_it_is_uploaded(admin, stack, pki):
    receiver = Receiver(*pki.unknown_server)
    try:
        # a long back-off: the upload itself must trigger the retry
        patch(admin, {"webhooks": {"url": receiver.url}, "callback_backoff_delay_ms": 60000,
                      "max_callback_backoff_delay_ms": 60000})
        upload_ca(admin, pki.ca_pem)                   # the wrong CA
        gc(admin)
        receiver.wait(lambda r: r.tls_failures >= 1, 10, "TLS failure")
        wait_log(stack, "kind=service result=tls_error attempt=1 retry_ms=60000")
        assert receiver.hits == []
        upload_ca(admin, pki.ca_pem + pki.unknown_ca_pem)
        assert receiver.wait_delivered(1, timeout=5) == [GC_DONE]
        wait_rows(stack, 0)
        # and deleting it takes effect at once too
        assert admin.delete(CA).status_code == 200
        gc(admin)
        wait_log(stack, "kind=service result=tls_error attempt=1", count=2)
        assert len(receiver.hits) == 1
        upload_ca(admin, pki.unknown_ca_pem)           # the CA alone is enough
        assert receiver.wait_delivered(2, timeout=5) == [GC_DONE] * 2
    finally:
        receiver.stop()


# ---- signing --------------------------------------------------------------------


def test_signature_header_from_the_setting(admin, pki, receiver):
    use(admin, pki, receiver)
    patch(admin, {"webhooks": {"secret": "s3cret-for-tests"}})
    gc(admin)
    receiver.wait_delivered(1)
    hit = receiver.hits[0]
    assert hit["headers"]["X-Hub-Signature-256"] == signature("s3cret-for-tests", hit["body"])
    assert json.loads(hit["body"]) == GC_DONE
    patch(admin, {"webhooks": {"secret": ""}})
    gc(admin)
    receiver.wait_delivered(2)
    assert "X-Hub-Signature-256" not in receiver.hits[1]["headers"]


def test_signature_from_the_environment_and_the_setting_wins(admin, stack, pki, receiver):
    restart_coreapp(stack, admin, env={"WA_WEBHOOK_SECRET": "from-the-env"})
    try:
        use(admin, pki, receiver)
        gc(admin)
        receiver.wait_delivered(1)
        hit = receiver.hits[0]
        assert hit["headers"]["X-Hub-Signature-256"] == signature("from-the-env", hit["body"])
        patch(admin, {"webhooks": {"secret": "from-the-api"}})
        gc(admin)
        receiver.wait_delivered(2)
        hit = receiver.hits[1]
        assert hit["headers"]["X-Hub-Signature-256"] == signature("from-the-api", hit["body"])
        assert "from-the-env" not in stack.log_text("coreapp")
    finally:
        restart_coreapp(stack, admin)


# ---- concurrency ----------------------------------------------------------------


def test_max_concurrent_requests_is_respected(admin, pki, receiver):
    use(admin, pki, receiver)                 # default: 6
    receiver.delay = 0.6
    for _ in range(14):
        gc(admin)
    receiver.wait_delivered(14, timeout=20)
    assert receiver.max_in_flight == 6, receiver.max_in_flight
    # connections are kept alive and reused: no more than the limit were opened
    assert len({h["conn"] for h in receiver.hits}) <= 6, receiver.hits
    # raised at run time, no restart
    patch(admin, {"webhooks": {"max_concurrent_requests": 12}})
    receiver.max_in_flight = 0
    for _ in range(24):
        gc(admin)
    receiver.wait_delivered(38, timeout=20)
    assert receiver.max_in_flight == 12, receiver.max_in_flight


# ---- persistence ----------------------------------------------------------------


def test_pending_callbacks_survive_kill9(admin, stack, pki, receiver):
    use(admin, pki, receiver, callback_backoff_delay_ms=200, max_callback_backoff_delay_ms=1000)
    receiver.default = 500
    for _ in range(5):
        gc(admin)
    receiver.wait(lambda r: len(r.hits) >= 5, 10, "first attempts")
    assert rows(stack) == 5
    stack.kill9("coreapp")
    receiver.default = 200
    hits_before = len(receiver.hits)
    restart_coreapp(stack, admin)
    bodies = receiver.wait_delivered(5, timeout=15)
    assert bodies == [GC_DONE] * 5
    wait_rows(stack, 0)
    time.sleep(1.0)
    assert len(receiver.delivered()) == 5     # none lost, none twice
    assert len(receiver.hits) - hits_before <= 5 + 5   # at most one 500 each in between


def test_pending_callbacks_survive_a_postgresql_restart(admin, stack, pki, receiver):
    use(admin, pki, receiver, callback_backoff_delay_ms=200, max_callback_backoff_delay_ms=500)
    receiver.default = 500
    for _ in range(3):
        gc(admin)
    receiver.wait(lambda r: len(r.hits) >= 3, 10, "first attempts")
    assert rows(stack) == 3
    stack.pg_stop()
    receiver.default = 200
    # delivered from memory while the database is away...
    assert receiver.wait_delivered(3, timeout=10) == [GC_DONE] * 3
    stack.pg_start()
    # ...and their rows deleted once it is back
    wait_rows(stack, 0, timeout=15)
    assert stack.running("coreapp")
    time.sleep(0.5)
    assert len(receiver.delivered()) == 3


def test_without_callback_persist_callbacks_live_in_memory(admin, stack, pki, receiver):
    use(admin, pki, receiver, callback_persist=False, callback_backoff_delay_ms=200,
        max_callback_backoff_delay_ms=200)
    receiver.default = 500
    gc(admin)
    gc(admin)
    receiver.wait(lambda r: len(r.hits) >= 4, 10, "retries")
    assert rows(stack) == 0                   # pending, but not in the table
    receiver.default = 200
    assert receiver.wait_delivered(2, timeout=5) == [GC_DONE] * 2


def test_rows_inserted_by_another_producer_are_delivered(admin, stack, pki, receiver):
    """The producers' API: a row inserted in the producer's own transaction
    (here by psql, as WEBHOOKS_INSERT_SQL) is delivered after COMMIT only."""
    use(admin, pki, receiver)
    body = '{"statuses":[{"id":"gBGGtest","recipient_id":"16315551234","status":"read",' \
           '"timestamp":"1629293100"}]}'
    stack.psql("BEGIN; INSERT INTO wa_callbacks (kind, body) VALUES ('status_change', '%s'); "
                "ROLLBACK" % body)
    stack.psql("INSERT INTO wa_callbacks (kind, body) VALUES ('status_change', '%s')" % body)
    receiver.wait_delivered(1)
    assert receiver.hits[0]["body"] == body.encode()   # byte for byte
    time.sleep(0.5)
    assert len(receiver.hits) == 1
    wait_rows(stack, 0)
