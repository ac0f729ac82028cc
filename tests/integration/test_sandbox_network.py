"""The sandbox's rules for messages (spec/SANDBOX.md), seen through the real stack: the
customer's view, acks and delivery, reads, the 24-hour window, templates, numbers not on
WhatsApp, settings and the control API's own errors. (What the business's webhooks show
is the messaging tests' business; here the sandbox's side is checked.)"""
import concurrent.futures
import json
import os
import time

import pytest

from sandbox_client import Sandbox, register
from stack import wait_for

BIZ = "16315550100"


@pytest.fixture(scope="module")
def sbm(stack):
    return Sandbox(stack)


@pytest.fixture
def admin(api, sbm):
    api.admin_token()
    if not getattr(sbm, "registered", False):
        assert sbm.patch("/settings", {"delivery_delay_ms": 0}).status_code == 200
        register(api, sbm)
        sbm.registered = True
    return api


def received(sb, wa_id):
    r = sb.get("/customers/%s/messages" % wa_id)
    assert r.status_code == 200, r.text
    return r.json()["messages"]


def send(api, body):
    r = api.post("/v1/messages", json=body)
    assert r.status_code == 201, r.text
    return r.json()["messages"][0]["id"]


def test_window_delivery_and_read(admin, sbm):
    sbm.customer("16315551002", "Jane")
    before = sbm.stats()
    # no message from Jane yet: a free-form message fails (470), nothing reaches her
    send(admin, {"to": "16315551002", "type": "text", "text": {"body": "too early"}})
    wait_for(lambda: sbm.stats()["messages"]["failed"] == before["messages"]["failed"] + 1)
    assert received(sbm, "16315551002") == []
    # Jane writes: the window opens
    r = sbm.post("/customers/16315551002/messages",
                 {"to": BIZ, "type": "text", "text": {"body": "hi"}})
    assert r.status_code == 201 and r.json()["id"], r.text
    mid = send(admin, {"to": "16315551002", "type": "text", "text": {"body": "hello Jane"}})
    got = wait_for(lambda: received(sbm, "16315551002"))
    assert got == [{"id": mid, "from": BIZ, "timestamp": got[0]["timestamp"], "type": "text",
                    "text": {"body": "hello Jane"}, "status": "delivered"}]
    r = sbm.post("/customers/16315551002/read", {"id": mid})
    assert r.status_code == 200, r.text
    assert received(sbm, "16315551002")[0]["status"] == "read"
    after = sbm.stats()
    assert after["messages"]["received"] == before["messages"]["received"] + 2
    assert after["messages"]["delivered"] == before["messages"]["delivered"] + 1
    assert after["messages"]["read"] == before["messages"]["read"] + 1
    assert after["sent_to_businesses"] == before["sent_to_businesses"] + 1
    # closing the window again
    assert sbm.post("/customers/16315551002/close-window").status_code == 200
    send(admin, {"to": "16315551002", "type": "text", "text": {"body": "late"}})
    wait_for(lambda: sbm.stats()["messages"]["failed"] == after["messages"]["failed"] + 1)
    assert len(received(sbm, "16315551002")) == 1


def test_template_outside_the_window(admin, sbm):
    r = sbm.post("/templates", {"namespace": "ns1", "name": "welcome", "language": "en",
                                "components": [{"type": "BODY", "text": "Hi {{1}}, code {{2}}"}]})
    assert r.status_code == 201, r.text
    assert any(t["name"] == "welcome" for t in sbm.get("/templates").json()["templates"])
    sbm.customer("16315551010", "Tom")
    tpl = {"namespace": "ns1", "name": "welcome", "language": {"policy": "deterministic", "code": "en"},
           "components": [{"type": "body", "parameters": [{"type": "text", "text": "Tom"},
                                                          {"type": "text", "text": "42"}]}]}
    mid = send(admin, {"to": "16315551010", "type": "template", "template": tpl})
    got = wait_for(lambda: received(sbm, "16315551010"))
    assert got[0]["id"] == mid and got[0]["rendered"] == "Hi Tom, code 42"
    assert got[0]["template"]["name"] == "welcome"
    failed = sbm.stats()["messages"]["failed"]
    wrong = dict(tpl, name="nope")
    send(admin, {"to": "16315551010", "type": "template", "template": wrong})
    short = dict(tpl, components=[{"type": "body", "parameters": [{"type": "text", "text": "x"}]}])
    send(admin, {"to": "16315551010", "type": "template", "template": short})
    wait_for(lambda: sbm.stats()["messages"]["failed"] == failed + 2)
    assert len(received(sbm, "16315551010")) == 1


