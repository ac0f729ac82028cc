"""Garbage collection of the messages table (spec/API.md §6.3, §14; sql/008_message_gc.sql,
coreapp/message_gc.h).

PUT /v1/services/message/gc deletes exactly the finished messages older than the retention
period (this stack: WA_MESSAGE_RETENTION_DAYS=7); never a message
still accepted, one whose read receipt is still to go, a 'sent' one younger than 30 days, nor
one that a callback not yet acknowledged names. It works in bounded chunks and reports the
count with the documented "service" callback. The automatic collector (every
WA_MESSAGE_GC_INTERVAL_S=1 s here) runs while garbagecollector_enable.messages (and the older
db_garbagecollector_enable) is true and stops when it is set to false.

Rows are aged by UPDATE/INSERT of created_at through psql, so every case is exact."""
import json
import time

import pytest

from hookrecv import Pki, Receiver
from sandbox_client import Sandbox, register
from stack import Stack, wait_for

SETTINGS = "/v1/settings/application"
BUSINESS = "16315550100"
CUSTOMER = "16315551234"
RETENTION_DAYS = 7


@pytest.fixture(scope="module")
def stack():
    """This file's own stack: a 7-day retention and a 1-second automatic collector."""
    st = Stack(extra_env={"WA_MESSAGE_RETENTION_DAYS": str(RETENTION_DAYS),
                          "WA_MESSAGE_GC_INTERVAL_S": "1"})
    try:
        st.start_all()
        st.wait_ready()
        yield st
    finally:
        st.teardown()


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    pki = Pki(str(tmp_path_factory.mktemp("pki")))
    r = Receiver(*pki.server)
    r.pki = pki
    yield r
    r.stop()