def test_not_on_whatsapp_fails(admin, sbm):
    sbm.customer("16315551099", "Nobody", on_whatsapp=False)
    failed = sbm.stats()["messages"]["failed"]
    send(admin, {"to": "16315551099", "type": "text", "text": {"body": "hello?"}})
    wait_for(lambda: sbm.stats()["messages"]["failed"] == failed + 1)
    assert received(sbm, "16315551099") == []


def test_auto_read_and_delay(admin, sbm):
    sbm.customer("16315551020", "Ann")
    sbm.post("/customers/16315551020/messages", {"to": BIZ, "type": "text", "text": {"body": "yo"}})
    assert sbm.patch("/settings", {"delivery_delay_ms": 300, "auto_read": True}).json() == {
        "delivery_delay_ms": 300, "auto_read": True, "code_ttl_s": 600, "keep_messages": 50000}
    mid = send(admin, {"to": "16315551020", "type": "text", "text": {"body": "later"}})
    time.sleep(0.1)
    assert received(sbm, "16315551020") == []          # not delivered before the delay
    got = wait_for(lambda: received(sbm, "16315551020"))
    assert got[0]["id"] == mid and got[0]["status"] == "read"
    sbm.patch("/settings", {"delivery_delay_ms": 0, "auto_read": False})


def test_control_api_errors(sbm):
    def err(r, status):
        assert r.status_code == status, r.text
        assert r.json()["error"]["message"]
    err(sbm.patch("/settings", {"delivery_delay_ms": -1}), 400)
    err(sbm.patch("/settings", {"auto_read": "yes"}), 400)
    err(sbm.patch("/settings", {"colour": "blue"}), 400)
    for bad in (0, -5, "10", 1.5, None, 100000001):
        err(sbm.patch("/settings", {"keep_messages": bad}), 400)
    assert sbm.get("/settings").json()["keep_messages"] == 50000   # nothing changed
    err(sbm.post("/certs", {"cc": "1", "phone_number": "12", "vname": "X"}), 400)
    err(sbm.post("/certs", {"cc": "1", "phone_number": "6315550100"}), 400)
    err(sbm.post("/customers", {"wa_id": "12"}), 400)
    err(sbm.post("/customers", {"wa_id": "16315551002", "on_whatsapp": "no"}), 400)
    err(sbm.get("/registrations/19999999999"), 404)
    err(sbm.post("/customers/16315551002/messages", {"to": "19999999999", "type": "text",
                                                     "text": {"body": "x"}}), 404)
    err(sbm.post("/customers/16315551002/messages", {"to": BIZ, "type": "text"}), 400)
    err(sbm.post("/customers/16315551002/read", {"id": "nope"}), 404)
    err(sbm.post("/templates", {"name": "x"}), 400)
    err(sbm.get("/nowhere"), 404)
    err(sbm.request("DELETE", "/stats"), 405)
    r = sbm.request("POST", "/customers", data="not json")
    err(r, 400)


def test_state_survives_restart(admin, sbm, stack):
    before = sbm.stats()
    stack.restart("sandbox")
    stack.wait_ready()
    assert sbm.stats() == before
    assert received(sbm, "16315551002")[0]["text"] == {"body": "hello Jane"}
    assert any(t["name"] == "welcome" for t in sbm.get("/templates").json()["templates"])
    assert sbm.get("/customers/16315551099").json()["on_whatsapp"] is False