@pytest.fixture(scope="module")
def admin(stack, receiver):
    """A registered business whose callbacks go to receiver (retried every 100-300 ms),
    with the automatic collector off until a test turns it on."""
    from conftest import Api
    api = Api(stack)
    api.admin_token()
    sb = Sandbox(stack)
    assert sb.patch("/settings", {"delivery_delay_ms": 0, "auto_read": False}).status_code == 200
    register(api, sb, vname="Acme")
    r = api.post("/v1/certificates/webhooks/ca", data=receiver.pki.ca_pem,
                 headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    patch(api, {"webhooks": {"url": receiver.url}, "callback_backoff_delay_ms": 100,
                "max_callback_backoff_delay_ms": 300,
                "garbagecollector_enable": {"messages": False}})
    sb.customer(CUSTOMER, "Jane")
    return api


def patch(api, body):
    r = api.patch(SETTINGS, json=body)
    assert r.status_code == 200, r.text


def add(stack, msg_id, direction, status, age_days, read_receipt=None):
    """A message row created age_days ago."""
    stack.psql("INSERT INTO messages (id, direction, peer, type, payload, status, created_at,"
                " read_receipt) VALUES ('%s', '%s', '%s', 'text', '{\"text\":{\"body\":\"x\"}}',"
                " '%s', now() - interval '%s days', %s)"
         % (msg_id, direction, CUSTOMER, status, age_days,
            "'%s'" % read_receipt if read_receipt else "NULL"))


def ids(stack, prefix):
    out = stack.psql("SELECT id FROM messages WHERE id LIKE '%s%%' ORDER BY id" % prefix)
    return set(out.split()) if out else set()


def gc_runs(stack, kind):
    return stack.log_text("coreapp").count("message_gc_done kind=%s " % kind)


def put_gc(api):
    r = api.put("/v1/services/message/gc")
    assert r.status_code == 200, r.text
    assert r.json() == {"services": {"message": {"gc": {"status": "processing"}}},
                        "meta": r.json()["meta"]}, r.text


def gc_callbacks(receiver):
    return [b for b in receiver.delivered() if "services" in b]


def wait_gc_callback(receiver, n, timeout=15):
    receiver.wait(lambda r: len([h for h in r.hits if h["status"] == 200
                                 and b'"services"' in h["body"]]) >= n, timeout,
                  "%d gc callbacks" % n)
    return gc_callbacks(receiver)[n - 1]


def test_requested_gc_deletes_exactly_the_finished_old_messages(admin, stack, receiver):
    # A real conversation first: the customer writes, the business answers, it is
    # delivered; both rows are then aged past the retention.
    sb = Sandbox(admin.stack)
    r = sb.post("/customers/%s/messages" % CUSTOMER,
                {"to": BUSINESS, "type": "text", "text": {"body": "hi"}})
    assert r.status_code == 201, r.text
    inbound = r.json()["id"]
    r = admin.post("/v1/messages", json={"to": CUSTOMER, "type": "text",
                                         "text": {"body": "hello"}})
    assert r.status_code == 201, r.text
    outbound = r.json()["messages"][0]["id"]
    wait_for(lambda: stack.psql("SELECT status FROM messages WHERE id = '%s'" % outbound)
             == "delivered", 15, "the answer to be delivered")
    wait_for(lambda: stack.psql("SELECT count(*) FROM wa_callbacks") == "0", 15,
             "the conversation's callbacks to be delivered")
    stack.psql("UPDATE messages SET created_at = now() - interval '8 days'"
                " WHERE id IN ('%s', '%s')" % (inbound, outbound))

    # From here callbacks are refused (503), so those queued stay pending.
    receiver.default = 503
    gone = {"gc1-out-delivered-8d", "gc1-out-read-8d", "gc1-out-failed-8d",
            "gc1-out-sent-31d", "gc1-in-received-8d", "gc1-in-read-8d"}
    kept = {"gc1-out-delivered-6d", "gc1-out-sent-8d", "gc1-out-accepted-100d",
            "gc1-in-read-receipt-pending-8d", "gc1-out-read-8d-status-cb",
            "gc1-out-delivered-8d-context-cb", "gc1-in-received-8d-inbound-cb"}
    add(stack, "gc1-out-delivered-8d", "outbound", "delivered", 8)
    add(stack, "gc1-out-read-8d", "outbound", "read", 8)
    add(stack, "gc1-out-failed-8d", "outbound", "failed", 8)
    add(stack, "gc1-out-sent-31d", "outbound", "sent", 31)
    add(stack, "gc1-in-received-8d", "inbound", "received", 8)
    add(stack, "gc1-in-read-8d", "inbound", "read", 8, read_receipt="sent")
    add(stack, "gc1-out-delivered-6d", "outbound", "delivered", 6)       # too young
    add(stack, "gc1-out-sent-8d", "outbound", "sent", 8)                 # may still be delivered
    add(stack, "gc1-out-accepted-100d", "outbound", "accepted", 100)     # still pending
    add(stack, "gc1-in-read-receipt-pending-8d", "inbound", "read", 8,   # receipt still to go
        read_receipt="pending")
    add(stack, "gc1-out-read-8d-status-cb", "outbound", "read", 8)
    add(stack, "gc1-out-delivered-8d-context-cb", "outbound", "delivered", 8)
    add(stack, "gc1-in-received-8d-inbound-cb", "inbound", "received", 8)
    # callbacks not yet acknowledged that name three of them
    status_cb = {"statuses": [{"id": "gc1-out-read-8d-status-cb", "status": "read",
                               "recipient_id": CUSTOMER, "timestamp": "1700000000"}]}
    inbound_cb = {"contacts": [{"profile": {"name": "Jane"}, "wa_id": CUSTOMER}],
                  "messages": [{"id": "gc1-in-received-8d-inbound-cb", "from": CUSTOMER,
                                "timestamp": "1700000000", "type": "text",
                                "text": {"body": "re"},
                                "context": {"id": "gc1-out-delivered-8d-context-cb"}}]}
    stack.psql("INSERT INTO wa_callbacks (kind, body) VALUES ('status_change', '%s'),"
                " ('inbound_message', '%s')" % (json.dumps(status_cb), json.dumps(inbound_cb)))
    assert ids(stack, "gc1-") == gone | kept

    runs = gc_runs(stack, "requested")
    put_gc(admin)
    wait_for(lambda: gc_runs(stack, "requested") > runs, 15, "the collection to finish")
    assert ids(stack, "gc1-") == kept
    assert stack.psql("SELECT count(*) FROM messages WHERE id IN ('%s', '%s')"
                % (inbound, outbound)) == "0"

    # the completion callback, once the receiver takes callbacks again
    receiver.default = 200
    body = wait_gc_callback(receiver, 1)
    assert body == {"services": [{"message": {"gc": {"messages_deleted": len(gone) + 2,
                                                     "status": "complete"}}}]}, body
    # the pending callbacks are delivered now: what they protected may go
    wait_for(lambda: stack.psql("SELECT count(*) FROM wa_callbacks") == "0", 15,
             "the pending callbacks to be delivered")
    put_gc(admin)
    body = wait_gc_callback(receiver, 2)
    assert body == {"services": [{"message": {"gc": {"messages_deleted": 3,
                                                     "status": "complete"}}}]}, body
    assert ids(stack, "gc1-") == {"gc1-out-delivered-6d", "gc1-out-sent-8d",
                                  "gc1-out-accepted-100d", "gc1-in-read-receipt-pending-8d"}


def test_large_collection_goes_in_bounded_chunks(admin, stack, receiver):
    stack.psql("INSERT INTO messages (id, direction, peer, type, payload, status, created_at)"
                " SELECT 'gc2-' || i, 'outbound', '%s', 'text', '{}', 'delivered',"
                "        now() - interval '9 days' - i * interval '1 second'"
                " FROM generate_series(1, 2500) AS i" % CUSTOMER)
    n = len(gc_callbacks(receiver))
    put_gc(admin)
    body = wait_gc_callback(receiver, n + 1)
    assert body == {"services": [{"message": {"gc": {"messages_deleted": 2500,
                                                     "status": "complete"}}}]}, body
    # 1000 + 1000 + 500: three statements, three transactions
    assert "message_gc_done kind=requested deleted=2500 chunks=3 " in stack.log_text("coreapp")
    assert ids(stack, "gc2-") == set()


def test_chunk_function_is_bounded_and_sees_callbacks_queued_after_the_snapshot(admin, stack):
    """sql/008 on its own, in one session: a chunk deletes at most `batch` rows, and a
    callback queued after the snapshot (id above the mark) still protects its message."""
    for i in range(4):
        add(stack, "gc3-old-%d" % i, "outbound", "delivered", 10)
    out = stack.psql(
               "CREATE TEMP TABLE t AS SELECT wa_message_gc_mark() AS mark;"
               " SELECT wa_message_gc_snapshot((SELECT mark FROM t));"
               " INSERT INTO wa_callbacks (kind, body) VALUES ('status_change',"
               "   '{\"statuses\":[{\"id\":\"gc3-old-3\",\"status\":\"read\"}]}');"
               " SELECT wa_message_gc(%d, 2, (SELECT mark FROM t));"
               " SELECT wa_message_gc(%d, 2, (SELECT mark FROM t));"
               " SELECT wa_message_gc(%d, 2, (SELECT mark FROM t));"
               % (RETENTION_DAYS, RETENTION_DAYS, RETENTION_DAYS))
    assert out.split() == ["0", "2", "1", "0"], out
    assert ids(stack, "gc3-") == {"gc3-old-3"}
    # the retention is a parameter: 11 days keeps what 10 days old, 0 days is "any age"
    add(stack, "gc3-young", "outbound", "read", 0.5)
    out = stack.psql("SELECT wa_message_gc_snapshot(wa_message_gc_mark());"
                      " SELECT wa_message_gc(11, 100, 0);")
    assert out.split()[-1] == "0", out
    wait_for(lambda: stack.psql("SELECT count(*) FROM wa_callbacks") == "0", 15,
             "the status callback to be delivered")
    out = stack.psql("SELECT wa_message_gc_snapshot(wa_message_gc_mark());"
                      " SELECT wa_message_gc(0, 100, 0);")
    assert ids(stack, "gc3-") == set()
    # never accepted, whatever the age
    add(stack, "gc3-accepted", "outbound", "accepted", 0.5)
    stack.psql("SELECT wa_message_gc_snapshot(0); SELECT wa_message_gc(0, 100, 0);")
    assert ids(stack, "gc3-") == {"gc3-accepted"}
    stack.psql("DELETE FROM messages WHERE id = 'gc3-accepted'")


def test_automatic_collection_follows_the_setting(admin, stack, receiver):
    callbacks = len(gc_callbacks(receiver))
    add(stack, "gc4-a", "outbound", "delivered", 8)
    time.sleep(2.5)                              # 2 intervals: nothing runs while off
    assert ids(stack, "gc4-") == {"gc4-a"}
    assert gc_runs(stack, "automatic") == 0

    patch(admin, {"garbagecollector_enable": {"messages": True}})
    wait_for(lambda: ids(stack, "gc4-") == set(), 10, "the automatic collector")
    assert gc_runs(stack, "automatic") >= 1
    # it keeps the same rules
    add(stack, "gc4-young", "outbound", "delivered", 6)
    add(stack, "gc4-accepted", "outbound", "accepted", 30)
    runs = gc_runs(stack, "automatic")
    wait_for(lambda: gc_runs(stack, "automatic") >= runs + 2, 10, "two more automatic runs")
    assert ids(stack, "gc4-") == {"gc4-young", "gc4-accepted"}

    # off again: stops at once
    patch(admin, {"garbagecollector_enable": {"messages": False}})
    time.sleep(0.5)                              # a run already going may finish
    runs = gc_runs(stack, "automatic")
    add(stack, "gc4-b", "outbound", "read", 8)
    time.sleep(2.5)
    assert gc_runs(stack, "automatic") == runs
    assert "gc4-b" in ids(stack, "gc4-")

    # the older switch turns it off too
    patch(admin, {"garbagecollector_enable": {"messages": True}, "db_garbagecollector_enable":
                  False})
    time.sleep(2.5)
    assert gc_runs(stack, "automatic") == runs and "gc4-b" in ids(stack, "gc4-")
    patch(admin, {"db_garbagecollector_enable": True})
    wait_for(lambda: "gc4-b" not in ids(stack, "gc4-"), 10, "the automatic collector")
    # automatic runs are not called back: only requested ones are
    assert len(gc_callbacks(receiver)) == callbacks
    patch(admin, {"garbagecollector_enable": {"messages": False}})
    stack.psql("DELETE FROM messages WHERE id LIKE 'gc4-%'")


def test_gc_without_webhook_url_is_refused(admin, stack, receiver):
    patch(admin, {"webhooks": {"url": ""}})
    try:
        r = admin.put("/v1/services/message/gc")
        assert r.status_code == 400, r.text
        assert [e["code"] for e in r.json()["errors"]] == [1022], r.text
    finally:
        patch(admin, {"webhooks": {"url": receiver.url}})