def outbox_journal(stack):
    """The sandbox's status events as its journal has them: [(eid, frame)] of each put,
    and the eids deleted (confirmed by the business), in journal order."""
    puts, confirmed = [], set()
    with open(os.path.join(stack.tmp, "sandbox", "state.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            if rec["c"] != "outbox":
                continue
            if rec.get("d"):
                confirmed.add(rec["k"])
            else:
                puts.append((rec["k"], json.loads(rec["v"]["frame"])))
    return puts, confirmed


def test_statuses_of_one_turn_travel_as_one_event(admin, sbm, stack):
    """What the network has to tell a business in one turn of its loop (here: the
    statuses of messages sent together) leaves as one status event, journalled, kept and
    confirmed once, instead of one per message. Every message still gets each of its
    statuses, in order, and every event is confirmed."""
    sbm.customer("16315551040", "Lee")
    assert sbm.post("/customers/16315551040/messages",
                    {"to": BIZ, "type": "text", "text": {"body": "hi"}}).status_code == 201
    token = admin.session.headers["Authorization"].split()[1]
    clients = [admin.as_token(token) for _ in range(16)]
    with concurrent.futures.ThreadPoolExecutor(len(clients)) as pool:
        ids = list(pool.map(lambda k: send(clients[k % len(clients)], {
            "to": "16315551040", "type": "text", "text": {"body": "together %d" % k}}),
            range(64)))
    for c in clients[1:]:
        c.session.close()
    wait_for(lambda: admin.stack.psql(
        "SELECT count(*) FROM messages WHERE status = 'delivered' AND id IN (%s)"
        % ",".join("'%s'" % i for i in ids)) == "64", 15, "all 64 delivered in the database")

    def all_confirmed():
        puts, confirmed = outbox_journal(stack)
        mine = [(eid, f) for eid, f in puts if f["t"] == "status" and
                any(s["id"] in ids for s in f.get("statuses", [f.get("status")]))]
        return (puts, mine) if all(eid in confirmed for eid, _ in mine) else None
    puts, mine = wait_for(all_confirmed, 10, "every status event confirmed")
    seen = {}
    for eid, frame in mine:
        assert frame["eid"] == eid
        for st in frame.get("statuses", [frame.get("status")]):
            seen.setdefault(st["id"], []).append(st["status"])
    assert seen == {i: ["sent", "delivered"] for i in ids}
    # 64 messages from 16 connections at once: fewer events than messages
    assert len(mine) < len(ids), [len(f.get("statuses", [1])) for _, f in mine]
    assert max(len(f.get("statuses", [1])) for _, f in mine) > 2


def test_keep_messages_bounds_what_the_network_remembers(admin, sbm):
    """(Last in this file: it makes the network forget the earlier tests' messages.)
    The newest keep_messages messages of each direction are kept; the counts in
    /stats still include the forgotten ones (memory's cost: about 4 KB a message, so
    the default of 50,000 holds some 200 MB)."""
    sbm.customer("16315551030", "Kim")
    assert sbm.post("/customers/16315551030/messages",
                    {"to": BIZ, "type": "text", "text": {"body": "hi"}}).status_code == 201
    before = sbm.stats()["messages"]
    assert sbm.patch("/settings", {"keep_messages": 3}).json()["keep_messages"] == 3
    try:
        ids = [send(admin, {"to": "16315551030", "type": "text", "text": {"body": "m%d" % i}})
               for i in range(6)]
        wait_for(lambda: sbm.stats()["messages"]["delivered"] - before["delivered"] == 6)
        # the business records each status and confirms it: then the older ones go
        got = wait_for(lambda: (lambda g: g if [m["id"] for m in g] == ids[-3:] else None)(
            received(sbm, "16315551030")), 10, "only the newest three remembered")
        assert [m["text"]["body"] for m in got] == ["m3", "m4", "m5"]
        assert all(set(m) == {"id", "from", "timestamp", "type", "text", "status"} for m in got)
        # a forgotten message can't be read any more; a remembered one can
        r = sbm.post("/customers/16315551030/read", {"id": ids[0]})
        assert r.status_code == 404, r.text
        assert sbm.post("/customers/16315551030/read", {"id": ids[5]}).status_code == 200
        # inbound messages are bounded the same way: the customer keeps writing, all arrive
        sent = sbm.stats()["sent_to_businesses"]
        for i in range(5):
            assert sbm.post("/customers/16315551030/messages", {
                "to": BIZ, "type": "text", "text": {"body": "in %d" % i}}).status_code == 201
        assert sbm.stats()["sent_to_businesses"] == sent + 5
    finally:
        assert sbm.patch("/settings", {"keep_messages": 50000}).status_code == 200
